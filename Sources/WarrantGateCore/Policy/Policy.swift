import Crypto
import Foundation

/// Whether a rule permits or forbids. Forbid overrides permit.
public enum RuleEffect: String, Sendable {
    case permit
    case forbid
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
    /// Duties recorded on the decision, such as `count-for-council-report`.
    public let obligations: [String]
    /// Dates, in the policy's time zone, between which the rule is in force (inclusive; either may be open).
    public let effectiveFrom: LocalDate?
    public let effectiveUntil: LocalDate?
    /// The line of the rule in its file, for explanations.
    public let line: Int?

    public init(
        id: String, effect: RuleEffect, description: String?, when: Condition, unless: Condition?, reason: String, redact: [String],
        obligations: [String], effectiveFrom: LocalDate?, effectiveUntil: LocalDate?, line: Int?
    ) {
        self.id = id
        self.effect = effect
        self.description = description
        self.when = when
        self.unless = unless
        self.reason = reason
        self.redact = redact
        self.obligations = obligations
        self.effectiveFrom = effectiveFrom
        self.effectiveUntil = effectiveUntil
        self.line = line
    }

    public static func == (lhs: Rule, rhs: Rule) -> Bool {
        lhs.id == rhs.id && lhs.effect == rhs.effect && lhs.description == rhs.description && lhs.when == rhs.when && lhs.unless == rhs.unless
            && lhs.reason == rhs.reason && lhs.redact == rhs.redact && lhs.obligations == rhs.obligations
            && lhs.effectiveFrom == rhs.effectiveFrom && lhs.effectiveUntil == rhs.effectiveUntil && lhs.line == rhs.line
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

    public init(upstream: String, path: String, ttl: TimeInterval, maxEntries: Int) {
        self.upstream = upstream
        self.path = path
        self.ttl = ttl
        self.maxEntries = maxEntries
    }
}

/// A jurisdiction's policy: routes that classify requests, fields never shared, and rules.
public struct Policy: Sendable {
    public let name: String
    public let title: String
    public let timeZone: TimeZone
    public let subjectFormat: SubjectFormat
    public let routes: [Route]
    /// Names removed from every response, whoever asks: lower-case field names and Clark names (see
    /// ``RedactionVocabulary``).
    public let redactAlways: [String]
    public let rules: [Rule]
    /// Lower-case hex SHA-256 of the policy file's bytes: recorded with every decision.
    public let digest: String
    public let source: String
    /// Problems that do not stop the policy from loading: unknown data kinds or facts, rules that can never match,
    /// rules shadowed by a forbid. `policy check` prints them.
    public let warnings: [FileError]
    /// Facts looked up in a records system (beside those set in the registry), if the policy configures it.
    public let factLookup: FactLookup?
    /// The namespaces and profiles the policy's `redact:` entries, and its test files' expectations, are read with.
    public let vocabulary: RedactionVocabulary

    public var classifier: Classifier { Classifier(routes: routes, subjectFormat: subjectFormat) }

    public init(
        name: String, title: String, timeZone: TimeZone, subjectFormat: SubjectFormat, routes: [Route], redactAlways: [String],
        rules: [Rule], digest: String, source: String, warnings: [FileError] = [], factLookup: FactLookup? = nil,
        vocabulary: RedactionVocabulary = .empty
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
        self.warnings = warnings
        self.factLookup = factLookup
        self.vocabulary = vocabulary
    }

    /// The SHA-256 of the policy file's bytes, followed by those of each profile it includes, in the order of
    /// their aliases.
    static func digest(of bytes: [UInt8], profiles: [String: RedactionProfile] = [:]) -> String {
        var hash = SHA256()
        hash.update(data: bytes)
        for alias in profiles.keys.sorted() { hash.update(data: profiles[alias]!.bytes) }
        return Hex.encode(hash.finalize())
    }
}
