/// Static checks for rules that can never decide anything: counsel should hear of them before a deployment.
extension Policy {
    /// This policy with warnings added for rules that can never match and rules shadowed by a forbid.
    func withLintWarnings() -> Policy {
        var found = warnings
        for rule in rules {
            if let reason = Self.neverMatches(rule.when) {
                found.append(FileError(file: source, line: rule.line, message: "rule '\(rule.id)' can never match: \(reason)"))
            }
            if let from = rule.effectiveFrom, let until = rule.effectiveUntil, until < from {
                found.append(FileError(file: source, line: rule.line, message: "rule '\(rule.id)' is never in force"))
            }
            guard rule.effect == .permit else { continue }
            for forbid in rules where forbid.effect == .forbid && forbid.unless == nil && forbid.effectiveFrom == nil && forbid.effectiveUntil == nil {
                if Self.implies(rule.when, forbid.when) {
                    found.append(FileError(
                        file: source, line: rule.line,
                        message: "rule '\(rule.id)' is shadowed: whenever it matches, forbid rule '\(forbid.id)' matches too, and forbid wins"
                    ))
                }
            }
        }
        for (index, rule) in rules.enumerated() {
            for earlier in rules[..<index] where earlier.effect == rule.effect && earlier.when == rule.when && earlier.unless == rule.unless
                && earlier.effectiveFrom == rule.effectiveFrom && earlier.effectiveUntil == rule.effectiveUntil {
                found.append(FileError(file: source, line: rule.line, message: "rule '\(rule.id)' repeats rule '\(earlier.id)'"))
            }
        }
        return Policy(
            name: name, title: title, timeZone: timeZone, subjectFormat: subjectFormat, routes: routes, redactAlways: redactAlways,
            rules: rules, digest: digest, source: source, warnings: found, factLookup: factLookup, vocabulary: vocabulary
        )
    }

    /// The top-level conjuncts of a condition.
    private static func conjuncts(_ condition: Condition) -> [Condition] {
        if case .all(let parts) = condition { return parts.flatMap(conjuncts) }
        return [condition]
    }

    /// Why a conjunction can never hold, if it visibly cannot: two category, agency or method tests with nothing in
    /// common, or a test of something together with its negation.
    private static func neverMatches(_ condition: Condition) -> String? {
        let parts = conjuncts(condition)
        var categories: Set<AgencyCategory>?
        var agencies: Set<String>?
        var methods: Set<String>?
        for part in parts {
            switch part {
            case .category(let set):
                categories = categories.map { $0.intersection(set) } ?? set
                if categories?.isEmpty == true { return "its category tests have nothing in common" }
            case .agency(let set):
                agencies = agencies.map { $0.intersection(set) } ?? set
                if agencies?.isEmpty == true { return "its agency tests have nothing in common" }
            case .method(let set):
                methods = methods.map { $0.intersection(set) } ?? set
                if methods?.isEmpty == true { return "its method tests have nothing in common" }
            case .not(let negated) where parts.contains(negated):
                return "it requires both \(negated.summary) and its negation"
            default:
                continue
            }
        }
        return nil
    }

    /// Whether `a` visibly implies `b`: every conjunct of `b` is implied by some conjunct of `a`.
    private static func implies(_ a: Condition, _ b: Condition) -> Bool {
        let left = conjuncts(a)
        return conjuncts(b).allSatisfy { required in
            if required == .always { return true }
            return left.contains { given in
                switch (given, required) {
                case (.category(let narrow), .category(let wide)): narrow.isSubset(of: wide)
                case (.agency(let narrow), .agency(let wide)): narrow.isSubset(of: wide)
                case (.method(let narrow), .method(let wide)): narrow.isSubset(of: wide)
                case (.action(let narrow), .action(let wide)):
                    narrow.allSatisfy { pattern in wide.contains { $0 == pattern || $0 == "*" || ($0.hasSuffix(".*") && pattern.hasPrefix($0.dropLast())) } }
                default: given == required
                }
            }
        }
    }
}
