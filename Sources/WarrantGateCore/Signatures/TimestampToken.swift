import Foundation
import SwiftASN1
import X509

/// RFC 3161 time-stamp tokens carried as a signature's `id-aa-signatureTimeStampToken` unsigned attribute
/// (RFC 3161 Appendix A): proof from a time-stamping authority that the signature value existed at a time.
enum TimestampToken {
    /// How far in the future a token's time may lie, for clock skew between the authority and this host.
    static let allowedSkew: TimeInterval = 300

    /// The time `token` proves for `imprinted` (the signature value), or nil if it proves nothing: the token must be
    /// a single-signer SignedData of TSTInfo whose signature is intact, whose message imprint is the digest of
    /// `imprinted`, whose time is not in the future, and whose signer chains to one of `authorities` at that time
    /// with the `timeStamping` extended key usage.
    static func prove(token: ASN1Node, imprinted: [UInt8], authorities: [Certificate], now: Date) async -> TimestampProof? {
        guard let message = try? CMSSignedMessage(berEncoded: token.encodedBytes), let content = message.content,
            case .intact(let signature) = CMSSignatureCheck.check(message, content: [content[...]], expectedContentType: CMSObjectIdentifier.tstInfo),
            let info = try? TSTInfo(derEncoded: content),
            info.imprintAlgorithm.hash([imprinted[...]]) == info.imprint,
            info.time <= now.addingTimeInterval(allowedSkew)
        else { return nil }
        let chain = await SignerTrust.validate(
            leaf: signature.signer, intermediates: signature.certificates, roots: authorities, at: info.time, usage: .timeStamping
        )
        guard case .valid = chain else { return nil }
        return TimestampProof(time: info.time, authority: FreeText.escaped(signature.signer.subject.description))
    }
}

/// The parts of a TSTInfo (RFC 3161 §2.4.2) that bind a time to a digest.
struct TSTInfo {
    let imprintAlgorithm: DigestAlgorithm
    let imprint: [UInt8]
    let time: Date

    init(derEncoded bytes: [UInt8]) throws {
        let fields = try CMSSignedMessage.children(DER.parse(bytes), .sequence, "TSTInfo")
        guard fields.count >= 5, try Int(derEncoded: fields[0]) == 1 else { throw CMSFormatError("TSTInfo is malformed") }
        let imprint = try CMSSignedMessage.children(fields[2], .sequence, "MessageImprint")
        guard imprint.count == 2, let algorithm = DigestAlgorithm(try CMSSigner.algorithm(imprint[0], "hashAlgorithm")) else {
            throw CMSFormatError("the message imprint's algorithm is not supported")
        }
        guard fields[4].identifier == .generalizedTime else { throw CMSFormatError("genTime is not a GeneralizedTime") }
        self.imprintAlgorithm = algorithm
        self.imprint = try CMSSignedMessage.octets(imprint[1], "hashedMessage")
        self.time = try ASN1Time.date(fields[4])
    }
}
