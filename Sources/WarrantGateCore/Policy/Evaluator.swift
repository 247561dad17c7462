import Foundation

/// Everything the evaluator may consult about one request.
public struct EvaluationInput: Sendable {
    public let agency: Agency
    public let method: String
    public let classification: Classification
    /// The value of the request's single `Warrant-Reference` header, if any.
    public let warrantReference: String?
    /// The facts the caller stated, by name, each one of its declared values (see ``RequestFact``).
    public let requestFacts: [String: String]
    public let time: Date

    public init(
        agency: Agency, method: String, classification: Classification, warrantReference: String?, requestFacts: [String: String] = [:], time: Date
    ) {
        self.agency = agency
        self.method = method
        self.classification = classification
        self.warrantReference = warrantReference
        self.requestFacts = requestFacts
        self.time = time
    }
}

/// A rule that could not be evaluated. The decision is then deny, never a skipped rule.
public struct EvaluationError: Error, Sendable, Equatable {
    public let rule: String
    public let detail: String
}

/// Evaluates a policy with Cedar-like semantics: default deny, forbid overrides permit, every decision names
/// its determining rules and one reason. Unlike Cedar, a rule that errors is not skipped: the request is denied
/// with reason `policy_error`. A class: the gateway's event loops share one, and read it by one reference.
public final class Evaluator: Sendable {
    public let policy: Policy
    public let verifier = WarrantVerifier()
    /// The policy's redaction list (the parser has normalised the names).
    private let redactAlways: Set<String>
    private let slices: RuleSlices
    /// The redactor for the policy's own list, and for each permit that changes what is returned: built once, so
    /// that an allowed request builds none unless two such permits apply together.
    private let alwaysRedactor: ResponseRedactor
    private let ruleRedactors: [String: (returned: Returned, redactor: ResponseRedactor)]
    /// Each permit's `document` tests that ask for a document covering the action, not negated, where it has any
    /// (see ``documentFields(of:_:)``).
    private let documentTests: [String: [DocumentCondition]]

    /// What a decision returns: the names it redacts, and the fields it returns alone, if it names them.
    private struct Returned: Equatable {
        var redact: Set<String>
        var keepOnly: Set<String>?
    }

    public init(policy: Policy) {
        self.policy = policy
        let redactAlways = Set(policy.redactAlways)
        self.redactAlways = redactAlways
        self.slices = RuleSlices(policy.rules)
        self.alwaysRedactor = ResponseRedactor(names: redactAlways, shared: true)
        var ruleRedactors: [String: (Returned, ResponseRedactor)] = [:]
        for rule in policy.rules where rule.effect == .permit && rule.changesReturn(given: redactAlways) {
            let returned = Self.returned(by: [rule], redactAlways: redactAlways)
            ruleRedactors[rule.id] = (returned, Self.redactor(returned.redact, keepOnly: returned.keepOnly, redactAlways: redactAlways, shared: true))
        }
        self.ruleRedactors = ruleRedactors
        var documentTests: [String: [DocumentCondition]] = [:]
        for rule in policy.rules where rule.effect == .permit {
            let tests = Self.positiveDocumentTests(in: rule.when).filter(\.coversAction)
            if !tests.isEmpty { documentTests[rule.id] = tests }
        }
        self.documentTests = documentTests
    }

    /// The redactor for an allowed decision of this evaluator: one built with the policy, when the decision returns
    /// what the policy's list alone, or one permit alone, returns; else a new one. Permits that change nothing return
    /// the policy's list, so a decision of theirs differs from it only by the fields a warrant or document releases.
    public func redactor(for decision: Decision) -> ResponseRedactor {
        let changing = decision.rules.filter { ruleRedactors[$0] != nil }
        if changing.isEmpty && decision.keepOnly == nil { return alwaysRedactor }
        if changing.count == 1, let (returned, redactor) = ruleRedactors[changing[0]],
           returned == Returned(redact: decision.redact, keepOnly: decision.keepOnly) {
            return redactor
        }
        return Self.redactor(decision.redact, keepOnly: decision.keepOnly, redactAlways: redactAlways)
    }

    /// A redactor for `redact` and `keepOnly`; the policy's field names missing from `redact` were lifted.
    private static func redactor(_ redact: Set<String>, keepOnly: Set<String>?, redactAlways: Set<String>, shared: Bool = false) -> ResponseRedactor {
        ResponseRedactor(
            names: redact, keepOnly: keepOnly, lifted: redactAlways.subtracting(redact).filter { QualifiedName(clark: $0) == nil }, shared: shared
        )
    }

    /// What the permits that apply together return: the policy's list less what any of them lifts, plus what any of
    /// them adds; and, when every one of them names the fields it returns, those fields. `documentFields` limits a
    /// permit, by id, to the fields that the registered documents it rests on release (``documentFields(of:_:)``).
    private static func returned(by permits: [Rule], redactAlways: Set<String>, documentFields: [String: Set<String>] = [:]) -> Returned {
        var redact = redactAlways
        for rule in permits { redact.subtract(rule.lift) }
        for rule in permits { redact.formUnion(rule.redact) }
        var keepOnly: Set<String>? = []
        for rule in permits {
            let limit = documentFields[rule.id]
            guard let fields = rule.keepOnly.map({ kept in limit.map { $0.intersection(kept) } ?? Set(kept) }) ?? limit else {
                keepOnly = nil
                break
            }
            keepOnly?.formUnion(fields)
        }
        return Returned(redact: redact, keepOnly: keepOnly)
    }

    /// The policy's decision, with the obligations of every request of the agency's category after the rules'.
    public func evaluate(_ input: EvaluationInput, registry: any DocumentRegistry) -> Decision {
        evaluateRules(input, registry: registry).adding(obligations: policy.obligations(everyRequestOf: input.agency.category))
    }

    private func evaluateRules(_ input: EvaluationInput, registry: any DocumentRegistry) -> Decision {
        var context = Context(input: input, registry: registry, verifier: verifier, policy: policy)
        var forbids: [Rule] = []
        var permits: [Rule] = []
        // The first rule that could not be evaluated denies the request; the others are still evaluated, so that the
        // denial records the obligations of every forbid that applies (a report counts refusals too).
        var failed: String?
        for rule in slices.rules(for: input.agency.category) where isInForce(rule, at: input.time) {
            do {
                guard try applies(rule, &context) else { continue }
            } catch {
                if failed == nil { failed = (error as? EvaluationError)?.rule ?? rule.id }
                continue
            }
            switch rule.effect {
            case .forbid: forbids.append(rule)
            case .permit: permits.append(rule)
            }
        }
        if let failed {
            return Decision(effect: .deny, reason: GatewayReason.policyError.rawValue, rules: [failed], obligations: Self.obligations(of: forbids))
        }
        if let first = forbids.first {
            let reason: String
            if first.reason == Rule.warrantFailureReason {
                // The warrant's own failure names the reason. A warrant that verified but that the rule's test refuses
                // (its kind, nature or court) is not accepted; if the unless tests more than the warrant, which part
                // failed is unknown, and the denial is a policy error (`policy check` warns of such a rule).
                switch try? context.checkWarrant() {
                case .failed(let failure)?:
                    reason = failure.reason.rawValue
                case .verified(let reference)? where first.unless?.testsOnlyWarrant == true:
                    let document = try? registry.document(reference: reference)
                    let onSignature = document.map { first.unless?.refusesOnlySignature(of: $0) == true } ?? false
                    reason = (onSignature ? GatewayReason.warrantSignatureUnverified : .warrantNotAccepted).rawValue
                default:
                    return Decision(effect: .deny, reason: GatewayReason.policyError.rawValue, rules: [first.id], obligations: Self.obligations(of: forbids))
                }
            } else {
                reason = first.reason
            }
            return Decision(effect: .deny, reason: reason, rules: forbids.map(\.id), obligations: Self.obligations(of: forbids))
        }
        guard !permits.isEmpty else { return .refusal(.noMatchingPermit) }
        var limits: [String: Set<String>] = [:]
        do {
            for rule in permits where documentTests[rule.id] != nil { limits[rule.id] = try documentFields(of: rule, context) }
        } catch {
            return Decision(effect: .deny, reason: GatewayReason.policyError.rawValue, rules: permits.map(\.id))
        }
        var returned = Self.returned(by: permits, redactAlways: redactAlways, documentFields: limits)
        var warrant: String?
        if case .verified(let reference)? = context.warrant {
            warrant = reference
            // A warrant the decision consulted that releases only some fields for this action limits the response to them.
            do {
                if let fields = try registry.document(reference: reference)?.fields(for: input.classification.action) {
                    returned.keepOnly = returned.keepOnly.map { $0.intersection(fields) } ?? fields
                }
            } catch {
                return Decision(effect: .deny, reason: GatewayReason.policyError.rawValue, rules: permits.map(\.id))
            }
        }
        return Decision(
            effect: .allow, reason: permits[0].reason, rules: permits.map(\.id), redact: returned.redact, keepOnly: returned.keepOnly,
            obligations: Self.obligations(of: permits), warrant: warrant
        )
    }

    /// The rules' obligations, each once, in the order they are first named.
    private static func obligations(of rules: [Rule]) -> [String] {
        var obligations: [String] = []
        for rule in rules {
            for obligation in rule.obligations where !obligations.contains(obligation) { obligations.append(obligation) }
        }
        return obligations
    }

    /// The fields a permit may return for the registered documents its `when` rests on: a `document` test that asks
    /// for one covering the action (not under `not`) is met by documents that may release only some fields for it
    /// (``RegisteredDocument/fields(for:)``), as a presented warrant is. The union over the documents that meet each such
    /// test, intersected over the tests that some document meets (one that none meets is an `any:` branch the permit
    /// held without); nil when one of them releases everything, or no such test is met.
    private func documentFields(of rule: Rule, _ context: Context) throws -> Set<String>? {
        var limit: Set<String>?
        for condition in documentTests[rule.id] ?? [] {
            let documents = try context.documents(meeting: condition)
            if documents.isEmpty { continue }
            var released: Set<String>? = []
            for document in documents {
                guard let fields = document.fields(for: context.input.classification.action) else {
                    released = nil
                    break
                }
                released?.formUnion(fields)
            }
            if let released { limit = limit.map { $0.intersection(released) } ?? released }
        }
        return limit
    }

    /// The `document` tests of a condition that are not negated.
    private static func positiveDocumentTests(in condition: Condition) -> [DocumentCondition] {
        switch condition {
        case .document(let test): [test]
        case .all(let conditions), .any(let conditions): conditions.flatMap(positiveDocumentTests)
        default: []
        }
    }

    /// Whether a rule's `when` holds and its `unless` does not.
    func applies(_ rule: Rule, _ context: inout Context) throws -> Bool {
        do {
            defer { context.allowing = true }
            context.allowing = rule.effect == .permit
            guard try context.holds(rule.when) else { return false }
            context.allowing = rule.effect != .permit
            if let unless = rule.unless, try context.holds(unless) { return false }
            return true
        } catch let error as EvaluationError {
            throw error
        } catch {
            throw EvaluationError(rule: rule.id, detail: String(describing: error))
        }
    }

    func isInForce(_ rule: Rule, at time: Date) -> Bool {
        guard rule.effectiveFrom != nil || rule.effectiveUntil != nil else { return true }
        let today = LocalDate(date: time, timeZone: policy.timeZone)
        if let from = rule.effectiveFrom, today < from { return false }
        if let until = rule.effectiveUntil, until < today { return false }
        return true
    }

    /// Per-request evaluation state: the warrant is checked at most once, and only if a rule asks.
    struct Context {
        let input: EvaluationInput
        let registry: any DocumentRegistry
        let verifier: WarrantVerifier
        let timeZone: TimeZone
        /// The facts the policy declares, whose values a fact test holds a recorded value to.
        let facts: [String: FactDeclaration]
        var warrant: WarrantCheck?
        /// Whether the condition being read, if it holds, tends to allow the request: a permit's `when`, a forbid's
        /// `unless`, and under `not` the other way round. There a `document` test reads only the document the request
        /// names (``documents(meeting:)``); elsewhere every document on file, so that naming one cannot hide another
        /// from a test that would refuse.
        var allowing = true

        init(input: EvaluationInput, registry: any DocumentRegistry, verifier: WarrantVerifier, policy: Policy) {
            self.input = input
            self.registry = registry
            self.verifier = verifier
            self.timeZone = policy.timeZone
            self.facts = policy.facts
        }

        /// The subject's registered documents, of this agency, that meet a `document` test. Where the test would allow
        /// (``allowing``), only the one the request names, when it names one (the body's
        /// ``Classification/citedDocument``, which the upstream files the request under, else the `Warrant-Reference`).
        /// An active one not in force through what the request asks for (``RegisteredDocument/isInForce(at:through:)``)
        /// counts as expired.
        func documents(meeting condition: DocumentCondition) throws -> [RegisteredDocument] {
            guard let subject = input.classification.subject else { return [] }
            let named = allowing ? input.classification.citedDocument ?? input.warrantReference : nil
            return try registry.documents(subject: subject).filter { document in
                if let named, !document.reference.utf8.elementsEqual(named.utf8) { return false }
                guard document.agency == input.agency.id, condition.statuses.contains(document.status) else { return false }
                if document.status == .active && !document.isInForce(at: input.time, through: input.classification.until)
                    && !condition.statuses.contains(.expired) { return false }
                guard condition.test.accepts(document), !registry.isMisfiled(document) else { return false }
                if condition.coversAction && !document.covers(action: input.classification.action) { return false }
                if let maxAge = condition.maxAge {
                    guard let registered = document.registeredAt, input.time.timeIntervalSince(registered) <= maxAge else { return false }
                }
                return true
            }
        }

        mutating func holds(_ condition: Condition) throws -> Bool {
            switch condition {
            case .always:
                return true
            case .agency(let ids):
                return ids.holds(input.agency.id)
            case .category(let categories):
                return categories.holds(input.agency.category)
            case .action(let patterns):
                return patterns.contains { ActionPattern.matches(pattern: $0, action: input.classification.action) }
            case .method(let methods):
                return methods.holds(input.method)
            case .warrantVerified(let test):
                guard case .verified(let reference) = try checkWarrant() else { return false }
                if test.isEmpty { return true }
                return try registry.document(reference: reference).map(test.accepts) ?? false
            case .advisementRecorded(let within):
                guard let subject = input.classification.subject else { return false }
                return try registry.records(subject: subject).contains { record in
                    guard record.kind == .advisement, record.givenAt <= input.time else { return false }
                    guard let within else { return true }
                    return input.time.timeIntervalSince(record.givenAt) <= within
                }
            case .consent(let condition):
                guard let subject = input.classification.subject else { return false }
                // The latest record about consent decides; of two at the same instant, the later recorded.
                var latest: (record: SubjectRecord, status: ConsentStatus)?
                for record in try registry.records(subject: subject) where record.givenAt <= input.time {
                    guard let status = ConsentStatus(recordKind: record.kind) else { continue }
                    if latest == nil || record.givenAt >= latest!.record.givenAt { latest = (record, status) }
                }
                guard let latest, condition.statuses.contains(latest.status) else { return false }
                if let within = condition.within, input.time.timeIntervalSince(latest.record.givenAt) > within { return false }
                guard latest.status == .given else { return true }
                switch condition.attorney {
                case .any: return true
                case .required: return latest.record.attorneyRequired
                case .notRequired: return !latest.record.attorneyRequired
                }
            case .authorizationCovers(let fields):
                guard let subject = input.classification.subject else { return false }
                let records = try registry.records(subject: subject).filter {
                    $0.givenAt <= input.time && ($0.kind == .writtenAuthorization || $0.kind == .authorizationWithdrawn)
                }
                // For each field, the latest authorization or withdrawal that names it, in any letter case (a
                // withdrawal naming none names every field), decides; of two at the same instant, the later recorded.
                return fields.allSatisfy { field in
                    let wanted = field.lowercased()
                    var latest: SubjectRecord?
                    for record in records
                    where record.scope.contains(where: { $0.lowercased() == wanted }) || (record.kind == .authorizationWithdrawn && record.scope.isEmpty) {
                        if latest == nil || record.givenAt >= latest!.givenAt { latest = record }
                    }
                    return latest?.kind == .writtenAuthorization
                }
            case .document(let condition):
                return try !documents(meeting: condition).isEmpty
            case .fact(let name, let values):
                guard let subject = input.classification.subject, let value = try registry.facts(subject: subject)[name] else { return false }
                // A value the policy no longer declares (set under an earlier one) is no answer: read as "not one of
                // these", it would make a `not:` of the test hold.
                if let problem = facts[name]?.problem(with: value, of: name) { throw FactValueError(detail: "the registry holds \(problem)") }
                return values.contains(value)
            case .requestFact(let name, let values):
                return input.requestFacts[name].map(values.contains) ?? false
            case .elapsed(let fact, let window):
                guard let (date, now) = try datedFact(fact) else { return false }
                return window.contains(from: date, to: now, in: timeZone)
            case .remaining(let fact, let window):
                guard let (date, now) = try datedFact(fact) else { return false }
                return window.contains(from: now, to: date, in: timeZone)
            case .data(let kinds):
                return input.classification.route.data.contains { kinds.holds($0) }
            case .publicData:
                let route = input.classification.route
                if route.isPublic { return true }
                guard !route.data.isEmpty, let subject = input.classification.subject else { return false }
                let facts = try registry.facts(subject: subject)
                return route.data.allSatisfy { facts["public-\($0)"] == "yes" }
            case .all(let conditions):
                for condition in conditions where try !holds(condition) { return false }
                return true
            case .any(let conditions):
                for condition in conditions where try holds(condition) { return true }
                return false
            case .not(let condition):
                allowing.toggle()
                defer { allowing.toggle() }
                return try !holds(condition)
            }
        }

        /// The presented warrant's check, made once.
        mutating func checkWarrant() throws -> WarrantCheck {
            if let warrant { return warrant }
            let check = try verifier.verify(
                reference: input.warrantReference, agency: input.agency.id, subject: input.classification.subject,
                action: input.classification.action, at: input.time, until: input.classification.until, registry: registry
            )
            warrant = check
            return check
        }

        /// The subject's dated fact, and the instant to measure it against: the request's time for a fact that is an
        /// instant, the start of the request's day for one that is a day, so that days count whole (a conviction five
        /// years ago today is within `at-most: 5y`). Nil when the request has no subject or the fact is not on record;
        /// an error (so the rule denies) when it is on record but not a date.
        private func datedFact(_ name: String) throws -> (fact: Date, now: Date)? {
            guard let subject = input.classification.subject, let value = try registry.facts(subject: subject)[name] else { return nil }
            if let day = LocalDate(value, years: LocalDate.factYears) {
                return (day.start(in: timeZone), LocalDate(date: input.time, timeZone: timeZone).start(in: timeZone))
            }
            guard let instant = Timestamp.parse(value) else {
                throw FactValueError(detail: "fact \(name) is '\(value.prefix(64))', not a date YYYY-MM-DD or an ISO 8601 time")
            }
            return (instant, input.time)
        }
    }

    /// A fact whose recorded value the policy does not declare: a dated fact's that is not a date, another's that is
    /// none of its values.
    struct FactValueError: Error, CustomStringConvertible {
        let detail: String
        var description: String { detail }
    }
}

extension Set {
    /// Membership for the few-element sets a policy's conditions hold: up to eight elements are compared one by one
    /// rather than hashing the probe; the answer is `contains(_:)`'s.
    func holds(_ element: Element) -> Bool {
        count <= 8 ? contains { $0 == element } : contains(element)
    }
}
