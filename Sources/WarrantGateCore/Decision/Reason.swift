/// The reason codes the gateway itself gives. A policy's forbid rules may name reasons of their own (strings in a
/// ``Decision``); a built-in reason is always one of these, so a misspelt code does not compile.
public enum GatewayReason: String, Sendable, CaseIterable {
    /// The reasons of a request no policy decided: the gateway asked for it again (its limits, its state, or what it
    /// could not read or write) or the client left before it was decided. A request sent again is a request again.
    public static let undecided: Set<String> = Set([
        GatewayReason.agencyConcurrencyLimit, .bodyIncomplete, .logUnavailable, .registryUnavailable, .gatewayError, .gatewayDraining,
        .stateChanged, .clientClosed,
    ].map(\.rawValue))

    case permitted
    case unknownAgency = "unknown_agency"
    case ambiguousAgency = "ambiguous_agency"
    case certificateRevoked = "certificate_revoked"
    case certificateExpired = "certificate_expired"
    case certificateUntrusted = "certificate_untrusted"
    case noClientCertificate = "no_client_certificate"
    case ambiguousPath = "ambiguous_path"
    case badHeader = "bad_header"
    /// The HTTP parser refused the request: malformed framing or headers, before any stage could read it.
    case badRequest = "bad_request"
    case uriTooLong = "uri_too_long"
    case headersTooLarge = "headers_too_large"
    case agencyConcurrencyLimit = "agency_concurrency_limit"
    case noRoute = "no_route"
    case subjectMissing = "subject_missing"
    case subjectInvalid = "subject_invalid"
    case bodyInvalid = "body_invalid"
    case requestFactInvalid = "request_fact_invalid"
    case bodyTooLarge = "body_too_large"
    case bodyIncomplete = "body_incomplete"
    case unexpectedBody = "unexpected_body"
    case noMatchingPermit = "no_matching_permit"
    case policyError = "policy_error"
    case warrantMissing = "warrant_missing"
    case warrantUnknown = "warrant_unknown"
    case warrantNotJudicial = "warrant_not_judicial"
    /// The document was registered by an earlier version as registration now refuses
    /// (``RegisteredDocument/isMisfiled``).
    case warrantMisfiled = "warrant_misfiled"
    case warrantNotActive = "warrant_not_active"
    case warrantRevoked = "warrant_revoked"
    case warrantSuperseded = "warrant_superseded"
    case warrantExpired = "warrant_expired"
    case warrantWrongAgency = "warrant_wrong_agency"
    case warrantWrongSubject = "warrant_wrong_subject"
    case warrantOutOfScope = "warrant_out_of_scope"
    /// The warrant verified, but the rule accepts only other kinds, natures or courts of document.
    case warrantNotAccepted = "warrant_not_accepted"
    /// The warrant verified, but the rule requires its scan to be verified as signed by a listed court, and it is not.
    case warrantSignatureUnverified = "warrant_signature_unverified"
    case advisementOrWarrantRequired = "advisement_or_warrant_required"
    /// The body names, as the agency the request is made for, one other than the client certificate's.
    case agencyNotCaller = "agency_not_caller"
    case logUnavailable = "log_unavailable"
    /// The registry (warrants, records, facts, registry agencies, certificate revocations) could not be read, or not
    /// recently enough: no identity or decision rests on a snapshot that may miss a revocation.
    case registryUnavailable = "registry_unavailable"
    case upstreamUnavailable = "upstream_unavailable"
    case upstreamTimeout = "upstream_timeout"
    case upstreamUnredactable = "upstream_unredactable"
    case gatewayError = "gateway_error"
    /// The gateway was ending the connection (shutting down, or closing an idle HTTP/2 connection): a request read
    /// behind another one, or a stream opened after its last GOAWAY, was not taken.
    case gatewayDraining = "gateway_draining"
    /// The policy was reloaded, or the client's agency or its category changed, after the request was routed and while
    /// it waited (for its body, a fact lookup, or its chain's validation): it is not decided by the state it began
    /// under, nor half by the new one.
    case stateChanged = "state_changed"
    /// An outcome only: the client closed its connection or stream before the answer was complete.
    case clientClosed = "client_closed"
}

/// The HTTP status and the words a client sees for each reason code.
///
/// Policy rules may add reason codes of their own; those are answered with 403 and the rule's description.
public enum ReasonCatalog {
    public struct Entry: Sendable {
        public let status: Int
        public let title: String
        public let detail: String
    }

    /// The entry of a reason code as it appears in a decision: a built-in one, or a policy's own (403).
    public static func entry(for reason: String) -> Entry {
        if let builtIn = GatewayReason(rawValue: reason) { return entry(for: builtIn) }
        return Entry(status: 403, title: "Forbidden", detail: "The jurisdiction's policy refuses this request (\(reason)).")
    }

    /// The reason code a client is answered with for a decision's `reason`: the reason itself, but
    /// `warrant_wrong_agency` is answered as `warrant_unknown`, so that a caller cannot tell another agency's document
    /// from none. The decision log keeps the decision's own reason.
    public static func answered(_ reason: String) -> String {
        reason == GatewayReason.warrantWrongAgency.rawValue ? GatewayReason.warrantUnknown.rawValue : reason
    }

    public static func entry(for reason: GatewayReason) -> Entry {
        switch reason {
        case .permitted: Entry(status: 200, title: "OK", detail: "Permitted by policy.")
        case .unknownAgency: Entry(status: 403, title: "Forbidden", detail: "The client certificate is valid but identifies no registered agency.")
        case .ambiguousAgency: Entry(status: 403, title: "Forbidden", detail: "The client certificate matches more than one agency.")
        case .certificateRevoked: Entry(status: 403, title: "Forbidden", detail: "The client certificate has been revoked.")
        case .certificateExpired: Entry(status: 403, title: "Forbidden", detail: "The client certificate has expired; a connection or resumed TLS session does not outlive it.")
        case .certificateUntrusted: Entry(status: 403, title: "Forbidden", detail: "The client certificate is no longer trusted by the gateway's client CA bundle, or is unfit for a TLS client.")
        case .noClientCertificate: Entry(status: 403, title: "Forbidden", detail: "No verified client certificate was presented.")
        case .ambiguousPath: Entry(status: 400, title: "Bad Request", detail: "The request target is ambiguous and was refused.")
        case .badRequest: Entry(status: 400, title: "Bad Request", detail: "The request is not well-formed HTTP.")
        case .badHeader: Entry(status: 400, title: "Bad Request", detail: "A request header is malformed, duplicated or not allowed.")
        case .uriTooLong: Entry(status: 414, title: "URI Too Long", detail: "The request target is longer than the gateway accepts.")
        case .headersTooLarge: Entry(status: 431, title: "Request Header Fields Too Large", detail: "The request has more, or larger, header fields than the gateway accepts.")
        case .agencyConcurrencyLimit: Entry(status: 429, title: "Too Many Requests", detail: "The agency has too many requests in flight; retry shortly.")
        case .noRoute: Entry(status: 403, title: "Forbidden", detail: "No route of the policy matches this method and path.")
        case .subjectMissing: Entry(status: 400, title: "Bad Request", detail: "The request does not name the inmate exactly once.")
        case .subjectInvalid: Entry(status: 400, title: "Bad Request", detail: "The inmate's booking number is malformed.")
        case .bodyInvalid: Entry(status: 400, title: "Bad Request", detail: "The request body is not a JSON object that names the inmate exactly once.")
        case .requestFactInvalid: Entry(status: 400, title: "Bad Request", detail: "A fact the request states about itself is given twice or has a value the policy does not declare.")
        case .bodyTooLarge: Entry(status: 413, title: "Content Too Large", detail: "The request body is larger than the gateway accepts for this route.")
        case .bodyIncomplete: Entry(status: 400, title: "Bad Request", detail: "The request body did not arrive in full.")
        case .unexpectedBody: Entry(status: 400, title: "Bad Request", detail: "This method carries no request body, and the gateway does not read one.")
        case .noMatchingPermit: Entry(status: 403, title: "Forbidden", detail: "No rule of the policy permits this request.")
        case .policyError: Entry(status: 403, title: "Forbidden", detail: "A policy rule could not be evaluated, so the request is denied.")
        case .warrantMissing: Entry(status: 403, title: "Forbidden", detail: "This request needs a judicial warrant: name it in the Warrant-Reference header.")
        case .warrantUnknown: Entry(status: 403, title: "Forbidden", detail: "The Warrant-Reference names no registered document.")
        case .warrantNotJudicial: Entry(status: 403, title: "Forbidden", detail: "The referenced document is not a judicial warrant, court order or judicial subpoena; ICE administrative warrants (I-200, I-205), detainers (I-247A) and administrative subpoenas never authorise access.")
        case .warrantMisfiled: Entry(status: 403, title: "Forbidden", detail: "The referenced document was registered as registration now refuses (an immigration authority named as its court, judge or case, or a scope no paper has); it authorises nothing until the legal unit registers it again as it reads.")
        case .warrantNotActive: Entry(status: 403, title: "Forbidden", detail: "The referenced document is not active (it awaits approval).")
        case .warrantRevoked: Entry(status: 403, title: "Forbidden", detail: "The referenced document has been revoked.")
        case .warrantSuperseded: Entry(status: 403, title: "Forbidden", detail: "The referenced document has been superseded by a newer one.")
        case .warrantExpired: Entry(status: 403, title: "Forbidden", detail: "The referenced document has expired.")
        // Logged only: a client is answered as for `warrant_unknown` (``answered(_:)``).
        case .warrantWrongAgency: Entry(status: 403, title: "Forbidden", detail: "The referenced document was not issued to the requesting agency.")
        case .warrantWrongSubject: Entry(status: 403, title: "Forbidden", detail: "The referenced document does not name this inmate.")
        case .warrantOutOfScope: Entry(status: 403, title: "Forbidden", detail: "The referenced document does not cover this action.")
        case .warrantSignatureUnverified: Entry(status: 403, title: "Forbidden", detail: "The referenced document is valid, but the policy requires it to be verified as digitally signed by a listed court.")
        case .warrantNotAccepted: Entry(status: 403, title: "Forbidden", detail: "The referenced document is valid, but the policy does not accept its kind, nature or court for this action.")
        case .agencyNotCaller: Entry(status: 403, title: "Forbidden", detail: "The body makes the request for an agency other than the one the client certificate identifies.")
        case .advisementOrWarrantRequired: Entry(status: 403, title: "Forbidden", detail: "Release information goes to immigration authorities only after the inmate has been advised of their rights, or with a judicial warrant.")
        case .logUnavailable: Entry(status: 503, title: "Service Unavailable", detail: "The decision could not be recorded, so the request was not forwarded.")
        case .registryUnavailable: Entry(status: 503, title: "Service Unavailable", detail: "The registry of warrants and agencies cannot be read just now, so the request was not decided; send it again.")
        case .upstreamUnavailable: Entry(status: 502, title: "Bad Gateway", detail: "The upstream system could not be reached.")
        case .upstreamTimeout: Entry(status: 504, title: "Gateway Timeout", detail: "The upstream system did not answer in time.")
        case .upstreamUnredactable: Entry(status: 502, title: "Bad Gateway", detail: "The upstream response could not be redacted, so it was withheld.")
        case .gatewayError: Entry(status: 500, title: "Internal Server Error", detail: "The gateway could not complete the request.")
        case .gatewayDraining: Entry(status: 503, title: "Service Unavailable", detail: "The gateway was ending the connection and did not take this request; send it again.")
        case .stateChanged: Entry(status: 503, title: "Service Unavailable", detail: "The gateway's policy or agency directory changed while this request was read; send it again.")
        case .clientClosed: Entry(status: 499, title: "Client Closed Request", detail: "The client closed the connection before the answer was complete.")
        }
    }
}
