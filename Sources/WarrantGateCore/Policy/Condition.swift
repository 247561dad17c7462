import Foundation

/// A test in a policy rule. Conditions compose with `all`, `any` and `not`.
public indirect enum Condition: Sendable, Equatable {
    case always
    case agency(Set<String>)
    case category(Set<AgencyCategory>)
    /// Action patterns such as `records.read` or `visitation.*`.
    case action([String])
    case method(Set<String>)
    /// A judicial document registered for this agency covers this subject, action and date.
    case warrantVerified
    /// An advisement of rights is on record for the subject (optionally given no longer ago than `within`).
    case advisementRecorded(within: TimeInterval?)
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
        case .warrantVerified: "warrant verified"
        case .advisementRecorded(let within): within.map { "advisement recorded within \(Int($0 / 86400))d" } ?? "advisement recorded"
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
