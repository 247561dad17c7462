/// Static checks for rules that can never decide anything: counsel should hear of them before a deployment.
extension Policy {
    /// This policy with warnings added for rules that can never match or whose `unless` always holds, rules shadowed
    /// by a forbid, warrant-failure forbids whose `unless` tests more than the warrant, permits that admit (and forbids
    /// whose `unless` lets past) an immigration agency on the caller's own claim or on a loose document test, and
    /// looked-up facts a `not:` reads that answers need not state.
    func withLintWarnings() -> Policy {
        var found = warnings
        for rule in rules where rule.source == source {
            if rule.reason == Rule.warrantFailureReason, let unless = rule.unless, !unless.testsOnlyWarrant {
                found.append(FileError(
                    file: source, line: rule.line,
                    message: "rule '\(rule.id)': reason \(Rule.warrantFailureReason) with other conditions under unless: when the warrant verifies but another condition fails, the denial has no warrant failure to report and is logged as policy_error; give this forbid its own reason code"
                ))
            }
            if rule.effect == .permit, let claim = Self.claimAlone(rule.when) {
                found.append(FileError(
                    file: source, line: rule.line,
                    message: "rule '\(rule.id)' admits a federal-immigration agency on request fact '\(claim)' alone, a claim the caller makes about itself; require a document, record or fact on file too"
                ))
            }
            for name in Self.hourWindowFacts(rule.when).union(rule.unless.map { Self.hourWindowFacts($0) } ?? []).sorted() {
                found.append(FileError(
                    file: source, line: rule.line,
                    message: "rule '\(rule.id)' measures fact '\(name)' in hours or minutes, but a value given as a day (YYYY-MM-DD) counts whole days, from that day's midnight to today's; have the records give it as an ISO 8601 time, or measure in days"
                ))
            }
            if Self.mayConcernImmigration(rule.when) {
                var problems: [String] = []
                for problem in Self.allowingDocumentTests(of: rule).compactMap(Self.looseness) where !problems.contains(problem) {
                    problems.append(problem)
                    found.append(FileError(
                        file: source, line: rule.line,
                        message: "rule '\(rule.id)' may let a federal-immigration agency in on a document test that \(problem)"
                    ))
                }
            }
            if rule.effect == .forbid, Self.mayConcernImmigration(rule.when), let unless = rule.unless, let claim = Self.claimAlone(unless) {
                found.append(FileError(
                    file: source, line: rule.line,
                    message: "rule '\(rule.id)': its unless lets a federal-immigration agency past on request fact '\(claim)' alone, a claim the caller makes about itself; require a document, record or fact on file too"
                ))
            }
        }
        // Every rule, an included file's too: a file that includes another may look facts up where it did not.
        if let lookup = factLookup {
            for rule in rules {
                let negated = Self.factsUnderNegation(rule.when).union(rule.unless.map { Self.factsUnderNegation($0) } ?? [])
                for name in negated.subtracting(lookup.states).sorted() {
                    let warning = FileError(
                        file: rule.source ?? source, line: rule.line,
                        message: "rule '\(rule.id)' reads fact '\(name)' under not:, and a records-system answer that leaves it out makes that not: hold; list it under fact-lookup states: so that such an answer fails the lookup"
                    )
                    if !found.contains(warning) { found.append(warning) }
                }
            }
        }
        // The pairwise checks below compare conjuncts of two rules; a hostile file of many long rules must not cost
        // minutes at every load and reload, so they stop, with a warning, once this many comparisons are spent.
        var budget = Self.pairwiseBudget
        var exhausted = false
        func spend(_ left: Rule, _ right: Rule) -> Bool {
            budget -= max(1, left.when.conjuncts.count) * max(1, right.when.conjuncts.count)
            if budget < 0 { exhausted = true }
            return !exhausted
        }
        let unconditionalForbids = rules.filter { $0.effect == .forbid && $0.unless == nil && $0.effectiveFrom == nil && $0.effectiveUntil == nil }
        for rule in rules where rule.source == source {
            if let reason = Self.neverMatches(rule.when) {
                found.append(FileError(file: source, line: rule.line, message: "rule '\(rule.id)' can never match: \(reason)"))
            }
            if let unless = rule.unless, Self.alwaysHolds(unless) {
                found.append(FileError(file: source, line: rule.line, message: "rule '\(rule.id)' can never apply: its unless always holds"))
            }
            if let from = rule.effectiveFrom, let until = rule.effectiveUntil, until < from {
                found.append(FileError(file: source, line: rule.line, message: "rule '\(rule.id)' is never in force"))
            }
            guard rule.effect == .permit, !exhausted else { continue }
            if let forbid = unconditionalForbids.first(where: { spend(rule, $0) && Self.implies(rule.when, $0.when) }) {
                found.append(FileError(
                    file: source, line: rule.line,
                    message: "rule '\(rule.id)' is shadowed: whenever it matches, forbid rule '\(forbid.id)' matches too, and forbid wins"
                ))
            }
        }
        // One warning a rule, naming the first it repeats: a file of many like rules must not cost a warning a pair.
        for (index, rule) in rules.enumerated() where rule.source == source && !exhausted {
            if let earlier = rules[..<index].first(where: {
                spend(rule, $0) && $0.effect == rule.effect && $0.when == rule.when && $0.unless == rule.unless
                    && $0.effectiveFrom == rule.effectiveFrom && $0.effectiveUntil == rule.effectiveUntil
            }) {
                found.append(FileError(file: source, line: rule.line, message: "rule '\(rule.id)' repeats rule '\(earlier.id)'"))
            }
        }
        if exhausted {
            found.append(FileError(
                file: source, line: nil,
                message: "too many long rules to check every pair: shadowed and repeated rules were checked only in part (\(Self.pairwiseBudget) comparisons)"
            ))
        }
        return with(warnings: found)
    }

    /// How many conjunct comparisons the pairwise checks may spend on one file.
    static let pairwiseBudget = 2_000_000

    /// The facts `condition` measures with `elapsed:` or `remaining:` in hours or minutes.
    private static func hourWindowFacts(_ condition: Condition) -> Set<String> {
        switch condition {
        case .elapsed(let name, let window), .remaining(let name, let window):
            [window.atLeast, window.atMost].contains { if case .seconds = $0 { true } else { false } } ? [name] : []
        case .not(let inner): hourWindowFacts(inner)
        case .all(let parts), .any(let parts): parts.reduce(into: []) { $0.formUnion(hourWindowFacts($1)) }
        default: []
        }
    }

    /// The facts about the subject that `condition` reads under an odd number of `not:`s, where an absent fact makes
    /// the test hold.
    private static func factsUnderNegation(_ condition: Condition, negated: Bool = false) -> Set<String> {
        switch condition {
        case .fact(let name, _), .elapsed(let name, _), .remaining(let name, _): negated ? [name] : []
        case .not(let inner): factsUnderNegation(inner, negated: !negated)
        case .all(let parts), .any(let parts): parts.reduce(into: []) { $0.formUnion(factsUnderNegation($1, negated: negated)) }
        default: []
        }
    }

    /// The request fact `condition` rests on, if it can hold for a `federal-immigration` agency with no document,
    /// record or fact on file, through a claim the caller makes: at any depth, in a branch of an `any` as in a
    /// conjunct. Category and agency tests that allow that category, actions, methods, data kinds and negations (no
    /// evidence the jail holds) hold without evidence; nothing else does.
    private static func claimAlone(_ condition: Condition) -> String? {
        claimsWithoutEvidence(condition)?.first
    }

    /// The request facts `condition` holds on for such an agency with no evidence on file (empty: on nothing at all),
    /// or nil if it cannot hold so.
    private static func claimsWithoutEvidence(_ condition: Condition) -> [String]? {
        switch condition {
        case .always, .agency, .action, .method, .data: return []
        case .category(let categories): return categories.contains(.federalImmigration) ? [] : nil
        case .not(.category(let categories)): return categories.contains(.federalImmigration) ? nil : []
        case .not: return []
        case .requestFact(let name, _): return [name]
        case .all(let parts):
            var claims: [String] = []
            for part in parts {
                guard let more = claimsWithoutEvidence(part) else { return nil }
                claims += more
            }
            return claims
        case .any(let parts):
            let ways = parts.compactMap(claimsWithoutEvidence)
            return ways.first { !$0.isEmpty } ?? ways.first
        default: return nil
        }
    }

    /// The `document` tests of `rule` that, holding, tend to let the request in: in a permit's `when` and a forbid's
    /// `unless`, each `not:` turning the sense over.
    private static func allowingDocumentTests(of rule: Rule) -> [DocumentCondition] {
        func tests(_ condition: Condition, allowing: Bool) -> [DocumentCondition] {
            switch condition {
            case .document(let test): allowing ? [test] : []
            case .not(let inner): tests(inner, allowing: !allowing)
            case .all(let parts), .any(let parts): parts.flatMap { tests($0, allowing: allowing) }
            default: []
            }
        }
        return tests(rule.when, allowing: rule.effect == .permit) + (rule.unless.map { tests($0, allowing: rule.effect == .forbid) } ?? [])
    }

    /// What makes a `document` test that lets a request in looser than counsel likely meant, if anything: no `kind`
    /// where ICE's own forms pass its `nature` (an I-200, I-205, I-247A or I-247N is no judge's finding), a status but
    /// `active`, or no `covers-action` (a document scoped to other actions).
    private static func looseness(_ test: DocumentCondition) -> String? {
        if test.test.kinds == nil, DocumentKind.allCases.contains(where: { $0.isImmigrationForm && test.test.natures?.contains($0.nature) != false }) {
            return "names no kind, which ICE's own forms (I-200, I-205, I-247A, I-247N) pass; list the kinds it accepts"
        }
        if let status = test.statuses.subtracting([.active]).map(\.rawValue).sorted().first {
            return "accepts a document that is \(status); only an active one should let a request in"
        }
        if !test.coversAction {
            return "does not require covers-action: true, so a document registered for other actions passes"
        }
        return nil
    }

    /// Whether a rule of this `when` may apply to a `federal-immigration` agency: no category test excludes it.
    private static func mayConcernImmigration(_ when: Condition) -> Bool {
        when.conjuncts.allSatisfy { part in
            switch part {
            case .category(let categories): categories.contains(.federalImmigration)
            case .not(.category(let categories)): !categories.contains(.federalImmigration)
            default: true
            }
        }
    }

    /// Why a conjunction can never hold, if it visibly cannot: two category, agency or method tests with nothing in
    /// common, a test of something together with its negation, or the negation of a test that always holds.
    private static func neverMatches(_ condition: Condition) -> String? {
        let parts = condition.conjuncts
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
            case .not(let negated) where alwaysHolds(negated):
                return "it requires the negation of \(negated.summary), which always holds"
            default:
                continue
            }
        }
        return nil
    }

    /// Whether a condition visibly holds for every request: `always`, or built of it by `all` and `any`.
    private static func alwaysHolds(_ condition: Condition) -> Bool {
        switch condition {
        case .always: true
        case .all(let parts): parts.allSatisfy(alwaysHolds)
        case .any(let parts): parts.contains(where: alwaysHolds)
        default: false
        }
    }

    /// Whether `a` visibly implies `b`: every conjunct of `b` is implied by some conjunct of `a`.
    private static func implies(_ a: Condition, _ b: Condition) -> Bool {
        let left = a.conjuncts
        return b.conjuncts.allSatisfy { required in
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
