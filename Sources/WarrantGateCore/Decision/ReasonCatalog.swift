/// The reason codes the gateway itself can give, with the HTTP status and the words a client sees.
///
/// Policy rules may add reason codes of their own; those are answered with 403 and the rule's description.
public enum ReasonCatalog {
    public struct Entry: Sendable {
        public let status: Int
        public let title: String
        public let detail: String
    }

    public static func entry(for reason: String) -> Entry {
        if let entry = entries[reason] { return entry }
        return Entry(status: 403, title: "Forbidden", detail: "The jurisdiction's policy refuses this request (\(reason)).")
    }

    static let entries: [String: Entry] = [
        "permitted": Entry(status: 200, title: "OK", detail: "Permitted by policy."),
        "unknown_agency": Entry(status: 403, title: "Forbidden", detail: "The client certificate is valid but identifies no registered agency."),
        "ambiguous_agency": Entry(status: 403, title: "Forbidden", detail: "The client certificate matches more than one agency."),
        "certificate_revoked": Entry(status: 403, title: "Forbidden", detail: "The client certificate has been revoked."),
        "certificate_expired": Entry(status: 403, title: "Forbidden", detail: "The client certificate has expired; a connection or resumed TLS session does not outlive it."),
        "certificate_untrusted": Entry(status: 403, title: "Forbidden", detail: "The client certificate is no longer trusted by the gateway's client CA bundle, or is unfit for a TLS client."),
        "no_client_certificate": Entry(status: 403, title: "Forbidden", detail: "No verified client certificate was presented."),
        "ambiguous_path": Entry(status: 400, title: "Bad Request", detail: "The request target is ambiguous and was refused."),
        "bad_header": Entry(status: 400, title: "Bad Request", detail: "A request header is malformed, duplicated or not allowed."),
        "uri_too_long": Entry(status: 414, title: "URI Too Long", detail: "The request target is longer than the gateway accepts."),
        "headers_too_large": Entry(status: 431, title: "Request Header Fields Too Large", detail: "The request has more, or larger, header fields than the gateway accepts."),
        "agency_concurrency_limit": Entry(status: 429, title: "Too Many Requests", detail: "The agency has too many requests in flight; retry shortly."),
        "no_route": Entry(status: 403, title: "Forbidden", detail: "No route of the policy matches this method and path."),
        "subject_missing": Entry(status: 400, title: "Bad Request", detail: "The request does not name the inmate exactly once."),
        "subject_invalid": Entry(status: 400, title: "Bad Request", detail: "The inmate's booking number is malformed."),
        "body_invalid": Entry(status: 400, title: "Bad Request", detail: "The request body is not a JSON object that names the inmate exactly once."),
        "body_too_large": Entry(status: 413, title: "Content Too Large", detail: "The request body is larger than the gateway accepts for this route."),
        "body_incomplete": Entry(status: 400, title: "Bad Request", detail: "The request body did not arrive in full."),
        "unexpected_body": Entry(status: 400, title: "Bad Request", detail: "This method carries no request body, and the gateway does not read one."),
        "no_matching_permit": Entry(status: 403, title: "Forbidden", detail: "No rule of the policy permits this request."),
        "policy_error": Entry(status: 403, title: "Forbidden", detail: "A policy rule could not be evaluated, so the request is denied."),
        "warrant_missing": Entry(status: 403, title: "Forbidden", detail: "This request needs a judicial warrant: name it in the Warrant-Reference header."),
        "warrant_unknown": Entry(status: 403, title: "Forbidden", detail: "The Warrant-Reference names no registered document."),
        "warrant_not_judicial": Entry(status: 403, title: "Forbidden", detail: "The referenced document is not a judicial warrant, court order or judicial subpoena; ICE administrative warrants (I-200, I-205), detainers (I-247A) and administrative subpoenas never authorise access."),
        "warrant_not_active": Entry(status: 403, title: "Forbidden", detail: "The referenced document is not active (it awaits approval)."),
        "warrant_revoked": Entry(status: 403, title: "Forbidden", detail: "The referenced document has been revoked."),
        "warrant_superseded": Entry(status: 403, title: "Forbidden", detail: "The referenced document has been superseded by a newer one."),
        "warrant_expired": Entry(status: 403, title: "Forbidden", detail: "The referenced document has expired."),
        "warrant_wrong_agency": Entry(status: 403, title: "Forbidden", detail: "The referenced document was not issued to the requesting agency."),
        "warrant_wrong_subject": Entry(status: 403, title: "Forbidden", detail: "The referenced document does not name this inmate."),
        "warrant_out_of_scope": Entry(status: 403, title: "Forbidden", detail: "The referenced document does not cover this action."),
        "advisement_or_warrant_required": Entry(status: 403, title: "Forbidden", detail: "Release information goes to immigration authorities only after the inmate has been advised of their rights, or with a judicial warrant."),
        "log_unavailable": Entry(status: 503, title: "Service Unavailable", detail: "The decision could not be recorded, so the request was not forwarded."),
        "upstream_unavailable": Entry(status: 502, title: "Bad Gateway", detail: "The upstream system could not be reached."),
        "upstream_timeout": Entry(status: 504, title: "Gateway Timeout", detail: "The upstream system did not answer in time."),
        "upstream_unredactable": Entry(status: 502, title: "Bad Gateway", detail: "The upstream response could not be redacted, so it was withheld."),
        "gateway_error": Entry(status: 500, title: "Internal Server Error", detail: "The gateway could not complete the request."),
    ]
}
