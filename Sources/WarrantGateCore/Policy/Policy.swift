import Crypto
import Foundation

/// Whether a rule permits or forbids. Forbid overrides permit.
public enum RuleEffect: String, Sendable {
    case permit
    case forbid
}

/// Whether a test that can match nothing, at its place in a rule, makes the rule decide more: in a forbid's `when` (it
/// then forbids nothing), in a permit's `unless` (its exception never stops it), and anywhere in a permit that removes
/// fields (`redact`, `return-only`), which other permits then serve, whichever way `not:` turns the test. `not:`
/// turns the others around.
enum Widening {
    case widens, narrows, either

    /// At the top of a rule's `when`.
    static func when(_ effect: RuleEffect, removesFields: Bool) -> Widening {
        removesFields ? .either : effect == .forbid ? .widens : .narrows
    }

    /// At the top of a rule's `unless`.
    static func unless(_ effect: RuleEffect, removesFields: Bool) -> Widening {
        removesFields ? .either : effect == .forbid ? .narrows : .widens
    }

    /// Whether a test that matches nothing here widens the rule.
    var widens: Bool { self != .narrows }

    /// Under `not:`.
    var negated: Widening {
        switch self {
        case .widens: .narrows
        case .narrows: .widens
        case .either: .either
        }
    }
}

/// One rule of a policy.
/// A class rather than a struct: the evaluator passes rules around on every request, and one reference is cheaper
/// to share than ten fields.
public final class Rule: Sendable, Equatable {
    /// The reason code that means "use the failing warrant check's own code" (for example `warrant_expired`).
    public static let warrantFailureReason = "warrant-failure"

    public let id: String
    public let effect: RuleEffect
    public let description: String?
    public let when: Condition
    /// The rule does not apply when this holds.
    public let unless: Condition?
    /// The reason code reported when this rule decides.
    public let reason: String
    /// Extra fields to remove from the response when this permit applies.
    public let redact: [String]
    /// Names of the policy's own redaction list that this permit returns after all: each is covered by a written
    /// authorization its `when` requires.
    public let lift: [String]
    /// When this permit returns only chosen top-level fields: their names (see ``Decision/keepOnly``).
    public let keepOnly: [String]?
    /// Duties and counts recorded on the decision, such as `count-for-council-report`; a forbid's are recorded on
    /// its denial.
    public let obligations: [String]
    /// Dates, in the policy's time zone, between which the rule is in force (inclusive; either may be open).
    public let effectiveFrom: LocalDate?
    public let effectiveUntil: LocalDate?
    /// Where the rule is written, for explanations.
    public let source: String?
    public let line: Int?

    public init(
        id: String, effect: RuleEffect, description: String? = nil, when: Condition, unless: Condition? = nil, reason: String,
        redact: [String] = [], lift: [String] = [], keepOnly: [String]? = nil, obligations: [String] = [], effectiveFrom: LocalDate? = nil,
        effectiveUntil: LocalDate? = nil, source: String? = nil, line: Int? = nil
    ) {
        self.id = id
        self.effect = effect
        self.description = description
        self.when = when
        self.unless = unless
        self.reason = reason
        self.redact = redact
        self.lift = lift
        self.keepOnly = keepOnly
        self.obligations = obligations
        self.effectiveFrom = effectiveFrom
        self.effectiveUntil = effectiveUntil
        self.source = source
        self.line = line
    }

    /// Whether this permit returns something other than a policy with this redaction list returns by itself.
    func changesReturn(given redactAlways: Set<String>) -> Bool {
        keepOnly != nil || !Set(redact).isSubset(of: redactAlways) || lift.contains(where: redactAlways.contains)
    }

    /// Whether the two rules decide alike: every field but where they are written.
    public func decidesAlike(_ other: Rule) -> Bool {
        id == other.id && effect == other.effect && description == other.description && when == other.when && unless == other.unless
            && reason == other.reason && redact == other.redact && lift == other.lift && keepOnly == other.keepOnly
            && obligations == other.obligations && effectiveFrom == other.effectiveFrom && effectiveUntil == other.effectiveUntil
    }

    public static func == (lhs: Rule, rhs: Rule) -> Bool {
        lhs.decidesAlike(rhs) && lhs.source == rhs.source && lhs.line == rhs.line
    }
}

/// A fact the caller states about its own request, read from a named header or a top-level member of a JSON request
/// body. It is the caller's claim: it is logged verbatim with the decision, and must be one of the declared values.
public struct RequestFact: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A header, by lower-case name; it must appear at most once.
        case header(String)
        /// A top-level string, number or boolean member of the JSON body, on routes whose subject is read from the
        /// body (only those routes read it).
        case bodyMember(String)
    }

    public let name: String
    public let source: Source
    public let values: [String]

    public init(name: String, source: Source, values: [String]) {
        self.name = name
        self.source = source
        self.values = values
    }

    /// The longest value logged or compared: a longer one is refused as it is.
    public static let maxValueBytes = 64

    /// Whether `value` could be a declared value: 1 to 64 visible ASCII characters.
    static func isValidValue(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= maxValueBytes && value.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f }
    }
}

/// How a policy declares a fact about an inmate: by its values, or as a date (`YYYY-MM-DD`, or an ISO 8601 time)
/// that `elapsed:` and `remaining:` measure from.
/// The facts a policy's rules may read about an inmate (``Policy/settableFacts``), and the names that read as one of
/// them but are spelt otherwise.
public struct DeclaredFacts: Sendable {
    public let declarations: [String: FactDeclaration]
    /// Each declared name by the form names are compared in (letter case, separators and look-alikes aside).
    private let byKey: [String: String]

    public init(_ declarations: [String: FactDeclaration]) {
        self.declarations = declarations
        byKey = Dictionary(declarations.keys.map { (FieldNameKey.of($0), $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The declared name that `name`, not one itself, reads as (`Prop-47-Misdemeanor`, `prop_47_misdemeanor`), if any.
    public func declaredName(spelledAs name: String) -> String? {
        declarations[name] == nil ? byKey[FieldNameKey.of(name)] : nil
    }
}

public enum FactDeclaration: Sendable, Equatable {
    case values(Set<String>)
    case date

    /// What is wrong with `value` for the fact `name` of this declaration, or nil if it is one of the declared values
    /// (for a date, a day `YYYY-MM-DD` or an ISO 8601 time).
    public func problem(with value: String, of name: String) -> String? {
        switch self {
        case .values(let values):
            values.contains(value) ? nil : "'\(value)' is not a value of fact '\(name)' (values: \(values.sorted().joined(separator: ", ")))"
        case .date:
            LocalDate(value, years: LocalDate.factYears) != nil || Timestamp.parse(value) != nil
                ? nil : "fact '\(name)' is a date; '\(value)' is not YYYY-MM-DD or an ISO 8601 time"
        }
    }

    /// The value a fact `public-<data kind>` takes when that kind of an inmate's data is public (see the `public`
    /// condition), and the one that says it is not.
    static let publicDataValues: Set<String> = ["yes", "no"]

    /// `facts` in the text the store records them as (see ``decoded(_:)``): a JSON object from each name to its
    /// values, sorted, or to `"date"`.
    public static func encoded(_ facts: [String: FactDeclaration]) -> String {
        let object = facts.mapValues { declaration -> Any in
            switch declaration {
            case .values(let values): values.sorted()
            case .date: "date"
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The declarations ``encoded(_:)`` wrote, or nil for text it did not write.
    public static func decoded(_ text: String) -> [String: FactDeclaration]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
        var facts: [String: FactDeclaration] = [:]
        for (name, declaration) in object {
            if let values = declaration as? [String] {
                facts[name] = .values(Set(values))
            } else if declaration as? String == "date" {
                facts[name] = .date
            } else {
                return nil
            }
        }
        return facts
    }
}

/// What an obligation is: a count for a report, or a duty the jail's staff must perform.
public struct ObligationDeclaration: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case report
        case duty
    }

    public let name: String
    public let kind: Kind
    public let description: String
    /// The agency categories whose every request it is recorded with (`every-request-of:`), whatever decides it: a
    /// rule, no rule, or a refusal before the rules (a body naming another agency, a bad request).
    public let everyRequestOf: Set<AgencyCategory>

    public init(name: String, kind: Kind, description: String, everyRequestOf: Set<AgencyCategory> = []) {
        self.name = name
        self.kind = kind
        self.description = description
        self.everyRequestOf = everyRequestOf
    }
}

/// Where the gateway looks up facts about an inmate in a records system, and how long it keeps them.
public struct FactLookup: Sendable, Equatable {
    /// The upstream (by name) that answers.
    public let upstream: String
    /// The path, with `{subject}` standing for the booking number; the answer is a flat JSON object of strings.
    public let path: String
    /// How long an answer is reused.
    public let ttl: TimeInterval
    /// At most this many subjects are cached.
    public let maxEntries: Int
    /// Declared facts every answer must state (`states:`), unless staff set them in the registry: an answer without
    /// one, or a 404, fails the lookup, so that the rules that need facts deny instead of reading the fact as absent,
    /// which makes a `not:` of it hold.
    public let states: Set<String>

    public init(upstream: String, path: String, ttl: TimeInterval, maxEntries: Int, states: Set<String> = []) {
        self.upstream = upstream
        self.path = path
        self.ttl = ttl
        self.maxEntries = maxEntries
        self.states = states
    }
}

/// A jurisdiction's policy: routes that classify requests, fields never shared, and rules.
public struct Policy: Sendable {
    /// The most routes and rules a policy, with what it includes, may hold: far beyond any jurisdiction's, and few
    /// enough that the parser's checks of routes and rules against each other stay quick on a hostile file.
    public static let maximumRoutes = 1_000
    public static let maximumRules = 2_000

    public let name: String
    public let title: String
    public let timeZone: TimeZone
    public let subjectFormat: SubjectFormat
    public let routes: [Route]
    /// Names removed from every response, whoever asks: lower-case field names and Clark names (see
    /// ``RedactionVocabulary``).
    public let redactAlways: [String]
    public let rules: [Rule]
    /// Lower-case hex SHA-256 over the policy file's bytes, every file it includes and every profile: recorded
    /// with every decision.
    public let digest: String
    public let source: String
    /// The files the policy includes, directly or through another, in the order they are read.
    public let includes: [String]
    /// Facts about inmates the rules test.
    public let facts: [String: FactDeclaration]
    /// The facts the registry may hold about an inmate under this policy: those it declares, and `public-<data kind>`
    /// (`yes` or `no`) for each kind of data its routes return.
    public var settableFacts: [String: FactDeclaration] {
        var settable = facts
        for kind in Set(routes.flatMap(\.data)) { settable["public-\(kind)"] = .values(FactDeclaration.publicDataValues) }
        return settable
    }
    /// The facts a fact lookup's answer may give: those the policy declares, and a `public-<data kind>` only where the
    /// lookup's `states:` names it. Otherwise whether data is public is staff's to set: a records system's answer
    /// would open it to every agency the policy keeps it from.
    public var lookedUpFacts: [String: FactDeclaration] {
        settableFacts.filter { name, _ in facts[name] != nil || factLookup?.states.contains(name) == true }
    }
    /// Facts callers state about their requests.
    public let requestFacts: [RequestFact]
    /// The obligations the policy declares; when it declares any, its rules may record no others.
    public let obligations: [String: ObligationDeclaration]

    /// The obligations recorded with every request of each category (``ObligationDeclaration/everyRequestOf``), by
    /// name, sorted: gathered once, since every decision asks.
    private let obligationsByCategory: [AgencyCategory: [String]]

    /// The obligations recorded with every request of an agency in `category` (``ObligationDeclaration/everyRequestOf``),
    /// by name.
    public func obligations(everyRequestOf category: AgencyCategory?) -> [String] {
        category.flatMap { obligationsByCategory[$0] } ?? []
    }

    /// Problems that do not stop the policy from loading: unknown data kinds or facts, rules that can never match,
    /// rules shadowed by a forbid. `policy check` prints them.
    public let warnings: [FileError]
    /// Facts looked up in a records system (beside those set in the registry), if the policy configures it.
    public let factLookup: FactLookup?
    /// The namespaces and profiles the policy's `redact:` entries, and its test files' expectations, are read with.
    public let vocabulary: RedactionVocabulary

    public var classifier: Classifier {
        let factMembers = requestFacts.compactMap { fact in if case .bodyMember(let member) = fact.source { member } else { nil } }
        return Classifier(routes: routes, subjectFormat: subjectFormat, factMembers: factMembers)
    }

    /// Every agency category a rule tests.
    public var categoriesTested: Set<AgencyCategory> {
        var found: Set<AgencyCategory> = []
        for rule in rules {
            for case .category(let categories) in rule.when.parts + (rule.unless?.parts ?? []) { found.formUnion(categories) }
        }
        return found
    }

    /// Each agency category tested where a test that matches nothing widens its rule (a forbid's `when`, a permit's
    /// `unless`, the `when` of a permit that removes fields, any of them turned around under `not:`), with the rules
    /// that test it: one no agency can have (misspelt) makes a forbid forbid nothing, an exception never stop a
    /// permit, or a removal remove nothing.
    public var categoriesWidening: [AgencyCategory: [String]] {
        widening { if case .category(let categories) = $0 { categories } else { nil } }
    }

    /// Each agency id tested where a test that matches nothing widens its rule, with the rules that test it: one no
    /// agency has (misspelt) makes a forbid forbid nothing for the agency meant.
    public var agenciesWidening: [String: [String]] {
        widening { if case .agency(let ids) = $0 { ids } else { nil } }
    }

    /// What `values` reads from conditions that widen their rule when they match nothing (see
    /// ``categoriesWidening``), with the rules that test each.
    private func widening<Value: Hashable>(_ values: (Condition) -> Set<Value>?) -> [Value: [String]] {
        var found: [Value: [String]] = [:]
        func walk(_ condition: Condition, _ widening: Widening, rule: String) {
            switch condition {
            case .not(let inner): walk(inner, widening.negated, rule: rule)
            case .all(let parts), .any(let parts): for part in parts { walk(part, widening, rule: rule) }
            default: if widening.widens, let tested = values(condition) { for value in tested { found[value, default: []].append(rule) } }
            }
        }
        for rule in rules {
            let removesFields = !rule.redact.isEmpty || rule.keepOnly != nil
            walk(rule.when, .when(rule.effect, removesFields: removesFields), rule: rule.id)
            if let unless = rule.unless { walk(unless, .unless(rule.effect, removesFields: removesFields), rule: rule.id) }
        }
        return found
    }

    /// Each court id a `signed-by` names where a test that matches nothing widens its rule, with the rules that name
    /// it: one no court list has (misspelt) makes a forbid resting on a signature forbid nothing.
    public var courtsWidening: [String: [String]] {
        widening { condition in
            switch condition {
            case .warrantVerified(let test): test.signedBy.map(Set.init)
            case .document(let document): document.test.signedBy.map(Set.init)
            default: nil
            }
        }
    }

    /// Why the policy cannot be used with the court list `known` (the ids of `courts.yaml` beside the agency
    /// directory; none without one): a rule names, where that widens it, a court the list does not have. Nil if none.
    public func unknownWideningCourt(known: Set<String>) -> String? {
        Self.firstMissing(from: courtsWidening, in: known).map { court, rule in
            "rule '\(rule)' names court '\(court)' in signed-by, which courts.yaml beside the agency directory does not list: no signature can verify for it, so the rule would forbid less, or permit more, than it says"
        }
    }

    /// Why the policy cannot be used with a directory of the agencies `known` (the directory file's and the
    /// registry's): a rule tests, where that widens it, an agency id none has. Nil if none does.
    public func unknownWideningAgency(known: Set<String>) -> String? {
        Self.firstMissing(from: agenciesWidening, in: known).map { agency, rule in
            "rule '\(rule)' tests agency '\(agency)', which neither the agency directory file nor the registry lists: the rule would forbid less, or permit more, than it says (add the agency first)"
        }
    }

    /// Why the policy cannot be used with a directory declaring `declared` (built-in categories included): a rule
    /// tests, where that widens it, a category no agency can have. Nil if none does.
    public func undeclaredWideningCategory(declared: Set<AgencyCategory>, directoryFile: String) -> String? {
        Self.firstMissing(from: categoriesWidening, in: declared).map { category, rule in
            "rule '\(rule)' tests category '\(category.rawValue)', which is neither built in nor declared in \(directoryFile): no agency can have it, so the rule would forbid less, or permit more, than it says"
        }
    }

    /// The least value of `widening` (see ``widening(_:)``) that `known` lacks, with the first rule that tests it.
    private static func firstMissing<Value: Comparable>(from widening: [Value: [String]], in known: Set<Value>) -> (Value, rule: String)? {
        widening.filter { !known.contains($0.key) }.min { $0.key < $1.key }.map { ($0.key, $0.value[0]) }
    }

    /// Every agency id a rule tests.
    public var agenciesNamed: Set<String> {
        var found: Set<String> = []
        for rule in rules {
            for case .agency(let ids) in rule.when.parts + (rule.unless?.parts ?? []) { found.formUnion(ids) }
        }
        return found
    }

    /// Every `courts.yaml` id a rule's `signed-by` names.
    public var courtsNamed: Set<String> {
        var found: Set<String> = []
        for rule in rules {
            for part in rule.when.parts + (rule.unless?.parts ?? []) {
                switch part {
                case .warrantVerified(let test): found.formUnion(test.signedBy ?? [])
                case .document(let condition): found.formUnion(condition.test.signedBy ?? [])
                default: break
                }
            }
        }
        return found
    }

    public init(
        name: String, title: String, timeZone: TimeZone, subjectFormat: SubjectFormat, routes: [Route], redactAlways: [String],
        rules: [Rule], digest: String, source: String, includes: [String] = [], facts: [String: FactDeclaration] = [:],
        requestFacts: [RequestFact] = [], obligations: [String: ObligationDeclaration] = [:], warnings: [FileError] = [],
        factLookup: FactLookup? = nil, vocabulary: RedactionVocabulary = .empty
    ) {
        self.name = name
        self.title = title
        self.timeZone = timeZone
        self.subjectFormat = subjectFormat
        self.routes = routes
        self.redactAlways = redactAlways
        self.rules = rules
        self.digest = digest
        self.source = source
        self.includes = includes
        self.facts = facts
        self.requestFacts = requestFacts
        self.obligations = obligations
        var byCategory: [AgencyCategory: [String]] = [:]
        for declaration in obligations.values {
            for category in declaration.everyRequestOf { byCategory[category, default: []].append(declaration.name) }
        }
        self.obligationsByCategory = byCategory.mapValues { $0.sorted() }
        self.warnings = warnings
        self.factLookup = factLookup
        self.vocabulary = vocabulary
    }

    /// The SHA-256 of the policy file's bytes, followed by those of each file it includes (innermost first), then
    /// each profile, in the order of their aliases. A policy with neither hashes its own bytes alone.
    static func digest(of bytes: [UInt8], included: [[UInt8]] = [], profiles: [String: RedactionProfile] = [:]) -> String {
        var hash = SHA256()
        hash.update(data: bytes)
        for file in included { hash.update(data: file) }
        for alias in profiles.keys.sorted() { hash.update(data: profiles[alias]!.bytes) }
        return Hex.encode(hash.finalize())
    }

    /// This policy with `warnings` in place of its own.
    func with(warnings: [FileError]) -> Policy {
        Policy(
            name: name, title: title, timeZone: timeZone, subjectFormat: subjectFormat, routes: routes, redactAlways: redactAlways, rules: rules,
            digest: digest, source: source, includes: includes, facts: facts, requestFacts: requestFacts, obligations: obligations,
            warnings: warnings, factLookup: factLookup, vocabulary: vocabulary
        )
    }
}
