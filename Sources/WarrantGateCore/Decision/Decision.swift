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
    /// Duties recorded with the decision.
    public let obligations: [String]
    /// The warrant that verified, if any.
    public let warrant: String?

    public init(effect: Effect, reason: String, rules: [String] = [], redact: Set<String> = [], obligations: [String] = [], warrant: String? = nil) {
        self.effect = effect
        self.reason = reason
        self.rules = rules
        self.redact = redact
        self.obligations = obligations
        self.warrant = warrant
    }

    /// A denial by the gateway itself, before or outside the policy (bad request, unknown agency, and so on).
    public static func refusal(_ reason: GatewayReason) -> Decision {
        Decision(effect: .deny, reason: reason.rawValue)
    }
}
