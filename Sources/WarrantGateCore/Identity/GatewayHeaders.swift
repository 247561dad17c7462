/// The headers the gateway adds to the requests it forwards, saying who asks (from the client's certificate, never
/// from a header) and under which decision: each on every request, but ``warrant`` only where a warrant verified. A
/// client's own headers of these names never reach an upstream: only an allow-list of request headers is forwarded. An
/// upstream behind the gateway may rely on them for who asks.
public enum GatewayHeaders {
    /// The agency's id, as the agency directory names it.
    public static let agency = "Gateway-Agency"
    /// The agency's category (`federal-immigration`, `local-law-enforcement`, …).
    public static let agencyCategory = "Gateway-Agency-Category"
    /// The reference of the registered warrant the decision verified, when one did.
    public static let warrant = "Gateway-Warrant"
    /// The decision's id: the key of its row in the log. Every answer to the client carries it too.
    public static let decision = "Decision-Id"
}
