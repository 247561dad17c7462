/// The kinds of document the registry records.
///
/// Only judicial documents (signed by a judge or magistrate of a court) can authorise access. ICE's own forms are
/// recorded so that they are on file, but never authorise anything.
public enum DocumentKind: String, Sendable, CaseIterable, Codable {
    /// A warrant signed by a judge or magistrate of a court, of a criminal nature unless a narrower kind says more.
    case judicialWarrant = "judicial-warrant"
    /// A criminal arrest warrant signed by a judge or magistrate (a federal magistrate's, under FRCrP 4, among them).
    case criminalArrestWarrant = "criminal-arrest-warrant"
    /// A search warrant signed by a judge or magistrate.
    case searchWarrant = "search-warrant"
    /// A judge's finding of probable cause, outside a warrant (California's transfer rule, Gov. Code 7284.6(a)(4)).
    case probableCauseDetermination = "probable-cause-determination"
    /// An order of a court in a civil matter.
    case courtOrder = "court-order"
    /// A subpoena issued by a court in a case, criminal or civil.
    case judicialSubpoena = "judicial-subpoena"
    case administrativeWarrant = "administrative-warrant"
    case detainer
    /// A DHS request for notification of release (Form I-247N).
    case notificationRequest = "notification-request"
    case administrativeSubpoena = "administrative-subpoena"
    case immigrationJudgeOrder = "immigration-judge-order"
    /// A notification to a consulate under a treaty (Vienna Convention on Consular Relations, art. 36).
    case consularNotification = "consular-notification"

    public var isJudicial: Bool {
        switch self {
        case .judicialWarrant, .criminalArrestWarrant, .searchWarrant, .probableCauseDetermination, .courtOrder, .judicialSubpoena: true
        case .administrativeWarrant, .detainer, .notificationRequest, .administrativeSubpoena, .immigrationJudgeOrder, .consularNotification: false
        }
    }

    /// The actions that deprive a person of liberty: no search warrant covers them.
    public static let detentionActions = ["custody.hold", "custody.transfer", "custody.arrest"]

    /// Whether the kind is a form of the federal immigration authorities (ICE's warrants, detainers, requests for
    /// notification and subpoenas, an immigration judge's order): a request to the jail, which reports count as
    /// received when the legal unit registers one.
    public var isImmigrationForm: Bool {
        switch self {
        case .administrativeWarrant, .detainer, .notificationRequest, .administrativeSubpoena, .immigrationJudgeOrder: true
        case .judicialWarrant, .criminalArrestWarrant, .searchWarrant, .probableCauseDetermination, .courtOrder, .judicialSubpoena,
             .consularNotification: false
        }
    }

    /// Whether the document belongs to a criminal matter, a civil one, or either; immigration proceedings are civil.
    public var nature: DocumentNature {
        switch self {
        case .judicialWarrant, .criminalArrestWarrant, .searchWarrant, .probableCauseDetermination: .criminal
        case .courtOrder, .administrativeWarrant, .detainer, .notificationRequest, .administrativeSubpoena, .immigrationJudgeOrder: .civil
        case .judicialSubpoena, .consularNotification: .unspecified
        }
    }

    /// Why a non-judicial kind cannot authorise access, in words for the legal unit; nil for judicial kinds.
    public var whyNotJudicial: String? {
        switch self {
        case .judicialWarrant, .criminalArrestWarrant, .searchWarrant, .probableCauseDetermination, .courtOrder, .judicialSubpoena:
            nil
        case .notificationRequest:
            "a request for notification of release (Form I-247N) is signed by an immigration officer; no judge has found anything"
        case .consularNotification:
            "a consular notification informs a consulate under a treaty; it is signed by no judge and authorises nothing"
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

/// Whether a document belongs to a criminal matter or a civil one. A policy tests it with `nature:`.
public enum DocumentNature: String, Sendable, CaseIterable {
    case criminal
    case civil
    /// The kind alone does not say (a judicial subpoena may issue in either).
    case unspecified
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
