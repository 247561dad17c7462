import Foundation

/// The outcome of checking the warrant a request presented.
public enum WarrantCheck: Sendable, Equatable, CustomStringConvertible {
    case verified(reference: String)
    case failed(WarrantFailure)

    public var isVerified: Bool {
        if case .verified = self { true } else { false }
    }

    public var description: String {
        switch self {
        case .verified(let reference): "verified (\(reference))"
        case .failed(let failure): "not verified: \(failure.reason.rawValue)"
        }
    }
}

/// Why a presented warrant does not authorise the request; each has its own reason code.
public enum WarrantFailure: Sendable, CaseIterable {
    case missing, unknown, notJudicial, misfiled, notActive, revoked, superseded, expired, wrongAgency, wrongSubject, outOfScope

    public var reason: GatewayReason {
        switch self {
        case .missing: .warrantMissing
        case .unknown: .warrantUnknown
        case .notJudicial: .warrantNotJudicial
        case .misfiled: .warrantMisfiled
        case .notActive: .warrantNotActive
        case .revoked: .warrantRevoked
        case .superseded: .warrantSuperseded
        case .expired: .warrantExpired
        case .wrongAgency: .warrantWrongAgency
        case .wrongSubject: .warrantWrongSubject
        case .outOfScope: .warrantOutOfScope
        }
    }
}

/// Checks a presented warrant reference against the registry.
///
/// A warrant verifies only if it exists, was issued to the requesting agency, is of a judicial kind, is not
/// ``RegisteredDocument/isMisfiled``, is active (not pending, revoked or superseded), has not expired at `time` (nor
/// by `until`, when what the request asks for ends or takes place), names the subject, and covers the action. The
/// checks run in that order and the first failure is reported: a document issued to another agency fails as
/// `wrongAgency` whatever its kind or status, so that its failure says nothing of it (and the gateway answers it as an
/// unknown one, ``ReasonCatalog/answered(_:)``).
public struct WarrantVerifier: Sendable {
    public init() {}

    public func verify(
        reference: String?, agency: String, subject: String?, action: String, at time: Date, until: Date? = nil, registry: any DocumentRegistry
    ) throws -> WarrantCheck {
        guard let reference, !reference.isEmpty else { return .failed(.missing) }
        guard let document = try registry.document(reference: reference) else { return .failed(.unknown) }
        guard document.agency == agency else { return .failed(.wrongAgency) }
        guard document.kind.isJudicial else { return .failed(.notJudicial) }
        guard !registry.isMisfiled(document) else { return .failed(.misfiled) }
        switch document.status {
        case .active: break
        case .pending: return .failed(.notActive)
        case .revoked: return .failed(.revoked)
        case .superseded: return .failed(.superseded)
        case .expired: return .failed(.expired)
        }
        guard document.isInForce(at: time, through: until) else { return .failed(.expired) }
        guard let subject, document.subjects.contains(subject) else { return .failed(.wrongSubject) }
        guard document.covers(action: action) else { return .failed(.outOfScope) }
        return .verified(reference: reference)
    }
}
