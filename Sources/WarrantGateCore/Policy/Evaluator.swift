import Foundation

/// Everything the evaluator may consult about one request.
public struct EvaluationInput: Sendable {
    public let agency: Agency
    public let method: String
    public let classification: Classification
    /// The value of the request's single `Warrant-Reference` header, if any.
    public let warrantReference: String?
    public let time: Date

    public init(agency: Agency, method: String, classification: Classification, warrantReference: String?, time: Date) {
        self.agency = agency
        self.method = method
        self.classification = classification
        self.warrantReference = warrantReference
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
/// with reason `policy_error`.
public struct Evaluator: Sendable {
    public let policy: Policy
    public let verifier = WarrantVerifier()
    /// The policy's redaction list and each rule's (the parser has normalised the names).
    private let redactAlways: Set<String>
    private let ruleRedactions: [String: [String]]
    /// The redactor for the policy's own list, and for it with each permit rule's own list: built once, so that an
    /// allowed request builds none unless two permits that add names apply together.
    private let alwaysRedactor: ResponseRedactor
    private let ruleRedactors: [String: ResponseRedactor]

    public init(policy: Policy) {
        self.policy = policy
        let redactAlways = Set(policy.redactAlways)
        self.redactAlways = redactAlways
        self.ruleRedactions = Dictionary(policy.rules.map { ($0.id, $0.redact) }, uniquingKeysWith: { first, _ in first })
        self.alwaysRedactor = ResponseRedactor(names: redactAlways)
        self.ruleRedactors = Dictionary(
            policy.rules.filter { !Set($0.redact).isSubset(of: redactAlways) }.map { ($0.id, ResponseRedactor(names: redactAlways.union($0.redact))) },
            uniquingKeysWith: { first, _ in first }
        )
    }

    /// The redactor for an allowed decision of this evaluator.
    public func redactor(for decision: Decision) -> ResponseRedactor {
        // An allowed decision's list always contains the policy's own, so equal sizes mean equal lists.
        if decision.redact.count == redactAlways.count { return alwaysRedactor }
        let adding = decision.rules.filter { ruleRedactors[$0] != nil }
        if adding.count == 1, let redactor = ruleRedactors[adding[0]] { return redactor }
        return ResponseRedactor(names: decision.redact)
    }

    public func evaluate(_ input: EvaluationInput, registry: any DocumentRegistry) -> Decision {
        var context = Context(input: input, registry: registry, verifier: verifier)
        var forbids: [Rule] = []
        var permits: [Rule] = []
        for rule in policy.rules where isInForce(rule, at: input.time) {
            do {
                guard try applies(rule, &context) else { continue }
            } catch let error as EvaluationError {
                return Decision(effect: .deny, reason: GatewayReason.policyError.rawValue, rules: [error.rule])
            } catch {
                return Decision(effect: .deny, reason: GatewayReason.policyError.rawValue, rules: [rule.id])
            }
            switch rule.effect {
            case .forbid: forbids.append(rule)
            case .permit: permits.append(rule)
            }
        }
        if let first = forbids.first {
            let reason: String
            if first.reason == Rule.warrantFailureReason {
                guard case .failed(let failure)? = context.warrant else {
                    return Decision(effect: .deny, reason: GatewayReason.policyError.rawValue, rules: [first.id])
                }
                reason = failure.reason.rawValue
            } else {
                reason = first.reason
            }
            return Decision(effect: .deny, reason: reason, rules: forbids.map(\.id))
        }
        guard !permits.isEmpty else { return .refusal(.noMatchingPermit) }
        var redact = redactAlways
        var obligations: [String] = []
        for rule in permits {
            if let extra = ruleRedactions[rule.id], !extra.isEmpty { redact.formUnion(extra) }
            for obligation in rule.obligations where !obligations.contains(obligation) { obligations.append(obligation) }
        }
        var warrant: String?
        if case .verified(let reference)? = context.warrant { warrant = reference }
        return Decision(effect: .allow, reason: permits[0].reason, rules: permits.map(\.id), redact: redact, obligations: obligations, warrant: warrant)
    }

    /// Whether a rule's `when` holds and its `unless` does not.
    func applies(_ rule: Rule, _ context: inout Context) throws -> Bool {
        do {
            guard try context.holds(rule.when) else { return false }
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
        var warrant: WarrantCheck?

        init(input: EvaluationInput, registry: any DocumentRegistry, verifier: WarrantVerifier) {
            self.input = input
            self.registry = registry
            self.verifier = verifier
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
            case .warrantVerified(let kinds):
                if warrant == nil {
                    warrant = try verifier.verify(
                        reference: input.warrantReference, agency: input.agency.id, subject: input.classification.subject,
                        action: input.classification.action, at: input.time, registry: registry
                    )
                }
                guard case .verified(let reference)? = warrant else { return false }
                guard let kinds else { return true }
                return try registry.document(reference: reference).map { kinds.contains($0.kind) } ?? false
            case .advisementRecorded(let within):
                guard let subject = input.classification.subject else { return false }
                return try registry.records(subject: subject).contains { record in
                    guard record.kind == .advisement, record.givenAt <= input.time else { return false }
                    guard let within else { return true }
                    return input.time.timeIntervalSince(record.givenAt) <= within
                }
            case .consentRecorded(let attorney, let within):
                guard let subject = input.classification.subject else { return false }
                return try registry.records(subject: subject).contains { record in
                    guard record.kind == .consent, record.givenAt <= input.time else { return false }
                    if let within, input.time.timeIntervalSince(record.givenAt) > within { return false }
                    switch attorney {
                    case .any: return true
                    case .required: return record.attorneyRequired
                    case .notRequired: return !record.attorneyRequired
                    }
                }
            case .authorizationCovers(let fields):
                guard let subject = input.classification.subject else { return false }
                return try registry.records(subject: subject).contains { record in
                    record.kind == .writtenAuthorization && record.givenAt <= input.time && fields.allSatisfy(record.scope.contains)
                }
            case .document(let condition):
                guard let subject = input.classification.subject else { return false }
                return try registry.documents(subject: subject).contains { document in
                    guard document.agency == input.agency.id, condition.statuses.contains(document.status) else { return false }
                    if document.status == .active && document.expiresAt <= input.time && !condition.statuses.contains(.expired) { return false }
                    if let kinds = condition.kinds, !kinds.contains(document.kind) { return false }
                    if condition.coversAction && !document.covers(action: input.classification.action) { return false }
                    if let maxAge = condition.maxAge {
                        guard let registered = document.registeredAt, input.time.timeIntervalSince(registered) <= maxAge else { return false }
                    }
                    return true
                }
            case .fact(let name, let values):
                guard let subject = input.classification.subject, let value = try registry.facts(subject: subject)[name] else { return false }
                return values.contains(value)
            case .data(let kinds):
                return input.classification.route.data.contains { kinds.holds($0) }
            case .publicData:
                return input.classification.route.isPublic
            case .all(let conditions):
                for condition in conditions where try !holds(condition) { return false }
                return true
            case .any(let conditions):
                for condition in conditions where try holds(condition) { return true }
                return false
            case .not(let condition):
                return try !holds(condition)
            }
        }
    }
}

extension Set {
    /// Membership for the few-element sets a policy's conditions hold: up to eight elements are compared one by one
    /// rather than hashing the probe; the answer is `contains(_:)`'s.
    func holds(_ element: Element) -> Bool {
        count <= 8 ? contains { $0 == element } : contains(element)
    }
}
