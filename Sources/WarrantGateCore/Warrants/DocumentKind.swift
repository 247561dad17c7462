/// The kinds of document the registry records.
///
/// Only judicial documents (signed by a judge or magistrate of a court) can authorise access. ICE's own forms are
/// recorded so that they are on file, but never authorise anything.
public enum DocumentKind: String, Sendable, CaseIterable, Codable {
    case judicialWarrant = "judicial-warrant"
    case courtOrder = "court-order"
    case judicialSubpoena = "judicial-subpoena"
    case administrativeWarrant = "administrative-warrant"
    case detainer
    case administrativeSubpoena = "administrative-subpoena"
    case immigrationJudgeOrder = "immigration-judge-order"

    public var isJudicial: Bool {
        switch self {
        case .judicialWarrant, .courtOrder, .judicialSubpoena: true
        case .administrativeWarrant, .detainer, .administrativeSubpoena, .immigrationJudgeOrder: false
        }
    }

    /// Why a non-judicial kind cannot authorise access, in words for the legal unit; nil for judicial kinds.
    public var whyNotJudicial: String? {
        switch self {
        case .judicialWarrant, .courtOrder, .judicialSubpoena:
            nil
        case .administrativeWarrant:
            "an ICE administrative warrant (Form I-200 or I-205) is signed by an immigration officer, not by a judge or magistrate, so it is not a judicial warrant"
        case .detainer:
            "an immigration detainer (Form I-247A) is a request from ICE, signed by an immigration officer; no judge has found probable cause"
        case .administrativeSubpoena:
            "an ICE administrative subpoena is issued by the agency itself, not ordered by a court"
        case .immigrationJudgeOrder:
            "an immigration judge is an officer of the executive branch (the Department of Justice), not a judge of a court"
        }
    }
}

/// Where a document stands in its lifecycle. Only `active` documents count.
///
/// `pending` awaits a second operator's approval; `expired` is set automatically once the expiry day has ended.
public enum DocumentStatus: String, Sendable, CaseIterable, Codable {
    case pending
    case active
    case revoked
    case superseded
    case expired
}
