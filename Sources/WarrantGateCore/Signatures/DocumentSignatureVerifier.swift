import Crypto
import Foundation
import SwiftASN1
import X509

/// Checks a document's digital signature when it is registered (issue 23): a PDF's embedded PAdES signature, or a
/// detached CMS signature (`.p7s`, DER or PEM) over any file.
///
/// The document must match the signature byte for byte, and the signer must chain to a court of `courts.yaml` at the
/// time of registration, or at an earlier time that an RFC 3161 token from one of the court's time-stamping
/// authorities proves. See ``DocumentSignatureStatus`` for what each outcome means to the caller.
public struct DocumentSignatureVerifier: Sendable {
    /// Larger documents are not checked (the caller should not read more than this).
    public static let maximumDocumentSize = 256 << 20
    /// The PDF SubFilters whose /Contents is a detached CMS signature over the byte range.
    static let detachedSubFilters: Set<String> = ["adbe.pkcs7.detached", "ETSI.CAdES.detached"]

    public let courts: CourtDirectory

    public init(courts: CourtDirectory) {
        self.courts = courts
    }

    /// With `detachedSignature`, verifies it over the document's bytes (whatever the document is, an embedded
    /// signature included); without, verifies a PDF's embedded signature, and calls anything else unsigned.
    public func verify(document: [UInt8], detachedSignature: [UInt8]? = nil, at now: Date = Date()) async -> DocumentSignatureStatus {
        guard document.count <= Self.maximumDocumentSize else {
            return .invalid(reason: "the document is larger than \(Self.maximumDocumentSize) bytes")
        }
        if let detachedSignature {
            let signature: [UInt8]
            switch Self.unarmored(detachedSignature) {
            case .success(let bytes): signature = bytes
            case .failure(let error): return .invalid(reason: error.description)
            }
            return await verify(signature: signature, content: [document[...]], encapsulatedContentAllowed: true, now: now)
        }
        guard PDFSignatureExtractor.isPDF(document) else { return .unsigned }
        let extraction: PDFSignatureExtraction
        do {
            extraction = try PDFSignatureExtractor.extract(document)
        } catch let error as PDFSyntaxError {
            return .invalid(reason: error.description)
        } catch {
            return .invalid(reason: "the PDF cannot be read")
        }
        switch extraction {
        case .unsigned:
            return .unsigned
        case .signed(let field, let earlier, let unchecked):
            let last = await verify(field, in: document, unchecked: unchecked, now: now)
            guard !earlier.isEmpty else { return last }
            // Every signature a reader shows must count, so that "verified" never stands beside a forged or broken
            // one; the status names the last signer, whose signature covers the others.
            let count = earlier.count + 1
            var problems: [DocumentSignatureStatus] = []
            for (index, signature) in earlier.enumerated() {
                let status = await verify(signature, in: document, unchecked: nil, now: now)
                if let problem = status.problem(of: "signature \(index + 1) of \(count)") { problems.append(problem) }
            }
            if let problem = last.problem(of: "the last of \(count) signatures") { problems.append(problem) }
            // A broken signature anywhere makes the document invalid; otherwise the first that cannot count says why.
            return problems.first { if case .invalid = $0 { true } else { false } } ?? problems.first ?? last
        }
    }

    /// The status of one of a PDF's signatures, `field`; `unchecked` says why part of what was appended after it could
    /// not be checked, if it could not.
    private func verify(_ field: PDFSignatureField, in document: [UInt8], unchecked: String?, now: Date) async -> DocumentSignatureStatus {
        guard let subFilter = field.subFilter, Self.detachedSubFilters.contains(subFilter) else {
            return .unverified(reason: "signature format /SubFilter /\(field.subFilter ?? "(none)") is not supported", signer: nil)
        }
        let status = await verify(signature: field.contents, content: field.signedRanges.map { document[$0] }, encapsulatedContentAllowed: false, now: now)
        // An intact signature over a file whose later additions cannot all be read proves nothing about them.
        guard let unchecked, case .verified(let verified) = status else { return status }
        return .unverified(reason: "\(unchecked): the signature cannot be verified", signer: verified.signer)
    }

    private func verify(signature: [UInt8], content: [ArraySlice<UInt8>], encapsulatedContentAllowed: Bool, now: Date) async -> DocumentSignatureStatus {
        let message: CMSSignedMessage
        do {
            message = try CMSSignedMessage(berEncoded: signature[...])
        } catch {
            return .invalid(reason: "malformed CMS signature: \(error)")
        }
        if let encapsulated = message.content {
            guard encapsulatedContentAllowed else { return .invalid(reason: "the PDF's signature encapsulates content instead of signing the byte range") }
            guard encapsulated.elementsEqual(content.joined()) else {
                return .invalid(reason: "the signature encapsulates another document")
            }
        }
        switch CMSSignatureCheck.check(message, content: content, expectedContentType: CMSObjectIdentifier.data) {
        case .broken(let reason):
            return .invalid(reason: reason)
        case .unsupported(let reason, let signer):
            return .unverified(reason: reason, signer: signer.map(Self.identity))
        case .intact(let intact):
            switch await SignerTrust(courts: courts).evaluate(intact, now: now) {
            case .untrusted(let reason):
                return .unverified(reason: reason, signer: Self.identity(intact.signer))
            case .trusted(let court, let proof, let checkedAt):
                return .verified(
                    VerifiedSignature(
                        signer: Self.identity(intact.signer), court: court.reference,
                        signingTime: SigningTime(claimed: intact.claimedSigningTime, proven: proof), chainCheckedAt: checkedAt
                    )
                )
            }
        }
    }

    /// The names are the scan's to choose, and are recorded and shown: their control and format characters (a NUL
    /// that would end the name early where it is stored, a bidi override) are escaped.
    static func identity(_ certificate: Certificate) -> SignerIdentity {
        var serializer = DER.Serializer()
        let fingerprint = (try? serializer.serialize(certificate)).map { Hex.encode(SHA256.hash(data: serializer.serializedBytes)) } ?? ""
        return SignerIdentity(
            subject: FreeText.escaped(certificate.subject.description), issuer: FreeText.escaped(certificate.issuer.description),
            serial: Hex.encode(certificate.serialNumber.bytes),
            certificateSHA256: fingerprint
        )
    }

    /// DER as given, or the DER of a PEM `PKCS7` or `CMS` block.
    static func unarmored(_ signature: [UInt8]) -> Result<[UInt8], CMSFormatError> {
        guard signature.starts(with: Array("-----BEGIN ".utf8)) else { return .success(signature) }
        guard signature.count <= CMSSignedMessage.maximumSize * 2,
            let document = try? PEMDocument(pemString: String(decoding: signature, as: UTF8.self)),
            ["PKCS7", "CMS"].contains(document.discriminator)
        else { return .failure(CMSFormatError("malformed CMS signature: not DER, nor a PEM PKCS7 or CMS block")) }
        return .success(document.derBytes)
    }
}

private extension DocumentSignatureStatus {
    /// This status with its reason said to be about `which` of a PDF's signatures; nil if it is verified.
    func problem(of which: String) -> DocumentSignatureStatus? {
        switch self {
        case .verified: nil
        case .unverified(let reason, let signer): .unverified(reason: "\(which): \(reason)", signer: signer)
        case .invalid(let reason): .invalid(reason: "\(which): \(reason)")
        case .unsigned: .invalid(reason: "\(which) is not a signature")
        }
    }
}
