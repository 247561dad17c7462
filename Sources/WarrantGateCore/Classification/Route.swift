/// Where a request names the inmate it concerns.
public enum SubjectSource: Sendable, Equatable {
    /// The request concerns no single inmate.
    case none
    /// A `{name}` parameter of the path template.
    case pathParameter(String)
    /// A query parameter; it must appear exactly once.
    case queryParameter(String)
    /// A top-level string field of a JSON request body; the body is buffered (bounded) to read it.
    case bodyField(String)
    /// The text of the one element of this local name in a SOAP route's envelope, the operation element's first child;
    /// or at the end of this path of local names from the operation down (`request/BookingNumber`), whose first step
    /// is the operation's first child.
    case xmlElement(String)
}

/// One segment of a path template: a literal, or a `{name}` parameter that matches one whole segment.
public enum TemplateSegment: Sendable, Equatable {
    case literal(String)
    case parameter(String)
}

/// Maps a method and a path template to an action, a subject and an upstream. A class: a policy's routes are shared
/// by every request that matches them, on every event loop, and read by one reference.
public final class Route: Sendable {
    public let id: String
    public let method: String
    public let template: [TemplateSegment]
    public let action: String
    public let subject: SubjectSource
    /// The name of the upstream system (for example `records`) that serves this route.
    public let upstream: String
    /// The kinds of data the route returns (for example `release-date`, `address`), for `data` conditions.
    public let data: Set<String>
    /// Whether what the route returns is already public (a public inmate locator, say).
    public let isPublic: Bool
    /// The SOAP operation the route carries, for a SOAP service: the route matches only requests whose envelope holds
    /// it.
    public let soap: SOAPOperation?
    /// On a route whose subject is a body member: the top-level body member that names the document the request rests
    /// on (the upstream files it under that reference), which must be the request's `Warrant-Reference` if it has one.
    public let documentMember: String?
    /// On a route whose subject is a body member: the top-level body member that says when what the request asks for
    /// ends or takes place (a hold's end, a transfer's time), an RFC 3339 time it must give; a warrant verifies only if
    /// it is still in force then.
    public let untilMember: String?
    /// On a route whose subject is a body member: the top-level body member that names the agency the request is made
    /// for (a transfer's receiving agency, an arrest's arresting agency), which must be the calling agency's id, so
    /// that an agency allowed to ask cannot ask on behalf of one that is not.
    public let agencyMember: String?
    /// The query parameters the route takes besides its subject's, by exact name, each at most once (`query: [page]`).
    /// A request with any other is refused: the upstream gets the query the policy checked, and a parameter no rule
    /// reads could name another inmate to it, or widen what it returns (`$expand`, `fields`, `include`).
    public let query: Set<String>
    /// The body members the route reads besides its subject (``documentMember``, ``untilMember``, ``agencyMember``).
    var otherBodyMembers: [String] { [documentMember, untilMember, agencyMember].compactMap { $0 } }
    /// Every top-level JSON body member the route reads for the decision: its subject's and ``otherBodyMembers``; empty
    /// for a route whose subject is not a body member.
    var decidedBodyMembers: [String] {
        if case .bodyField(let subject) = subject { [subject] + otherBodyMembers } else { [] }
    }

    public init(
        id: String, method: String, template: [TemplateSegment], action: String, subject: SubjectSource, upstream: String,
        data: Set<String> = [], isPublic: Bool = false, soap: SOAPOperation? = nil, documentMember: String? = nil, untilMember: String? = nil,
        agencyMember: String? = nil, query: Set<String> = []
    ) {
        self.id = id
        self.method = method
        self.template = template
        self.action = action
        self.subject = subject
        self.upstream = upstream
        self.data = data
        self.isPublic = isPublic
        self.soap = soap
        self.documentMember = documentMember
        self.untilMember = untilMember
        self.agencyMember = agencyMember
        self.query = query
    }

    /// Whether the route forwards a request body: only routes for a method that carries one do. Any other request
    /// that declares a body is refused.
    public var acceptsBody: Bool { Self.carriesBody(method) }

    /// Whether requests with this method carry a body: POST, PUT and PATCH.
    public static func carriesBody(_ method: String) -> Bool { method == "POST" || method == "PUT" || method == "PATCH" }

    /// Whether a SOAP service at this route's paths could also answer `other`'s requests: some path of `other`'s
    /// template starts with one of this one's (a servlet answers the paths below its own), no two different literals
    /// in the same place.
    func mayReachEndpoint(of other: Route) -> Bool {
        template.count >= other.template.count && !zip(template, other.template).contains { pair in
            if case .literal(let one) = pair.0, case .literal(let two) = pair.1 { one != two } else { false }
        }
    }

    /// The template's literals in lower case, its parameters as `{}`: equal for templates that differ only in case.
    var foldedTemplate: [TemplateSegment] {
        template.map { segment in
            if case .literal(let literal) = segment { .literal(literal.lowercased()) } else { .parameter("") }
        }
    }

    /// Whether this route matches every request `other` matches: the same method and SOAP operation, and a template
    /// of the same length whose every literal `other` has in the same place. Classification takes the first route
    /// that matches, so `other`, after this one, is never reached.
    func covers(_ other: Route) -> Bool {
        method == other.method && soap?.element == other.soap?.element && template.count == other.template.count
            && zip(template, other.template).allSatisfy { mine, theirs in
                guard case .literal(let literal) = mine else { return true }
                return theirs == .literal(literal)
            }
    }

    /// Parses `/records/inmates/{booking}` into segments. Returns nil for a malformed template.
    public static func parseTemplate(_ text: String) -> [TemplateSegment]? {
        guard text.hasPrefix("/") else { return nil }
        var segments: [TemplateSegment] = []
        for part in text.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            if part.hasPrefix("{") && part.hasSuffix("}") && part.count > 2 {
                let name = String(part.dropFirst().dropLast())
                guard Identifier.isValid(name.lowercased()) else { return nil }
                segments.append(.parameter(name))
            } else {
                guard !part.isEmpty, !part.contains("{"), !part.contains("}"),
                      let canonical = try? CanonicalTarget(raw: "/" + part), canonical.segments == [String(part)]
                else { return nil }
                segments.append(.literal(String(part)))
            }
        }
        return segments
    }

    /// The parameters bound by matching `segments`, or nil when the route does not match.
    /// Matching is case-sensitive, as the upstreams' own routing is.
    func bind(_ segments: [String]) -> [String: String]? {
        guard segments.count == template.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, template) {
            switch part {
            case .literal(let literal): guard literal == segment else { return nil }
            case .parameter(let name): parameters[name] = segment
            }
        }
        return parameters
    }
}
