import Foundation

/// What the registry records of a document's digital signature, checked once at registration (issue 23).
///
/// An `invalid` signature is never recorded: it refuses the registration. `unchecked` marks documents registered
/// before signatures were checked (or through an interface that does not check them); it is not `unsigned`.
public struct RecordedSignature: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        case verified, unverified, unsigned, unchecked
    }

    public var status: Status
    /// Why an `unverified` signature does not count; nil otherwise.
    public var reason: String?
    /// The signer's certificate subject (RFC 4514), when the signature named one.
    public var signerSubject: String?
    /// Lower-case hex SHA-256 of the signer's certificate.
    public var signerSHA256: String?
    /// The `courts.yaml` id the signer chains to; set only when `verified`.
    public var court: String?
    /// The CMS signing-time attribute: the signer's own claim, never relied upon.
    public var claimedSigningTime: Date?
    /// The signing time an RFC 3161 token from a listed authority proves, and that authority's subject.
    public var provenSigningTime: Date?
    public var timestampAuthority: String?
    /// When the signature was checked; nil when `unchecked`.
    public var checkedAt: Date?

    public init(
        status: Status, reason: String? = nil, signerSubject: String? = nil, signerSHA256: String? = nil, court: String? = nil,
        claimedSigningTime: Date? = nil, provenSigningTime: Date? = nil, timestampAuthority: String? = nil, checkedAt: Date? = nil
    ) {
        self.status = status
        self.reason = reason
        self.signerSubject = signerSubject
        self.signerSHA256 = signerSHA256
        self.court = court
        self.claimedSigningTime = claimedSigningTime
        self.provenSigningTime = provenSigningTime
        self.timestampAuthority = timestampAuthority
        self.checkedAt = checkedAt
    }

    /// The record of a check made at `checkedAt`; nil for an `invalid` signature, which is never registered.
    public init?(_ result: DocumentSignatureStatus, checkedAt: Date) {
        guard !result.refusesRegistration, let status = Status(rawValue: result.label) else { return nil }
        var reason: String?
        // A reason may quote the scan (a /SubFilter name, which may spell a NUL or a control character as #xx).
        if case .unverified(let why, _) = result { reason = FreeText.escaped(why) }
        var verified: VerifiedSignature?
        if case .verified(let signature) = result { verified = signature }
        self.init(
            status: status, reason: reason, signerSubject: result.signer?.subject, signerSHA256: result.signer?.certificateSHA256,
            court: verified?.court.id, claimedSigningTime: verified?.signingTime.claimed, provenSigningTime: verified?.signingTime.proven?.time,
            timestampAuthority: verified?.signingTime.proven?.authority, checkedAt: checkedAt
        )
    }

    /// A document registered before signatures were checked.
    public static let unchecked = RecordedSignature(status: .unchecked)

    /// `verified`, `unsigned`, `unchecked` or `unverified: <why>`, as ``DocumentSignatureStatus`` renders it.
    public var description: String {
        reason.map { "\(status.rawValue): \($0)" } ?? status.rawValue
    }

    /// Whether the signature counts as a listed court's: verified, and, if `courts` is given, by one of them.
    public func isVerified(byOneOf courts: [String]?) -> Bool {
        guard status == .verified, let court else { return false }
        return courts.map { $0.contains(court) } ?? true
    }

    /// The fields an admin log record carries, under `signature…` keys.
    public var logDetails: [String: String] {
        var details = ["signature": description]
        details["signatureSigner"] = signerSubject
        details["signatureSignerSHA256"] = signerSHA256
        details["signatureCourt"] = court
        details["signatureClaimedTime"] = claimedSigningTime.map(Timestamp.format)
        details["signatureProvenTime"] = provenSigningTime.map(Timestamp.format)
        details["signatureTimestampAuthority"] = timestampAuthority
        details["signatureCheckedAt"] = checkedAt.map(Timestamp.format)
        return details
    }
}
