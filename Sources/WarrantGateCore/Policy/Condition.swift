import Foundation

/// A test in a policy rule. Conditions compose with `all`, `any` and `not`.
public indirect enum Condition: Sendable, Equatable {
    case always
    case agency(Set<String>)
    case category(Set<AgencyCategory>)
    /// Action patterns such as `records.read` or `visitation.*`.
    case action([String])
    case method(Set<String>)
    /// The presented warrant verifies: a judicial document registered for this agency that covers this subject,
    /// action and date; when `kinds` is given, its kind must be one of them.
    case warrantVerified(kinds: Set<DocumentKind>?)
    /// An advisement of rights is on record for the subject (optionally given no longer ago than `within`).
    case advisementRecorded(within: TimeInterval?)
    /// The inmate's written consent to an interview is on record; `attorney` filters on whether it requires one.
    case consentRecorded(attorney: AttorneyRequirement, within: TimeInterval?)
    /// The inmate's written authorization to share covers every one of these fields.
    case authorizationCovers([String])
    /// A registered document for this subject and agency matches.
    case document(DocumentCondition)
    /// A fact about the subject has one of the values.
    case fact(name: String, values: Set<String>)
    /// The route returns one of these kinds of data (the route's `data` list).
    case data(Set<String>)
    /// The route serves data that is already public.
    case publicData
    case all([Condition])
    case any([Condition])
    case not(Condition)

    /// A short description of the condition, for explanations.
    public var summary: String {
        switch self {
        case .always: "always"
        case .agency(let ids): "agency in [\(ids.sorted().joined(separator: ", "))]"
        case .category(let categories): "category in [\(categories.map(\.rawValue).sorted().joined(separator: ", "))]"
        case .action(let patterns): "action in [\(patterns.joined(separator: ", "))]"
        case .method(let methods): "method in [\(methods.sorted().joined(separator: ", "))]"
        case .warrantVerified(let kinds): kinds.map { "warrant verified, of kind [\($0.map(\.rawValue).sorted().joined(separator: ", "))]" } ?? "warrant verified"
        case .advisementRecorded(let within): within.map { "advisement recorded within \(Int($0 / 3600))h" } ?? "advisement recorded"
        case .consentRecorded(let attorney, _): "consent recorded (attorney \(attorney.rawValue))"
        case .authorizationCovers(let fields): "written authorization covers [\(fields.joined(separator: ", "))]"
        case .document(let condition): "document \(condition.summary)"
        case .fact(let name, let values): "fact \(name) in [\(values.sorted().joined(separator: ", "))]"
        case .data(let kinds): "route data in [\(kinds.sorted().joined(separator: ", "))]"
        case .publicData: "data already public"
        case .all(let conditions): "all of (\(conditions.map(\.summary).joined(separator: "; ")))"
        case .any(let conditions): "any of (\(conditions.map(\.summary).joined(separator: "; ")))"
        case .not(let condition): "not (\(condition.summary))"
        }
    }

    /// Whether the condition (or a part of it) consults the warrant check.
    var mentionsWarrant: Bool {
        switch self {
        case .warrantVerified: true
        case .all(let conditions), .any(let conditions): conditions.contains { $0.mentionsWarrant }
        case .not(let condition): condition.mentionsWarrant
        default: false
        }
    }
}

/// Whether a consent must, or must not, require an attorney to count.
public enum AttorneyRequirement: String, Sendable, Equatable {
    case any
    case required
    case notRequired = "not-required"
}

/// A test on the documents registered for the request's subject and agency: any one matching document suffices.
public struct DocumentCondition: Sendable, Equatable {
    public var kinds: Set<DocumentKind>?
    public var statuses: Set<DocumentStatus> = [.active]
    /// The document's scope must cover the request's action.
    public var coversAction = false
    /// The document was registered no longer ago than this (by its registration day).
    public var maxAge: TimeInterval?

    public init(kinds: Set<DocumentKind>? = nil, statuses: Set<DocumentStatus> = [.active], coversAction: Bool = false, maxAge: TimeInterval? = nil) {
        self.kinds = kinds
        self.statuses = statuses
        self.coversAction = coversAction
        self.maxAge = maxAge
    }

    var summary: String {
        var parts: [String] = []
        if let kinds { parts.append("kind in [\(kinds.map(\.rawValue).sorted().joined(separator: ", "))]") }
        parts.append("status in [\(statuses.map(\.rawValue).sorted().joined(separator: ", "))]")
        if coversAction { parts.append("covers the action") }
        if let maxAge { parts.append("at most \(Int(maxAge / 86400))d old") }
        return parts.joined(separator: ", ")
    }
}
