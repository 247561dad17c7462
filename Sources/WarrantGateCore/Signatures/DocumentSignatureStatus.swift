import Foundation

/// What checking a document's digital signature found, at registration.
///
/// Only ``invalid(reason:)`` refuses a registration: the signature is there but the document does not match it, or it
/// cannot be read with confidence. ``unverified(reason:signer:)`` and ``unsigned`` register, marked as such; several
/// states accept electronic signatures that are not cryptographic.
public enum DocumentSignatureStatus: Sendable, Equatable, CustomStringConvertible {
    /// A valid signature by a signer that chains to a court listed in `courts.yaml` and matches its subject patterns.
    case verified(VerifiedSignature)
    /// A signature that is intact but cannot count: an unlisted or expired signer, a platform certificate that does
    /// not identify the court, an algorithm that cannot be verified, or a form of signature not supported.
    case unverified(reason: String, signer: SignerIdentity?)
    /// No signature: a PDF without a signature dictionary, or any other file without a detached signature.
    case unsigned
    /// A tampered, malformed or misplaced signature, or a document modified after signing.
    case invalid(reason: String)

    /// The status word for a registry column: `verified`, `unverified`, `unsigned` or `invalid`.
    public var label: String {
        switch self {
        case .verified: "verified"
        case .unverified: "unverified"
        case .unsigned: "unsigned"
        case .invalid: "invalid"
        }
    }

    /// The stable rendering for the registry, the log and the CLI: `verified`, `unsigned`, `unverified: <why>` or
    /// `invalid: <why>`.
    public var description: String {
        switch self {
        case .verified, .unsigned: label
        case .unverified(let reason, _), .invalid(let reason): "\(label): \(reason)"
        }
    }

    /// Whether the registration must be refused (the CLI exits 3).
    public var refusesRegistration: Bool {
        if case .invalid = self { true } else { false }
    }

    /// The signer, when a signature was intact enough to name one.
    public var signer: SignerIdentity? {
        switch self {
        case .verified(let signature): signature.signer
        case .unverified(_, let signer): signer
        case .unsigned, .invalid: nil
        }
    }
}

/// A verified signature: who signed, for which court, and when.
public struct VerifiedSignature: Sendable, Equatable {
    public let signer: SignerIdentity
    /// The `courts.yaml` entry the signer chains to.
    public let court: CourtReference
    public let signingTime: SigningTime
    /// The time the signer's chain was checked at: the proven signing time if there is one, else the registration.
    public let chainCheckedAt: Date

    public init(signer: SignerIdentity, court: CourtReference, signingTime: SigningTime, chainCheckedAt: Date) {
        self.signer = signer
        self.court = court
        self.signingTime = signingTime
        self.chainCheckedAt = chainCheckedAt
    }
}

/// A court or platform entry of `courts.yaml`, by id and display name.
public struct CourtReference: Sendable, Equatable, Hashable {
    public let id: String
    public let name: String

    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}

/// The signer's certificate, as the registry and the log record it.
public struct SignerIdentity: Sendable, Equatable {
    /// The subject as an RFC 4514 string.
    public let subject: String
    public let issuer: String
    /// Lower-case hex of the serial number.
    public let serial: String
    /// Lower-case hex SHA-256 of the certificate's DER encoding.
    public let certificateSHA256: String

    public init(subject: String, issuer: String, serial: String, certificateSHA256: String) {
        self.subject = subject
        self.issuer = issuer
        self.serial = serial
        self.certificateSHA256 = certificateSHA256
    }
}

/// When a document was signed: the signer's own claim, and the time an RFC 3161 token proves, if any.
public struct SigningTime: Sendable, Equatable {
    /// The CMS signing-time attribute: the signer's claim, recorded but never relied upon.
    public let claimed: Date?
    /// A time proven by a time-stamp token from an authority the court's entry lists.
    public let proven: TimestampProof?

    public init(claimed: Date?, proven: TimestampProof?) {
        self.claimed = claimed
        self.proven = proven
    }
}

/// An RFC 3161 time-stamp token that verified: the time it attests, and the authority that signed it.
public struct TimestampProof: Sendable, Equatable {
    public let time: Date
    /// The time-stamping authority's certificate subject, RFC 4514.
    public let authority: String

    public init(time: Date, authority: String) {
        self.time = time
        self.authority = authority
    }
}
