import Crypto
import Foundation
import SwiftASN1
import X509

/// The cryptographic verdict on one CMS signature over some content, before any question of trust.
enum CMSSignatureCheck {
    /// Made by the signer's key over exactly this content.
    case intact(IntactSignature)
    /// Possibly valid, but not checkable here: an algorithm that cannot be verified, several signers, or no signer
    /// certificate.
    case unsupported(reason: String, signer: Certificate?)
    /// Malformed, tampered, or over other content: the document must not be registered as signed.
    case broken(reason: String)

    /// Checks `message` over `content` (the parts in order, as for a PDF's two byte ranges).
    ///
    /// With signed attributes (RFC 5652 §5.4), the content-type attribute must be `expectedContentType`, the
    /// message-digest attribute must equal the digest of the content, and the signature must verify over the
    /// attributes' DER; without them, the signature must verify over the content itself. `rsaEncryption` and
    /// `id-ecPublicKey` as signature algorithms are normalised to the PKCS #1 v1.5 or ECDSA algorithm of the digest.
    static func check(_ message: CMSSignedMessage, content: [ArraySlice<UInt8>], expectedContentType: ASN1ObjectIdentifier) -> CMSSignatureCheck {
        guard message.contentType == expectedContentType else {
            return .broken(reason: "the signature's content type is \(message.contentType), not \(expectedContentType)")
        }
        guard let signerInfo = message.signers.first else { return .broken(reason: "the signature has no signer") }
        guard message.signers.count == 1 else {
            return .unsupported(reason: "the signature has \(message.signers.count) signers; only single-signer signatures are verified", signer: nil)
        }
        guard let certificate = signerInfo.certificate(in: message.certificates) else {
            return .unsupported(reason: "the signature does not include the signer's certificate", signer: nil)
        }
        guard let digest = DigestAlgorithm(signerInfo.digestAlgorithm) else {
            return .unsupported(reason: "digest algorithm \(signerInfo.digestAlgorithm) cannot be verified (SHA-256, -384 and -512 can)", signer: certificate)
        }
        let signedBytes: [UInt8]
        let claimedSigningTime: Date?
        if let attributes = signerInfo.signedAttributes, let attributesDER = signerInfo.signedAttributesDER {
            do {
                guard let contentType = try attributes.single(CMSObjectIdentifier.contentType, "content-type"),
                    try ASN1ObjectIdentifier(derEncoded: contentType) == expectedContentType
                else { return .broken(reason: "the signed content-type attribute is missing or wrong") }
                guard let messageDigest = try attributes.single(CMSObjectIdentifier.messageDigest, "message-digest") else {
                    return .broken(reason: "the signed attributes hold no message digest")
                }
                guard try CMSSignedMessage.octets(messageDigest, "message digest") == digest.hash(content) else {
                    return .broken(reason: "the document does not match the signature: it was altered after signing, or the signature is over another document")
                }
                claimedSigningTime = try attributes.single(CMSObjectIdentifier.signingTime, "signing-time").map(ASN1Time.date)
            } catch {
                return .broken(reason: "malformed signed attributes (\(error))")
            }
            signedBytes = attributesDER
        } else {
            guard expectedContentType == CMSObjectIdentifier.data else {
                return .broken(reason: "the signature has no signed attributes")
            }
            signedBytes = content.flatMap { $0 }
            claimedSigningTime = nil
        }
        guard let algorithm = SignatureAlgorithmNormalisation.algorithm(signerInfo.signatureAlgorithm, digest: digest) else {
            return .unsupported(reason: "signature algorithm \(SignatureAlgorithmNormalisation.name(signerInfo.signatureAlgorithm)) cannot be verified", signer: certificate)
        }
        guard certificate.publicKey.isValidSignature(signerInfo.signature, for: signedBytes, signatureAlgorithm: algorithm) else {
            return .broken(reason: "the signature value does not verify with the signer's key: the signature or the signed attributes were altered")
        }
        return .intact(
            IntactSignature(
                signer: certificate, certificates: message.certificates, claimedSigningTime: claimedSigningTime,
                signatureValue: signerInfo.signature, unsignedAttributes: signerInfo.unsignedAttributes
            )
        )
    }
}

/// A signature whose cryptography checked out: who made it, and what it carries besides.
struct IntactSignature {
    let signer: Certificate
    /// The certificates the signature carries: untrusted intermediates for building the signer's chain.
    let certificates: [Certificate]
    /// The signer's own claim of when it signed.
    let claimedSigningTime: Date?
    /// The signature value, which an RFC 3161 token's message imprint hashes.
    let signatureValue: [UInt8]
    let unsignedAttributes: CMSAttributes
}

/// The message digests a signature may use. SHA-1 and MD5 are not among them: they no longer prove a document.
enum DigestAlgorithm {
    case sha256, sha384, sha512

    init?(_ oid: ASN1ObjectIdentifier) {
        switch oid {
        case [2, 16, 840, 1, 101, 3, 4, 2, 1]: self = .sha256
        case [2, 16, 840, 1, 101, 3, 4, 2, 2]: self = .sha384
        case [2, 16, 840, 1, 101, 3, 4, 2, 3]: self = .sha512
        default: return nil
        }
    }

    func hash(_ parts: [ArraySlice<UInt8>]) -> [UInt8] {
        switch self {
        case .sha256: Self.hash(parts, into: SHA256())
        case .sha384: Self.hash(parts, into: SHA384())
        case .sha512: Self.hash(parts, into: SHA512())
        }
    }

    private static func hash<H: HashFunction>(_ parts: [ArraySlice<UInt8>], into hasher: H) -> [UInt8] {
        var hasher = hasher
        for part in parts { hasher.update(data: part) }
        return Array(hasher.finalize())
    }
}

/// Maps a SignerInfo's signature algorithm to one swift-certificates verifies.
///
/// `openssl cms` and iText write `rsaEncryption` (the key's algorithm) where RFC 5754 expects
/// `sha256WithRSAEncryption`; Microsoft tools write `id-ecPublicKey`. Both mean PKCS #1 v1.5 or ECDSA with the
/// SignerInfo's digest algorithm. RSA-PSS, DSA and SHA-1 algorithms are not verifiable here.
enum SignatureAlgorithmNormalisation {
    static let rsaEncryption: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 1, 1]
    static let rsassaPSS: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 1, 10]
    static let ecPublicKey: ASN1ObjectIdentifier = [1, 2, 840, 10045, 2, 1]

    static func algorithm(_ oid: ASN1ObjectIdentifier, digest: DigestAlgorithm) -> Certificate.SignatureAlgorithm? {
        switch oid {
        case rsaEncryption:
            switch digest {
            case .sha256: .sha256WithRSAEncryption
            case .sha384: .sha384WithRSAEncryption
            case .sha512: .sha512WithRSAEncryption
            }
        case ecPublicKey:
            switch digest {
            case .sha256: .ecdsaWithSHA256
            case .sha384: .ecdsaWithSHA384
            case .sha512: .ecdsaWithSHA512
            }
        case [1, 2, 840, 113549, 1, 1, 11]: .sha256WithRSAEncryption
        case [1, 2, 840, 113549, 1, 1, 12]: .sha384WithRSAEncryption
        case [1, 2, 840, 113549, 1, 1, 13]: .sha512WithRSAEncryption
        case [1, 2, 840, 10045, 4, 3, 2]: .ecdsaWithSHA256
        case [1, 2, 840, 10045, 4, 3, 3]: .ecdsaWithSHA384
        case [1, 2, 840, 10045, 4, 3, 4]: .ecdsaWithSHA512
        case [1, 3, 101, 112]: .ed25519
        default: nil
        }
    }

    /// A readable name for the algorithms that are refused, else the OID.
    static func name(_ oid: ASN1ObjectIdentifier) -> String {
        switch oid {
        case rsassaPSS: "RSASSA-PSS"
        case [1, 2, 840, 113549, 1, 1, 5]: "sha1WithRSAEncryption"
        case [1, 2, 840, 10045, 4, 1]: "ecdsa-with-SHA1"
        default: "\(oid)"
        }
    }
}

/// ASN.1 UTCTime and GeneralizedTime values as dates.
enum ASN1Time {
    static func date(_ node: ASN1Node) throws -> Date {
        var components = DateComponents()
        var fraction = 0.0
        switch node.identifier {
        case .utcTime:
            let time = try UTCTime(derEncoded: node)
            (components.year, components.month, components.day) = (time.year, time.month, time.day)
            (components.hour, components.minute, components.second) = (time.hours, time.minutes, time.seconds)
        case .generalizedTime:
            let time = try GeneralizedTime(derEncoded: node)
            (components.year, components.month, components.day) = (time.year, time.month, time.day)
            (components.hour, components.minute, components.second) = (time.hours, time.minutes, time.seconds)
            fraction = time.fractionalSeconds
        default:
            throw CMSFormatError("a time is neither UTCTime nor GeneralizedTime")
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        guard let date = calendar.date(from: components) else { throw CMSFormatError("a time is out of range") }
        return date.addingTimeInterval(fraction)
    }
}
