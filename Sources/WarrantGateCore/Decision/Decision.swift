/// Allow or deny.
public enum Effect: String, Sendable, Codable {
    case allow
    case deny
}

/// What the gateway decided about one request, and why.
public struct Decision: Sendable, Equatable {
    public let effect: Effect
    /// One reason code: a ``GatewayReason`` such as `permitted`, `warrant_missing` or `no_route`, or one that a
    /// policy's forbid rule names.
    public let reason: String
    /// The ids of the rules that determined the decision (empty for default deny and for gateway refusals).
    public let rules: [String]
    /// Fields to remove from the response (only meaningful when allowed).
    public let redact: Set<String>
    /// When a permit returns only chosen fields: the names kept at the top of the response; every other top-level
    /// field is removed as a redacted one is. Nil returns every field not in `redact`.
    public let keepOnly: Set<String>?
    /// Duties recorded with the decision.
    public let obligations: [String]
    /// The warrant that verified, if any.
    public let warrant: String?

    public init(
        effect: Effect, reason: String, rules: [String] = [], redact: Set<String> = [], keepOnly: Set<String>? = nil, obligations: [String] = [],
        warrant: String? = nil
    ) {
        self.effect = effect
        self.reason = reason
        self.rules = rules
        self.redact = redact
        self.keepOnly = keepOnly
        self.obligations = obligations
        self.warrant = warrant
    }

    /// Whether a top-level field of this name (a field name, or a Clark name) reaches the client: it is not redacted,
    /// and an allow-list, if any, names it. A field name is compared with the plain names as redaction compares them
    /// (``FieldNameKey``: `immigration_status` is `immigrationStatus`), a Clark name exactly. Nested fields are
    /// governed by `redact` alone.
    public func keeps(topLevel name: String) -> Bool {
        guard QualifiedName(clark: name) == nil else { return !redact.contains(name) && (keepOnly?.contains(name) ?? true) }
        let key = FieldNameKey.of(name)
        func names(_ set: Set<String>) -> Bool { set.contains { QualifiedName(clark: $0) == nil && FieldNameKey.of($0) == key } }
        return !names(redact) && (keepOnly.map(names) ?? true)
    }

    /// This decision with `more` obligations after its own, each once.
    public func adding(obligations more: [String]) -> Decision {
        let extra = more.filter { !obligations.contains($0) }
        if extra.isEmpty { return self }
        return Decision(
            effect: effect, reason: reason, rules: rules, redact: redact, keepOnly: keepOnly, obligations: obligations + extra, warrant: warrant
        )
    }

    /// A denial by the gateway itself, before or outside the policy (bad request, unknown agency, and so on).
    public static func refusal(_ reason: GatewayReason) -> Decision {
        Decision(effect: .deny, reason: reason.rawValue)
    }
}
