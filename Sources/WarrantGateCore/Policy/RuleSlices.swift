/// A policy's rules sliced by agency category: a request is evaluated against the rules that may apply to its
/// agency's category, in the policy's order, rather than against every rule.
///
/// A rule whose `when` begins with a `category` condition (the condition itself, or the first of an `all`, at any
/// depth) is false for an agency of another category before any other part of it is evaluated, since `all` stops at
/// the first condition that fails. Leaving such a rule out of the other categories' slices therefore changes no
/// decision, no reason and no error; a rule whose `category` comes later is in every slice.
struct RuleSlices: Sendable {
    private let byCategory: [AgencyCategory: [Rule]]
    /// The slice of any category that no rule's leading condition names: the rules without one.
    private let ungated: [Rule]

    init(_ rules: [Rule]) {
        let gated = rules.map { (rule: $0, categories: Self.leadingCategories($0.when)) }
        ungated = gated.filter { $0.categories == nil }.map(\.rule)
        let named = Set(gated.compactMap(\.categories).joined())
        byCategory = Dictionary(uniqueKeysWithValues: named.map { category in
            (category, gated.filter { $0.categories?.contains(category) ?? true }.map(\.rule))
        })
    }

    /// The rules that may apply to an agency of `category`, in the policy's order.
    func rules(for category: AgencyCategory) -> [Rule] {
        byCategory[category] ?? ungated
    }

    /// The categories that `condition` requires before any other part of it is evaluated; nil if none.
    private static func leadingCategories(_ condition: Condition) -> Set<AgencyCategory>? {
        switch condition {
        case .category(let categories): categories
        case .all(let conditions): conditions.first.flatMap(leadingCategories)
        default: nil
        }
    }
}
