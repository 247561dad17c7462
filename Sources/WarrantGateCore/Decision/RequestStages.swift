import Foundation

/// A request as the policy's stages see it, once its identity and headers have passed: who asks, for what, when.
public struct PolicyRequest: Sendable {
    public let agency: Agency
    public let method: String
    /// The request target as received (path and query), before canonicalisation.
    public let target: String
    /// The whole request body, for a route that takes one; nil otherwise.
    public let body: [UInt8]?
    /// The value of the request's single `Warrant-Reference` header, if any.
    public let warrantReference: String?
    /// The request's headers by lower-case name, each with its values in order: those the policy's request facts
    /// read, those that name a SOAP action (`SOAPAction`, `Content-Type`), and those that declare a body
    /// (`Content-Length`, `Transfer-Encoding`), at least.
    public let headers: [String: [String]]
    public let time: Date

    public init(
        agency: Agency, method: String, target: String, body: [UInt8]?, warrantReference: String?, headers: [String: [String]] = [:], time: Date
    ) {
        self.agency = agency
        self.method = method
        self.target = target
        self.body = body
        self.warrantReference = warrantReference
        self.headers = headers
        self.time = time
    }

    /// `headers` with `body` labelled as a client would label it, for a request written by hand (a policy test, `policy
    /// explain`): a body without a `Content-Type` is `text/xml` if its first byte other than white space is `<`, and
    /// `application/json` otherwise. The stages then check its type against the route, as the gateway does.
    public static func labelling(_ body: [UInt8]?, in headers: [String: [String]]) -> [String: [String]] {
        guard let body, headers["content-type"] == nil else { return headers }
        let first = body.first { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }
        var labelled = headers
        labelled["content-type"] = [first == UInt8(ascii: "<") ? "text/xml" : "application/json"]
        return labelled
    }
}

/// The route a request matched, with the parameters its path bound.
public struct RouteMatch: Sendable {
    public let route: Route
    public let parameters: [String: String]
    /// The canonical target the route matched: the one the upstream receives.
    public let target: CanonicalTarget
}

/// A request refused before the policy decided, with its reason and what the client is told.
public struct StageRefusal: Error, Sendable, Equatable {
    public let reason: GatewayReason
    public let detail: String?

    public init(_ reason: GatewayReason, detail: String? = nil) {
        self.reason = reason
        self.detail = detail
    }
}

/// The stages of a request that depend only on the policy, written once: **canonical target** → **classify** →
/// **decide**. The gateway runs them with its own I/O between them (reading the body a route takes, looking up
/// facts); shadow mode, `policy test` and `policy explain` run them in one call. A class: the gateway's event loops
/// share one, and read it by one reference.
public final class RequestStages: Sendable {
    public let classifier: Classifier
    public let evaluator: Evaluator
    /// The request facts read from headers, by lower-case header name, and those read from the body (on routes that
    /// read it), by member name.
    private let headerFacts: [(header: String, fact: RequestFact)]
    private let bodyFacts: [String: RequestFact]

    public init(policy: Policy) {
        classifier = policy.classifier
        evaluator = Evaluator(policy: policy)
        var headerFacts: [(header: String, fact: RequestFact)] = []
        var bodyFacts: [String: RequestFact] = [:]
        for fact in policy.requestFacts {
            switch fact.source {
            case .header(let name): headerFacts.append((name, fact))
            case .bodyMember(let member): bodyFacts[member] = fact
            }
        }
        self.headerFacts = headerFacts
        self.bodyFacts = bodyFacts
    }

    /// The canonical target: the one form of the raw target that the policy matches and the upstream receives.
    public static func canonicalTarget(_ raw: String) throws(StageRefusal) -> CanonicalTarget {
        do {
            return try CanonicalTarget(raw: raw)
        } catch {
            throw StageRefusal(.ambiguousPath, detail: "The request target is ambiguous: \(error.detail).")
        }
    }

    /// Classify, first half: the route that the method and canonical target match.
    public func route(method: String, target: CanonicalTarget) throws(StageRefusal) -> RouteMatch {
        do {
            let match = try classifier.match(method: method, target: target)
            return RouteMatch(route: match.route, parameters: match.parameters, target: target)
        } catch {
            throw StageRefusal(error.reason)
        }
    }

    /// Classify, second half: the action and the subject (read from `body` where the route says so; a SOAP route's
    /// envelope also chooses the route), and the facts the request states (see ``statedFacts(route:header:body:)``),
    /// as the decide stage's input. A body (an empty one that no header declares is none) is first checked as the
    /// gateway checks it before reading it: the route must take one, and its `Content-Type` must be the route's.
    public func classify(
        _ match: RouteMatch, agency: Agency, method: String, body: [UInt8]?, warrantReference: String?, header: (String) -> [String], time: Date
    ) throws(StageRefusal) -> EvaluationInput {
        if let body, !body.isEmpty || Self.declaresBody(header) {
            guard match.route.acceptsBody else { throw StageRefusal(.unexpectedBody) }
            if let violation = classifier.bodyTypeViolation(route: match.route, contentType: header("content-type").first) {
                throw StageRefusal(.badHeader, detail: violation)
            }
        }
        let classification: Classification
        do {
            classification = try classifier.classify(
                route: match.route, parameters: match.parameters, target: match.target, body: body, contentType: header("content-type").first,
                soapActions: SOAPActionClaims(header: header)
            )
        } catch {
            throw StageRefusal(error.reason, detail: error.detail)
        }
        // The upstream files the request under the document its body names: with a Warrant-Reference, the one the
        // request was decided on (a warrant verified, the hold filed under an I-200). Without one, no warrant verifies,
        // and a `document` test reads the cited document alone (``Evaluator``). Compared byte for byte.
        if let cited = classification.citedDocument, let warrantReference, !cited.utf8.elementsEqual(warrantReference.utf8) {
            throw StageRefusal(.bodyInvalid, detail: "The body names the document \(TerminalText.escaped(String(cited.prefix(64)))), not the one the Warrant-Reference names.")
        }
        // An agency allowed to ask (a transfer to its own custody) must not ask for another (into ICE's). Agency ids are
        // ASCII identifiers: compared byte for byte.
        if let stated = classification.statedAgency, !stated.utf8.elementsEqual(agency.id.utf8) {
            throw StageRefusal(.agencyNotCaller, detail: "The body makes the request for \(TerminalText.escaped(String(stated.prefix(64)))), not for \(agency.id), the agency the client certificate identifies.")
        }
        let facts = try statedFacts(route: classification.route, header: header, body: body)
        return EvaluationInput(
            agency: agency, method: method, classification: classification, warrantReference: warrantReference, requestFacts: facts, time: time
        )
    }

    /// The facts the request states about itself: each declared header given once, and each declared body member on
    /// a route that reads the body. A fact stated twice, or with a value the policy does not declare, refuses the
    /// request; one not stated is absent.
    public func statedFacts(route: Route, header: (String) -> [String], body: [UInt8]?) throws(StageRefusal) -> [String: String] {
        var facts: [String: String] = [:]
        for (name, fact, values) in headerClaims(header) {
            guard values.count == 1 else { throw StageRefusal(.requestFactInvalid, detail: "The header \(name) is given more than once.") }
            facts[fact.name] = try Self.declared(values[0], of: fact, as: "header \(name)")
        }
        let members: [(member: String, fact: RequestFact, value: String)]
        do {
            members = try bodyClaims(route: route, body: body)
        } catch {
            throw StageRefusal(.bodyInvalid, detail: "The request body: \(error.detail).")
        }
        for (member, fact, value) in members {
            facts[fact.name] = try Self.declared(value, of: fact, as: "body member \(member)")
        }
        return facts
    }

    /// Whether the request's headers say it carries a body, however short: a length above zero, or a transfer coding.
    public static func declaresBody(_ header: (String) -> [String]) -> Bool {
        !header("transfer-encoding").isEmpty || header("content-length").contains { (Int($0) ?? 0) > 0 }
    }

    /// What the request claims, as `name=value` and sorted, whether or not the policy declares the values: for the
    /// record of a request refused for a claim. Each value is cut to ``RequestFact/maxValueBytes`` bytes; a body that
    /// cannot be read adds nothing.
    public func claims(route: Route, header: (String) -> [String], body: [UInt8]?) -> [String] {
        func claim(_ fact: RequestFact, _ value: String) -> String { "\(fact.name)=\(value.utf8.prefix(RequestFact.maxValueBytes).string)" }
        let fromHeaders = headerClaims(header).flatMap { _, fact, values in values.map { claim(fact, $0) } }
        let fromBody = ((try? bodyClaims(route: route, body: body)) ?? []).map { claim($0.fact, $0.value) }
        return (fromHeaders + fromBody).sorted()
    }

    /// The values of the headers the stages read (this policy's request facts, the SOAP action's and the body's), by
    /// lower-case name, for a ``PolicyRequest``.
    public func headerValues(_ header: (String) -> [String]) -> [String: [String]] {
        var values = Dictionary(headerClaims(header).map { ($0.header, $0.values) }, uniquingKeysWith: { first, _ in first })
        for name in ["soapaction", "content-type", "content-length", "transfer-encoding"] {
            let given = header(name)
            if !given.isEmpty { values[name] = given }
        }
        return values
    }

    /// Each header fact the request gives, with every value it gives.
    private func headerClaims(_ header: (String) -> [String]) -> [(header: String, fact: RequestFact, values: [String])] {
        headerFacts.compactMap { name, fact in
            let values = header(name)
            return values.isEmpty ? nil : (name, fact, values)
        }
    }

    /// Each body fact the request gives, on a route that reads its body; throws if the body is not a JSON object whose
    /// named members are scalars given once.
    private func bodyClaims(route: Route, body: [UInt8]?) throws(JSONError) -> [(member: String, fact: RequestFact, value: String)] {
        guard !bodyFacts.isEmpty, Classifier.readsJSONBody(route), let body else { return [] }
        return try JSONFields.decidedMembers(Array(bodyFacts.keys), in: body).compactMap { member, value in
            bodyFacts[member].map { (member, $0, value.text) }
        }
    }

    private static func declared(_ value: String, of fact: RequestFact, as source: String) throws(StageRefusal) -> String {
        guard fact.values.contains(value) else {
            let shown = value.utf8.count <= RequestFact.maxValueBytes && RequestFact.isValidValue(value) ? "'\(value)'" : "a value"
            throw StageRefusal(
                .requestFactInvalid, detail: "The \(source) has \(shown) the policy does not declare; it takes one of: \(fact.values.joined(separator: ", "))."
            )
        }
        return value
    }

    /// Canonical target and classify, for a request whose body is at hand: the route it matched and the decide
    /// stage's input.
    public func classify(_ request: PolicyRequest) throws(StageRefusal) -> (match: RouteMatch, input: EvaluationInput) {
        // Before the target is read, as the gateway's header rules refuse it.
        if (request.headers["content-type"]?.count ?? 0) > 1 { throw StageRefusal(.badHeader, detail: "Content-Type is given more than once") }
        let match = try route(method: request.method, target: try Self.canonicalTarget(request.target))
        let input = try classify(
            match, agency: request.agency, method: request.method, body: request.body, warrantReference: request.warrantReference,
            header: { request.headers[$0] ?? [] }, time: request.time
        )
        return (match, input)
    }

    /// Decide: the policy's decision on a classified request.
    public func decide(_ input: EvaluationInput, registry: any DocumentRegistry) -> Decision {
        evaluator.evaluate(input, registry: registry)
    }

    /// Every stage in one call: a refusal before the policy is a deny with the refusal's reason, and the obligations of
    /// every request of the agency's category.
    public func decide(_ request: PolicyRequest, registry: any DocumentRegistry) -> Decision {
        decideClassified(request, registry: registry).decision
    }

    /// ``decide(_:registry:)``, with the action the request was classified as: nil when a stage before the policy
    /// refused it.
    public func decideClassified(_ request: PolicyRequest, registry: any DocumentRegistry) -> (decision: Decision, action: String?) {
        do {
            let input = try classify(request).input
            return (decide(input, registry: registry), input.classification.action)
        } catch {
            return (refusal(error.reason, category: request.agency.category), nil)
        }
    }

    /// A refusal before the policy, as the log records it: the refusal's reason, and the obligations of every request
    /// of the agency's `category`.
    public func refusal(_ reason: GatewayReason, category: AgencyCategory?) -> Decision {
        Decision.refusal(reason).adding(obligations: evaluator.policy.obligations(everyRequestOf: category))
    }
}

extension Substring.UTF8View {
    /// The bytes as text, a character cut in two replaced.
    fileprivate var string: String { String(decoding: self, as: UTF8.self) }
}
