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
    /// action and date, and that passes the test.
    case warrantVerified(DocumentTest)
    /// An advisement of rights is on record for the subject (optionally given no longer ago than `within`).
    case advisementRecorded(within: TimeInterval?)
    /// The subject's consent stands as the condition asks (see ``ConsentCondition``).
    case consent(ConsentCondition)
    /// The inmate's written authorization to share covers every one of these fields.
    case authorizationCovers([String])
    /// A registered document for this subject and agency matches.
    case document(DocumentCondition)
    /// A fact about the subject has one of the values.
    case fact(name: String, values: Set<String>)
    /// A fact the caller states about its request (a header or body member the policy declares) has one of the values.
    case requestFact(name: String, values: Set<String>)
    /// The time since a dated fact about the subject lies within the window.
    case elapsed(since: String, TimeWindow)
    /// The time until a dated fact about the subject lies within the window.
    case remaining(until: String, TimeWindow)
    /// The route returns one of these kinds of data (the route's `data` list).
    case data(Set<String>)
    /// The data is already public: the route is, or every kind of data it returns is recorded public for the subject
    /// (a fact `public-<kind>: "yes"`).
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
        case .warrantVerified(let test): test.isEmpty ? "warrant verified" : "warrant verified, \(test.summary)"
        case .advisementRecorded(let within): within.map { "advisement recorded within \(Int($0 / 3600))h" } ?? "advisement recorded"
        case .consent(let condition): condition.summary
        case .authorizationCovers(let fields): "written authorization covers [\(fields.joined(separator: ", "))]"
        case .document(let condition): "document \(condition.summary)"
        case .fact(let name, let values): "fact \(name) in [\(values.sorted().joined(separator: ", "))]"
        case .requestFact(let name, let values): "request fact \(name) in [\(values.sorted().joined(separator: ", "))]"
        case .elapsed(let fact, let window): "time since \(fact) \(window.summary)"
        case .remaining(let fact, let window): "time until \(fact) \(window.summary)"
        case .data(let kinds): "route data in [\(kinds.sorted().joined(separator: ", "))]"
        case .publicData: "data already public"
        case .all(let conditions): "all of (\(conditions.map(\.summary).joined(separator: "; ")))"
        case .any(let conditions): "any of (\(conditions.map(\.summary).joined(separator: "; ")))"
        case .not(let condition): "not (\(condition.summary))"
        }
    }

    /// Whether the condition (or a part of it) consults the warrant check.
    var mentionsWarrant: Bool { parts.contains { if case .warrantVerified = $0 { true } else { false } } }

    /// The condition and every condition within it, outermost first.
    var parts: [Condition] {
        switch self {
        case .all(let conditions), .any(let conditions): [self] + conditions.flatMap(\.parts)
        case .not(let condition): [self] + condition.parts
        default: [self]
        }
    }

    /// Whether every test in the condition is a warrant test.
    var testsOnlyWarrant: Bool {
        !parts.contains { part in
            if case .warrantVerified = part { return false }
            return part.isTest
        }
    }

    /// Whether a warrant test in the condition would accept `document` but for its signature.
    func refusesOnlySignature(of document: RegisteredDocument) -> Bool {
        parts.contains { part in
            guard case .warrantVerified(let test) = part else { return false }
            return test.acceptsTerms(document) && !test.acceptsSignature(document)
        }
    }

    /// Whether the condition tests something itself, rather than combining others.
    var isTest: Bool {
        switch self {
        case .all, .any, .not, .always: false
        default: true
        }
    }

    /// The top-level conjuncts of the condition.
    var conjuncts: [Condition] {
        if case .all(let parts) = self { return parts.flatMap(\.conjuncts) }
        return [self]
    }
}

/// Whether a consent must, or must not, require an attorney to count.
public enum AttorneyRequirement: String, Sendable, Equatable, CaseIterable {
    case any
    case required
    case notRequired = "not-required"
}

/// A test on the subject's consent to an interview: the latest consent, refusal or withdrawal given before the
/// request decides its status. With no record the status is none of them, and the condition does not hold.
public struct ConsentCondition: Sendable, Equatable {
    public var statuses: Set<ConsentStatus> = [.given]
    /// For a given consent: whether it must require an attorney.
    public var attorney = AttorneyRequirement.any
    /// The deciding record was made no longer ago than this.
    public var within: TimeInterval?

    public init(statuses: Set<ConsentStatus> = [.given], attorney: AttorneyRequirement = .any, within: TimeInterval? = nil) {
        self.statuses = statuses
        self.attorney = attorney
        self.within = within
    }

    var summary: String {
        var text = "consent \(statuses.map(\.rawValue).sorted().joined(separator: " or "))"
        if attorney != .any { text += " (attorney \(attorney.rawValue))" }
        if let within { text += " within \(Int(within / 3600))h" }
        return text
    }
}

/// A length of time a policy writes: `15m` and `48h` as lengths of time, `30d` and `5y` as calendar days and years in
/// the policy's time zone (so that a day across a change of clocks is still a day).
public enum PolicyDuration: Sendable, Equatable, CustomStringConvertible {
    case seconds(TimeInterval)
    case days(Int)
    case years(Int)

    /// `date` moved forward by this duration.
    func added(to date: Date, in timeZone: TimeZone) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        switch self {
        case .seconds(let seconds): return date.addingTimeInterval(seconds)
        case .days(let days): return calendar.date(byAdding: .day, value: days, to: date) ?? .distantFuture
        case .years(let years): return calendar.date(byAdding: .year, value: years, to: date) ?? .distantFuture
        }
    }

    public var description: String {
        switch self {
        case .seconds(let seconds) where seconds.truncatingRemainder(dividingBy: 3600) == 0: "\(Int(seconds / 3600))h"
        case .seconds(let seconds): "\(Int(seconds / 60))m"
        case .days(let days): "\(days)d"
        case .years(let years): "\(years)y"
        }
    }
}

/// Bounds on a span of time: at least one, at most the other, either open. The span between two instants lies
/// within the window when each bound holds; a span that is negative (a date on the wrong side of now) never does.
public struct TimeWindow: Sendable, Equatable {
    public var atLeast: PolicyDuration?
    public var atMost: PolicyDuration?

    public init(atLeast: PolicyDuration? = nil, atMost: PolicyDuration? = nil) {
        self.atLeast = atLeast
        self.atMost = atMost
    }

    /// Whether the span from `start` to `end` is within the window.
    func contains(from start: Date, to end: Date, in timeZone: TimeZone) -> Bool {
        guard start <= end else { return false }
        if let atLeast, atLeast.added(to: start, in: timeZone) > end { return false }
        if let atMost, atMost.added(to: start, in: timeZone) < end { return false }
        return true
    }

    var summary: String {
        [atLeast.map { "at least \($0)" }, atMost.map { "at most \($0)" }].compactMap { $0 }.joined(separator: " and ")
    }
}

/// What a document itself must be: its kind, its nature, the court that issued it, whether a judge is on record.
/// Every part given must hold; an empty test accepts any document.
public struct DocumentTest: Sendable, Equatable {
    public var kinds: Set<DocumentKind>?
    public var natures: Set<DocumentNature>?
    /// Court name patterns (`*` matches any run of characters; letter case is ignored); one must match the
    /// document's recorded court.
    public var courts: [String]?
    /// The document records the judge who signed it.
    public var judgeRecorded = false
    /// The document's scan must have been verified at registration as signed by a court of `courts.yaml`.
    public var signed = false
    /// With ``signed``: the `courts.yaml` ids of which one must be the signer's court; nil for any listed court.
    public var signedBy: [String]?

    public init(
        kinds: Set<DocumentKind>? = nil, natures: Set<DocumentNature>? = nil, courts: [String]? = nil, judgeRecorded: Bool = false,
        signed: Bool = false, signedBy: [String]? = nil
    ) {
        self.kinds = kinds
        self.natures = natures
        self.courts = courts
        self.judgeRecorded = judgeRecorded
        self.signed = signed || signedBy != nil
        self.signedBy = signedBy
    }

    var isEmpty: Bool { kinds == nil && natures == nil && courts == nil && !judgeRecorded && !signed }

    func accepts(_ document: RegisteredDocument) -> Bool {
        acceptsTerms(document) && acceptsSignature(document)
    }

    /// Whether the document's recorded signature satisfies the test (any signature does when none is required).
    func acceptsSignature(_ document: RegisteredDocument) -> Bool {
        !signed || document.signature.isVerified(byOneOf: signedBy)
    }

    /// Whether everything but the signature holds.
    func acceptsTerms(_ document: RegisteredDocument) -> Bool {
        if let kinds, !kinds.contains(document.kind) { return false }
        if let natures, !natures.contains(document.kind.nature) { return false }
        if let courts {
            guard let court = document.court, courts.contains(where: { GlobPattern.matches($0, court) }) else { return false }
        }
        if judgeRecorded, document.judge?.contains(where: { !$0.isWhitespace }) != true { return false }
        return true
    }

    var summary: String {
        var parts: [String] = []
        if let kinds { parts.append("kind in [\(kinds.map(\.rawValue).sorted().joined(separator: ", "))]") }
        if let natures { parts.append("nature in [\(natures.map(\.rawValue).sorted().joined(separator: ", "))]") }
        if let courts { parts.append("court matching [\(courts.joined(separator: ", "))]") }
        if judgeRecorded { parts.append("judge recorded") }
        if let signedBy {
            parts.append("signed by [\(signedBy.joined(separator: ", "))]")
        } else if signed {
            parts.append("signed by a listed court")
        }
        return parts.joined(separator: ", ")
    }
}

/// A test on the documents registered for the request's subject and agency: any one matching document suffices.
public struct DocumentCondition: Sendable, Equatable {
    public var test = DocumentTest()
    public var statuses: Set<DocumentStatus> = [.active]
    /// The document's scope must cover the request's action.
    public var coversAction = false
    /// The document was registered no longer than this before the request.
    public var maxAge: TimeInterval?

    public init(test: DocumentTest = DocumentTest(), statuses: Set<DocumentStatus> = [.active], coversAction: Bool = false, maxAge: TimeInterval? = nil) {
        self.test = test
        self.statuses = statuses
        self.coversAction = coversAction
        self.maxAge = maxAge
    }

    var summary: String {
        var parts: [String] = []
        if !test.isEmpty { parts.append(test.summary) }
        parts.append("status in [\(statuses.map(\.rawValue).sorted().joined(separator: ", "))]")
        if coversAction { parts.append("covers the action") }
        if let maxAge { parts.append("at most \(Int(maxAge / 86400))d old") }
        return parts.joined(separator: ", ")
    }
}

/// `*`-wildcard matching, ignoring letter case, for the court names counsel writes.
enum GlobPattern {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let parts = pattern.lowercased().split(separator: "*", omittingEmptySubsequences: false)
        var rest = Substring(text.lowercased())
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        if parts.count == 1 { return rest.isEmpty }
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return rest.hasSuffix(parts[parts.count - 1])
    }
}
