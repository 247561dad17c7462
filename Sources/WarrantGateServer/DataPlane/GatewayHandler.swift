import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOSSL
import WarrantGateCore
import WarrantGateStore

/// The gateway's request pipeline, one handler per HTTP/1.1 connection or HTTP/2 stream. Each request passes these
/// stages, in order, on the connection's event loop:
///
/// 1. **identity** — the connection's verified client certificate, checked again against the trust in force and the
///    time now (a TLS session outlives its handshake), and mapped to an agency (never a header);
/// 2. **headers** — malformed, duplicated or smuggling-prone headers are refused;
/// 3. **canonical target** and 4. **classify** — ``RequestStages``. A route that takes a body reads it here, whole
///    and bounded: this is the body's only reader. Any other route refuses a declared body, unread
///    (``RequestBodyGuard`` then ends the connection). A request no route takes, or whose body type its route
///    refuses, has its body read when the shadow policy's route reads it
///    (``refuseBeforeBody(_:_:declaresBody:target:)``);
/// 5. **decide** — the policy, with the warrant check, and the shadow policy beside it;
/// 6. **commit** — the decision is committed durably; if that fails the answer is 503 and nothing is forwarded;
/// 7. **forward** — to the route's upstream, with the canonical target, through the loop's ``UpstreamPool``;
/// 8. **redact** — a response the decision redacts is decoded (gzip, deflate) and redacted as it streams, a bounded
///    step at a time as the client takes it, by its content type (JSON, XML, SOAP; any other is withheld); its first
///    bytes are held back, so that a document refused early is answered with a 502, and a later refusal cuts the
///    answer off. Any other response streams through;
/// 9. **outcome** — recorded after the answer, linked to the decision.
///
/// Every answer carries a `Decision-Id` header; refusals are RFC 9457 problem documents. A request whose client
/// leaves before its decision is committed is recorded as `client_closed` (or `body_incomplete`, or the live refusal
/// of a body read only for the shadow policy), with its agency.
final class GatewayHandler: ChannelInboundHandler, UpstreamResponseReceiver {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let environment: GatewayEnvironment
    private let peer: ConnectionPeer?
    private let isHTTP2: Bool
    /// Whether a request head has come (or one was refused unread): an HTTP/2 stream's error before one is a head its
    /// codec could not read.
    private var sawHead = false
    private var context: ChannelHandlerContext?
    private var request: RequestInFlight?
    /// Over HTTP/2, the request whose answer's end has been written: its slot, if still held, is freed when the
    /// stream closes (``writeEnd(_:_:taken:)``).
    private var answered: RequestInFlight?
    /// The exchange timer the handler's requests share (``armExchangeDeadline(_:at:)``), and when it is due.
    private var exchangeTimer: Scheduled<Void>?
    private var exchangeTimerDue = NIODeadline.distantFuture
    /// Whether this HTTP/2 stream's reset mid-request has been spent (``spendStreamReset(_:)``).
    private var streamResetSpent = false

    init(environment: GatewayEnvironment, peer: ConnectionPeer?, isHTTP2: Bool) {
        self.environment = environment
        self.peer = peer
        self.isHTTP2 = isHTTP2
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        exchangeTimer?.cancel()
        exchangeTimer = nil
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard request == nil else { return context.close(promise: nil) }
            sawHead = true
            let current = environment.state.current
            let request = RequestInFlight(
                head: head, loop: context.eventLoop, current: current,
                record: environment.openingRecord(method: head.method.rawValue, rawTarget: head.uri, current: current)
            )
            self.request = request
            identify(request)
        case .body(let chunk):
            guard let request else { return }
            request.receive(chunk, limits: environment.limits)
            if request.phase == .readingBody && request.bodyOverflowed { refuseTooLarge(request) }
        case .end:
            guard let request else { return }
            request.receivedEnd = true
            if request.phase == .readingBody { bodyComplete(request) }
        }
    }

    // MARK: 1. Identity

    private func identify(_ request: RequestInFlight) {
        guard let peer, let identification = environment.identify(&request.record, peer: peer, current: request.current) else {
            return refuse(request, StageRefusal(.noClientCertificate))
        }
        // A directory whose registry cannot be read may miss this certificate's revocation, or its agency's removal.
        guard request.current.registryReadable else { return refuse(request, StageRefusal(.registryUnavailable)) }
        let agency: Agency
        switch identification {
        // Revoked at the handshake, the connection holds no place: the client must connect again to be served.
        case .agency where peer.placeless: return refuse(request, StageRefusal(.stateChanged))
        case .agency(let found): agency = found
        case .unknown: return refuse(request, StageRefusal(.unknownAgency))
        case .ambiguous: return refuse(request, StageRefusal(.ambiguousAgency))
        case .revoked: return refuse(request, StageRefusal(.certificateRevoked))
        }
        request.agency = agency
        validateChain(request, peer: peer) { handler, request in
            // Nothing is routed yet: a request whose state changed while its chain was validated is identified afresh.
            guard handler.environment.state.current === request.current else {
                request.current = handler.environment.state.current
                return handler.identify(request)
            }
            handler.admit(request, agency: agency)
        }
    }

    /// Goes on with `next` once the connection's chain is known to validate under the trust in force: at once if it
    /// did within the last minute, else after validating it off the loop (with its own handshake's intermediates).
    private func validateChain(
        _ request: RequestInFlight, peer: ConnectionPeer, then next: @escaping (GatewayHandler, RequestInFlight) -> Void
    ) {
        if peer.chainKnownValid(by: environment.verifier) { return next(self, request) }
        let phase = request.phase
        request.phase = .validatingChain
        let verifier = environment.verifier, leaf = peer.certificate.der, intermediates = peer.intermediates, loop = request.loop
        let bound = NIOLoopBound((self, request, next), eventLoop: loop)
        Task {
            let refusal = await verifier.refusal(leafDER: leaf, intermediates: intermediates)
            loop.execute {
                let (handler, request, next) = bound.value
                guard handler.request === request, request.phase == .validatingChain else { return }
                if let refusal {
                    // The client gets the catalog's words; the verifier's own, which name trust internals, go to the operator.
                    let agency = request.agency?.id ?? "-"
                    handler.environment.logger.notice("client certificate refused on a request", metadata: ["agency": "\(agency)", "why": "\(refusal)"])
                    return handler.refuse(request, StageRefusal(refusal.reason))
                }
                request.phase = phase
                next(handler, request)
            }
        }
    }

    /// Goes on with `next` once a request that waited (for its body, for a fact lookup) is known to be decided by the
    /// state in force: when the gateway's state changed meanwhile (a certificate or a warrant revoked, an agency
    /// changed, a new trust), the request is identified again by the latest directory, its chain validated under the
    /// latest trust, and it is decided on the latest registry. A request whose policy was reloaded meanwhile, or whose
    /// certificate now names another agency or category, is refused (`state_changed`): its route and its
    /// classification were made under the old one; one whose registry has become unreadable meanwhile, refused
    /// (`registry_unavailable`).
    private func confirmIdentity(_ request: RequestInFlight, then next: @escaping (GatewayHandler, RequestInFlight) -> Void) {
        let latest = environment.state.current
        guard latest !== request.current else { return next(self, request) }
        guard latest.policies === request.current.policies else { return refuse(request, StageRefusal(.stateChanged)) }
        guard latest.registryReadable else { return refuse(request, StageRefusal(.registryUnavailable)) }
        // Identified into a copy: a refusal for another agency or category is the row of the one the request began as.
        var record = request.record
        guard let peer, let identification = environment.identify(&record, peer: peer, current: latest) else {
            return refuse(request, StageRefusal(.noClientCertificate))
        }
        switch identification {
        case .agency(let found) where found.id == request.agency?.id && found.category == request.agency?.category: break
        case .agency: return refuse(request, StageRefusal(.stateChanged))
        case .unknown: return refuse(request, StageRefusal(.unknownAgency))
        case .ambiguous: return refuse(request, StageRefusal(.ambiguousAgency))
        case .revoked: return refuse(request, StageRefusal(.certificateRevoked))
        }
        request.current = latest
        // The state may change again while the chain is validated.
        validateChain(request, peer: peer) { handler, request in handler.confirmIdentity(request, then: next) }
    }

    // MARK: 2. Headers, then 3. canonical target and the route

    private func admit(_ request: RequestInFlight, agency: Agency) {
        // HTTP/2's `:method` may be any bytes but white space and controls; HTTP/1.1's parser took only registered ones.
        guard RequestMethodName.isAcceptable(request.head.method.rawValue) else {
            return refuse(request, StageRefusal(.badRequest, detail: "the method must be one token of at most \(RequestMethodName.maximumBytes) bytes"))
        }
        guard environment.concurrency.acquire(agency.id) else { return refuse(request, StageRefusal(.agencyConcurrencyLimit)) }
        request.holdsSlot = true
        let head = request.head
        let limits = environment.limits
        if head.uri.utf8.count > limits.maxURIBytes { return refuse(request, StageRefusal(.uriTooLong)) }
        if head.headers.count > limits.maxHeaderCount
            || head.headers.reduce(0, { $0 + $1.name.utf8.count + $1.value.utf8.count }) > limits.maxHeaderBytes {
            return refuse(request, StageRefusal(.headersTooLarge))
        }
        guard let nominated = HeaderRules.connectionNominated(head.headers["connection"]) else {
            return refuse(request, StageRefusal(.badHeader, detail: "Connection gives more than \(HeaderRules.maxConnectionOptions) names"))
        }
        if let violation = HeaderRules.violation(in: head.headers, nominated: nominated) {
            return refuse(request, StageRefusal(.badHeader, detail: violation))
        }
        request.connectionNominated = nominated
        // RFC 9112 §3.2: an HTTP/1.1 request names its host (HTTP/2's `:authority` reaches here as `Host`).
        if head.version == .http1_1, !head.headers.contains(name: "host") {
            return refuse(request, StageRefusal(.badHeader, detail: "an HTTP/1.1 request must give Host"))
        }
        let warrantReference = head.headers.first(name: "warrant-reference")
        request.warrantReference = warrantReference
        request.record.warrantReference = warrantReference.map { String($0.prefix(128)) }
        request.declaredLength = head.headers.first(name: "content-length").flatMap(Int.init)
        let declaresBody = RequestStages.declaresBody { head.headers[$0] }
        if declaresBody, let contentType = head.headers.first(name: "content-type"),
           let problem = RedactableMediaType.requestContentTypeProblem(contentType) {
            return refuse(request, StageRefusal(.badHeader, detail: problem))
        }

        let target: CanonicalTarget
        do {
            target = try RequestStages.canonicalTarget(head.uri)
        } catch {
            return refuse(request, error)
        }
        request.record.path = target.target
        request.target = target.target
        let match: RouteMatch
        do {
            match = try request.current.policies.stages.route(method: head.method.rawValue, target: target)
        } catch {
            return refuseBeforeBody(request, error, declaresBody: declaresBody, target: target)
        }
        request.match = match
        // A SOAP route's action is known once its envelope has named the operation.
        if match.route.soap == nil { request.record.action = match.route.action }
        guard match.route.acceptsBody else {
            if declaresBody { return refuseBeforeDecision(request, StageRefusal(.unexpectedBody), body: nil) }
            return classify(request, body: nil)
        }
        let bodyIsRead = Classifier.needsBody(match.route)
        if declaresBody, let violation = request.current.policies.stages.classifier.bodyTypeViolation(
            route: match.route, contentType: head.headers.first(name: "content-type")
        ) {
            return refuseBeforeBody(request, StageRefusal(.badHeader, detail: violation), declaresBody: true, target: target)
        }
        readBody(request, limit: bodyIsRead ? limits.inspectBodyBytes : limits.forwardBodyBytes)
    }

    /// A refusal by the live routes before the body was read: no route, or a body type the route does not take. When
    /// the shadow policy routes the request to a route that reads a body of its type, the body is read first, up to
    /// `inspect-body-bytes`, so that the shadow decides on what it would have read
    /// (``RequestInFlight/refusalAwaitingBody``). The live decision is this refusal either way, by the state its head
    /// was read under, as without the shadow: answered once the body has arrived or proved malformed, or recorded
    /// unanswered if the client leaves first or its stream is reset.
    private func refuseBeforeBody(_ request: RequestInFlight, _ refusal: StageRefusal, declaresBody: Bool, target: CanonicalTarget) {
        guard declaresBody, let shadow = request.current.policies.shadow,
              let match = try? shadow.route(method: request.head.method.rawValue, target: target), Classifier.needsBody(match.route),
              shadow.classifier.bodyTypeViolation(route: match.route, contentType: request.head.headers.first(name: "content-type")) == nil
        else { return refuseBeforeDecision(request, refusal, body: nil) }
        request.refusalAwaitingBody = refusal
        readBody(request, limit: environment.limits.inspectBodyBytes)
    }

    /// Reads the request's body, up to `limit` bytes, and goes on once it has arrived (``bodyComplete(_:)``).
    private func readBody(_ request: RequestInFlight, limit: Int) {
        request.bodyLimit = limit
        if let declared = request.declaredLength, declared > request.bodyLimit { return refuseTooLarge(request) }
        request.phase = .readingBody
        // What arrived while the chain was validated was held to the largest limit of any route, not this one's.
        if request.bodyOverflowed || (request.body?.readableBytes ?? 0) > request.bodyLimit { return refuseTooLarge(request) }
        if request.receivedEnd { return bodyComplete(request) }
        // A client that waits for leave to send its body (RFC 9110 §10.1.1) has it once the body is wanted; any other
        // answer before then is final. Never to HTTP/1.0, which has no interim answers.
        if let context, request.head.version != .http1_0,
           request.head.headers[canonicalForm: "expect"].contains(where: { ASCIICase.equals($0.utf8, "100-continue") }) {
            let version: HTTPVersion = isHTTP2 ? .http2 : .http1_1
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: .continue))), promise: nil)
        }
    }

    /// The body a route takes (or the shadow policy's, ``refuseBeforeBody(_:_:declaresBody:target:)``) has arrived
    /// whole (or ended short of its declared length).
    private func bodyComplete(_ request: RequestInFlight) {
        let received = request.body?.readableBytes ?? 0
        if let refusal = request.refusalAwaitingBody {
            return refuseBeforeDecision(request, refusal, body: Array((request.body ?? ByteBuffer()).readableBytesView))
        }
        guard request.declaredLength.map({ $0 == received }) ?? true else { return refuse(request, StageRefusal(.bodyIncomplete)) }
        confirmIdentity(request) { handler, request in handler.classify(request, body: request.body ?? ByteBuffer()) }
    }

    /// A body over its limit: refused as too large, or, read only for the shadow policy, refused as the live routes
    /// refused it, the shadow shown none of it.
    private func refuseTooLarge(_ request: RequestInFlight) {
        if refuseAwaited(request) { return }
        refuse(request, StageRefusal(.bodyTooLarge))
    }

    /// Refuses, with the live refusal and none of its body shown to the shadow, a request whose body was being read
    /// only for the shadow policy; false for any other.
    private func refuseAwaited(_ request: RequestInFlight) -> Bool {
        guard let refusal = request.refusalAwaitingBody else { return false }
        refuseBeforeDecision(request, refusal, body: nil)
        return true
    }

    // MARK: 4. Classify, 5. decide

    private func classify(_ request: RequestInFlight, body: ByteBuffer?) {
        guard let match = request.match, let agency = request.agency else { return refuse(request, StageRefusal(.gatewayError)) }
        request.phase = .deciding
        request.forwardBody = body
        let bytes = body.map { Array($0.readableBytesView) }
        let stages = request.current.policies.stages
        let input: EvaluationInput
        do {
            input = try stages.classify(
                match, agency: agency, method: request.head.method.rawValue, body: bytes, warrantReference: request.warrantReference,
                header: { request.head.headers[$0] }, time: environment.now()
            )
        } catch {
            // A claim the policy does not accept is recorded as it was made.
            if error.reason == .requestFactInvalid {
                request.record.requestFacts = stages.claims(route: match.route, header: { request.head.headers[$0] }, body: bytes)
            }
            return refuseBeforeDecision(request, error, body: bytes)
        }
        request.record.action = input.classification.action
        request.record.subject = input.classification.subject
        request.record.requestFacts = input.requestFacts.map { "\($0.key)=\($0.value)" }.sorted()
        // Facts the policy looks up in the records system come from the lookup's cache, or from a lookup on this loop.
        guard let lookup = request.current.policies.policy.factLookup, let subject = input.classification.subject else {
            return decide(request, input: input, body: bytes, registry: request.current.registry)
        }
        environment.factLookup.facts(subject: subject, lookup: lookup, on: request.loop) { [self] facts in
            if case .failure(let error) = facts {
                environment.logger.warning("fact lookup failed; rules that need facts deny", metadata: ["subject": "\(subject)", "error": "\(error)"])
            }
            guard self.request === request, request.phase == .deciding else { return }
            confirmIdentity(request) { handler, request in
                handler.decide(request, input: input, body: bytes, registry: FactOverlayRegistry(
                    base: request.current.registry, subject: subject, lookedUp: facts, declared: request.current.policies.lookedUpFacts,
                    stated: lookup.states
                ))
            }
        }
    }

    private func decide(_ request: RequestInFlight, input: EvaluationInput, body: [UInt8]?, registry: any DocumentRegistry) {
        let policies = request.current.policies
        let decision = policies.stages.decide(input, registry: registry)
        request.record.reason = decision.reason
        request.record.rules = decision.rules
        request.record.obligations = decision.obligations
        let shadowEntries = shadowDisagreement(
            request, live: decision, action: input.classification.action, body: body, registry: registry, time: input.time
        )
        guard decision.effect == .allow else {
            return refuse(request, reason: decision.reason, detail: nil, alongside: shadowEntries)
        }
        request.record.effect = .allow
        request.plan = ForwardPlan(
            upstream: input.classification.route.upstream, warrant: decision.warrant, redactor: policies.stages.evaluator.redactor(for: decision)
        )

        // 6. Commit, durably, before anything is forwarded.
        commit(request, extra: shadowEntries) { handler, request in
            handler.environment.metrics.count(effect: .allow, reason: decision.reason)
            handler.forward(request)
        }
    }

    /// The shadow policy's decision on the request, every stage of it, as a log entry when it disagrees with the live
    /// `decision` (empty when they agree, or no shadow policy is in force). Two allows agree only if they return the
    /// same: a candidate that redacts less must show in the diff. Nor do two decisions that record other obligations:
    /// a candidate that drops a report's count must show too. `action` is the live one, if the live stages found it;
    /// `time`, the instant the live policy decided at.
    private func shadowDisagreement(
        _ request: RequestInFlight, live decision: Decision, action: String?, body: [UInt8]?, registry: any DocumentRegistry, time: Date
    ) -> [LogEntry] {
        guard let shadow = request.current.policies.shadow, let agency = request.agency, let target = request.target else { return [] }
        let (candidate, candidateAction) = shadow.decideClassified(
            PolicyRequest(
                agency: agency, method: request.head.method.rawValue, target: target, body: body,
                warrantReference: request.warrantReference, headers: shadow.headerValues { request.head.headers[$0] }, time: time
            ),
            registry: registry
        )
        let bothAllow = candidate.effect == .allow && decision.effect == .allow
        let sameObligations = Set(candidate.obligations) == Set(decision.obligations)
        let agrees = candidate.effect == decision.effect && candidate.reason == decision.reason && sameObligations
            && (!bothAllow || candidate.redact == decision.redact && candidate.keepOnly == decision.keepOnly)
        environment.metrics.countShadowEvaluation(agrees: agrees)
        guard !agrees else { return [] }
        let disagreement = ShadowRecord(
            decisionId: request.record.decisionId, time: request.record.time, agency: agency.id,
            action: action ?? candidateAction ?? "", liveEffect: decision.effect, liveReason: decision.reason,
            shadowPolicy: shadow.evaluator.policy.name, shadowDigest: shadow.evaluator.policy.digest,
            shadowEffect: candidate.effect, shadowReason: candidate.reason, shadowRules: candidate.rules,
            liveReturns: bothAllow ? ShadowRecord.Returns(decision) : nil, shadowReturns: bothAllow ? ShadowRecord.Returns(candidate) : nil,
            liveObligations: sameObligations ? nil : decision.obligations.sorted(),
            shadowObligations: sameObligations ? nil : candidate.obligations.sorted()
        )
        return [LogEntry(kind: .shadow, time: time, decisionId: request.record.decisionId, canonical: disagreement.canonical)]
    }

    // MARK: 6. Commit

    /// Appends the request's decision record (and `extra`) and continues on the loop once it is durable. If the
    /// commit fails, the answer is 503 and nothing is forwarded. If the client left meanwhile, nothing is answered.
    private func commit(_ request: RequestInFlight, extra: [LogEntry] = [], then next: @escaping (GatewayHandler, RequestInFlight) -> Void) {
        request.phase = .committing
        let entries = [LogEntry(kind: .decision, time: environment.now(), decisionId: request.record.decisionId, canonical: request.record.canonical)] + extra
        let bound = NIOLoopBound((self, request, next), eventLoop: request.loop)
        environment.log.append(entries, on: LoopCompletionExecutor.of(request.loop)) { result in
            let (handler, request, next) = bound.value
            guard request.phase == .committing else { return }
            switch result {
            case .success:
                guard handler.request === request else {
                    // The client left while the decision was being committed: it stands, and the outcome says why
                    // nothing was forwarded.
                    if request.record.effect == .allow { handler.recordOutcome(request, status: 499, error: request.leaving) }
                    return
                }
                next(handler, request)
            case .failure(let error):
                if let held = handler.environment.logFailureLines.admit() {
                    handler.environment.logger.error("decision log write failed; refusing", metadata: [
                        "decision": "\(request.record.decisionId)", "error": "\(StoreDatabase.describe(error))", "alike-lines-held-back": "\(held)",
                    ])
                }
                handler.environment.metrics.count(effect: .deny, reason: GatewayReason.logUnavailable.rawValue)
                handler.environment.metrics.logRefusals.increment()
                guard handler.request === request else { return }
                handler.answer(request, problemReason: GatewayReason.logUnavailable.rawValue, detail: nil)
            }
        }
    }

    // MARK: Refusals

    private func refuse(_ request: RequestInFlight, _ refusal: StageRefusal) {
        refuse(request, reason: refusal.reason.rawValue, detail: refusal.detail, alongside: [])
    }

    /// A refusal by the live policy's routes or classification, which the shadow policy's may not make: it is shown to
    /// the shadow policy too, with the body if it was read (a request refused before its body was read is shown to it
    /// with an empty one, if it declares one, so that the shadow's routes check that one is taken).
    private func refuseBeforeDecision(_ request: RequestInFlight, _ refusal: StageRefusal, body: [UInt8]?) {
        let live = request.current.policies.stages.refusal(refusal.reason, category: request.agency?.category)
        let shown = body ?? (RequestStages.declaresBody { request.head.headers[$0] } ? [] : nil)
        let shadow = shadowDisagreement(
            request, live: live, action: request.record.action, body: shown, registry: request.current.registry, time: environment.now()
        )
        refuse(request, reason: refusal.reason.rawValue, detail: refusal.detail, alongside: shadow)
    }

    /// Records a refusal (with any shadow disagreement) and answers it once committed.
    private func refuse(_ request: RequestInFlight, reason: String, detail: String?, alongside: [LogEntry]) {
        request.record.effect = .deny
        request.record.reason = reason
        request.record.status = ReasonCatalog.entry(for: reason).status
        GatewayEnvironment.addObligationsOfEveryRequest(to: &request.record, policy: request.current.policies.policy)
        commit(request, extra: alongside) { handler, request in
            handler.environment.metrics.count(effect: .deny, reason: reason)
            if let ending = GatewayReason(rawValue: reason), Self.endsTheConnection.contains(ending) {
                handler.endConnection(for: ending)
            } else if handler.peer?.placeless == true {
                handler.endConnection(for: .certificateRevoked)
            }
            handler.answer(request, problemReason: reason, detail: detail)
        }
    }

    /// The refusals that say every later request of the connection's certificate is refused too: revoked in the
    /// registry (which the handshake still admits), no longer trusted or listed after a reload, or expired during a
    /// long connection. Such a connection would otherwise keep its place among set-up connections
    /// (``ConnectionAdmission``), and write a refusal to the log, for as long as it sent requests.
    static let endsTheConnection: Set<GatewayReason> = [
        .certificateRevoked, .certificateUntrusted, .certificateExpired, .unknownAgency, .ambiguousAgency,
    ]

    /// Ends the connection once what it is answering is out (``ConnectionEnding``), for `reason`: after a refusal
    /// that ``endsTheConnection``, and after any refusal of one admitted without a place (``ConnectionPeer/placeless``).
    private func endConnection(for reason: GatewayReason) {
        guard let context else { return }
        // HTTP/1.1 at once, so that this answer says `Connection: close`; an HTTP/2 connection outside the stream's
        // own callbacks, as its manager writes GOAWAY and PING on it.
        guard isHTTP2 else { return ConnectionEnding.end(context.channel, for: reason) }
        guard let connection = context.channel.parent else { return }
        context.eventLoop.execute { ConnectionEnding.end(connection, for: reason) }
    }

    // MARK: 7. Forward

    private func forward(_ request: RequestInFlight) {
        guard let plan = request.plan, let match = request.match, let endpoint = environment.upstreams.endpoints[plan.upstream],
              let agency = request.agency
        else { return failed(request, .gatewayError, upstreamStatus: nil) }
        request.phase = .forwarding
        var headers = HeaderRules.forwardable(request.head.headers, nominated: request.connectionNominated)
        // A request without a body has no type: one given is only a word to the upstream (a version to route by).
        if !RequestStages.declaresBody({ request.head.headers[$0] }) { headers.remove(name: "content-type") }
        let accept = headers["accept"]
        if !accept.isEmpty {
            let forwarded = RedactableMediaType.forwardableAccept(accept)
            if accept.count != 1 || forwarded != accept[0] {
                headers.remove(name: "accept")
                if let forwarded { headers.add(name: "Accept", value: forwarded) }
            }
        }
        if !plan.redactor.isEmpty {
            // The upstream's ranges and validators are of the unredacted document: a 206 cannot be redacted, and a
            // 304 or 412 against a guessed ETag or date would tell the client about fields it is not given.
            for name in ["range", "if-range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since"] { headers.remove(name: name) }
            headers.replaceOrAdd(name: "Accept-Encoding", value: HeaderRules.decodableAcceptEncoding(request.head.headers))
        }
        headers.add(name: "Host", value: endpoint.authority)
        headers.add(name: GatewayHeaders.agency, value: agency.id)
        headers.add(name: GatewayHeaders.agencyCategory, value: agency.category.rawValue)
        headers.add(name: GatewayHeaders.decision, value: request.record.decisionId)
        if let warrant = plan.warrant { headers.add(name: GatewayHeaders.warrant, value: warrant) }
        if let body = request.forwardBody { headers.add(name: "Content-Length", value: String(body.readableBytes)) }
        let head = HTTPRequestHead(version: .http1_1, method: request.head.method, uri: endpoint.pathPrefix + match.target.target, headers: headers)

        let now = NIODeadline.now()
        request.exchangeEnds = now + environment.limits.upstreamExchangeTimeout.timeAmount
        armExchangeDeadline(request, at: now + environment.limits.upstreamResponseTimeout.timeAmount)
        let pool = environment.upstreams.pool(on: request.loop)
        // An answer redacted as only this decision says (what one inmate's documents release) shares no connection.
        request.lease = pool.lease(endpoint, for: agency.id, plan: plan.redactor.isShared ? plan.redactor : nil) { [self] result in
            guard self.request === request, request.phase == .forwarding else {
                if case .success(let connection) = result { pool.release(connection) }
                return
            }
            request.lease = nil
            switch result {
            case .success(let connection):
                request.upstream = connection
                connection.send(head, body: request.forwardBody, to: self)
            case .failure(let error):
                upstreamGaveUp(request, Self.isTimeout(error) ? .upstreamTimeout : .upstreamUnavailable, detail: nil, cause: error)
            }
        }
    }

    func upstreamHead(_ head: HTTPResponseHead) {
        guard let request, let plan = request.plan, let context else { return }
        request.upstreamStatus = Int(head.status.code)
        // A final answer is 2xx to 5xx: a 101 would switch the client's connection to a protocol no one vetted (and
        // leaves the upstream connection unparsed), and a code outside HTTP's range means nothing to pass on.
        guard (200...599).contains(head.status.code) else {
            return upstreamGaveUp(request, .upstreamUnavailable, detail: nil, cause: UpstreamFault("the upstream answered with status \(head.status.code)"))
        }
        // The read deadline may fall before the response deadline the timer waits for.
        armExchangeDeadline(request, at: .now() + environment.limits.upstreamReadTimeout.timeAmount)
        // A 205 has no content (RFC 9110 §15.3.6): whatever an upstream sends with one is dropped, as after a HEAD.
        let resetsContent = head.status == .resetContent
        let length = Self.contentLength(head)
        let bodyless = request.head.method == .HEAD || resetsContent || Self.hasNoBody(head.status, length: length)
        request.dropsBody = bodyless
        let unmodified = plan.redactor.isEmpty || bodyless
        guard var headers = HeaderRules.returnable(head.headers, bodyUnmodified: unmodified) else {
            return upstreamGaveUp(request, .upstreamUnavailable, detail: nil, cause: UpstreamFault("its headers to pass on exceed \(HeaderRules.maxReturnedHeaderBytes) bytes"))
        }
        if head.headers["location"].count == 1, let endpoint = environment.upstreams.endpoints[plan.upstream],
           let location = HeaderRules.returnedLocation(head.headers["location"][0], from: endpoint, redactor: plan.redactor) {
            headers.add(name: "Location", value: location)
        }
        // The type's parameters are the upstream's words: on a redacted route, never passed on, with a body or without.
        if !plan.redactor.isEmpty, let contentType = head.headers.first(name: "content-type") {
            headers.remove(name: "Content-Type")
            if let rebuilt = RedactableMediaType.redactedContentType(contentType) { headers.add(name: "Content-Type", value: rebuilt) }
        }
        if unmodified {
            // On a redacted route a bodyless answer's length (HEAD's, a 304's) is the unredacted document's.
            if resetsContent {
                headers.remove(name: "Content-Encoding")
                headers.add(name: "Content-Length", value: "0")
            } else if !Self.forbidsContentLength(head.status), let length, plan.redactor.isEmpty || length == 0 {
                // Written anew: NIO's parser keeps the whitespace around the upstream's, which HTTP/2 refuses.
                headers.add(name: "Content-Length", value: String(length))
            }
            writeHead(request, status: head.status, headers: headers, knownLength: bodyless || headers.contains(name: "content-length"))
            return
        }
        // A fragment of a document cannot be redacted as a document: one value alone can be valid JSON.
        if head.status.code == 206 { return upstreamGaveUp(request, .upstreamUnredactable, detail: "a partial (206) response cannot be redacted") }
        let contentEncoding = head.headers[canonicalForm: "content-encoding"].joined(separator: ",")
        guard let coding = ResponseRedactionStream.Coding(contentEncoding: contentEncoding.isEmpty ? nil : contentEncoding) else {
            // The upstream's values go to the operator's log, never into the client's answer.
            return upstreamGaveUp(request, .upstreamUnredactable, detail: "its content coding is not one the gateway decodes",
                                  cause: UpstreamFault("content coding '\(contentEncoding.prefix(200))'"))
        }
        // Redaction reads the body as one type; a client shown two could read it as the other. (Counted by field: a
        // comma may stand inside one type's quoted parameter.)
        guard head.headers["content-type"].count <= 1 else {
            return upstreamGaveUp(request, .upstreamUnredactable, detail: "a body with more than one Content-Type cannot be redacted")
        }
        let contentType = head.headers.first(name: "content-type")
        guard let type = RedactableMediaType(contentType: contentType) else {
            return upstreamGaveUp(request, .upstreamUnredactable, detail: "a body of its type cannot be redacted",
                                  cause: UpstreamFault("content type '\((contentType ?? "none").prefix(200))'"))
        }
        if type == .json, head.headers["link"].contains(where: { $0.lowercased().contains("json-ld#context") }) {
            return upstreamGaveUp(request, .upstreamUnredactable, detail: "a JSON-LD context given in a Link header cannot be read")
        }
        let limits = environment.limits
        do {
            request.redaction = try ResponseRedactionStream(
                redaction: plan.redactor.redaction(for: type, limits: limits.redaction), coding: coding,
                limits: .init(maxDecodedBytes: limits.redactBodyBytes, maxRatio: limits.decompressionRatioLimit), allocator: context.channel.allocator
            )
        } catch {
            return upstreamGaveUp(request, .gatewayError, detail: nil)
        }
        request.responseStatus = head.status
        request.responseHeaders = headers
    }

    func upstreamBody(_ chunk: ByteBuffer) {
        guard let request, context != nil else { return }
        moveReadDeadline(request)
        guard let redaction = request.redaction else {
            guard !request.dropsBody else { return }
            // A read's parts go out as one write when it ends, however finely the upstream cut them.
            request.hold(chunk)
            if request.held!.readableBytes >= Self.heldWriteBytes { writeBody(request, request.takeHeld()) }
            return
        }
        // Decoded and redacted once the read ends (`passOnRedacted`), a step at a time as the client takes it.
        redaction.receive(chunk)
    }

    /// The read deadline moves on with each body chunk, and with each step of a redacted body's held input that the
    /// client's connection makes room for: either way the exchange goes on.
    private func moveReadDeadline(_ request: RequestInFlight) {
        request.exchangeDue = min(.now() + environment.limits.upstreamReadTimeout.timeAmount, request.exchangeEnds)
    }

    /// Redacted bytes a response holds back before its head is sent: a document refused within them is answered
    /// with a 502 and a problem document, and one that ends within them is sent with its length.
    static let redactionHoldBytes = 64 * 1024
    /// Pass-through bytes one read may gather before they are written without waiting for the read to end.
    static let heldWriteBytes = 64 * 1024

    private func writeBody(_ request: RequestInFlight, _ bytes: ByteBuffer?) {
        guard let context, let bytes else { return }
        request.bytesSent += bytes.readableBytes
        context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
    }

    /// Redaction refused the body: withheld with a 502 if its answer has not begun, cut off if it has. The error's
    /// detail, which reaches the client, names what was refused without quoting the body.
    private func redactionRefused(_ request: RequestInFlight, _ error: RedactionError) {
        environment.logger.warning(
            "upstream response withheld: it cannot be redacted",
            metadata: ["decision": "\(request.record.decisionId)", "kind": "\(error.kind.rawValue)", "why": "\(error)"]
        )
        upstreamGaveUp(request, .upstreamUnredactable, detail: "The response was withheld: \(error.detail).")
    }

    /// Back-pressure: the next upstream read waits until the client's connection takes more, and, for a redacted
    /// body, until what the last read brought has been passed on (``passOnRedacted(_:_:)``).
    func upstreamReadComplete() {
        guard let request, let context, let upstream = request.upstream else { return }
        if let redaction = request.redaction { return passOnRedacted(request, redaction) }
        writeBody(request, request.takeHeld())
        if request.headSent { context.flush() }
        if context.channel.isWritable { upstream.read() } else { request.awaitingWritable = true }
    }

    /// Passes on what a redacted body's held input decodes to, one step (``ResponseRedactionStream/advance()``) a
    /// turn of the event loop while the client's connection takes more, then reads on from the upstream, or ends the
    /// answer once the upstream's has ended. A client that takes nothing more stops the decoding, as it stops the
    /// reading: however far a read inflates, its exchange holds the read and about a step of redacted bytes. One step
    /// a turn, since a connection's writability shows what it took only once its flushes have run: NIOHTTP2 holds a
    /// stream's writes until the read it is handling ends, and the stream reads as writable meanwhile.
    private func passOnRedacted(_ request: RequestInFlight, _ redaction: ResponseRedactionStream) {
        guard let context else { return }
        guard context.channel.isWritable else {
            request.awaitingWritable = true
            return
        }
        if redaction.hasPendingInput { moveReadDeadline(request) }
        do {
            try redaction.advance()
        } catch {
            return redactionRefused(request, error)
        }
        if !request.headSent, redaction.output.readableBytes >= Self.redactionHoldBytes, !redaction.awaitsVerdict,
           let status = request.responseStatus, let headers = request.responseHeaders {
            // The document is long: its answer begins before it is known to be whole (not while what it holds may
            // still be refused).
            writeHead(request, status: status, headers: headers, knownLength: false)
        }
        if request.headSent {
            writeBody(request, redaction.takeOutput())
            context.flush()
        }
        if redaction.hasPendingInput {
            return context.eventLoop.assumeIsolated().execute { [self] in
                guard self.request === request, request.phase == .forwarding else { return }
                passOnRedacted(request, redaction)
            }
        }
        guard request.upstreamEnded else {
            if context.channel.isWritable { request.upstream?.read() } else { request.awaitingWritable = true }
            return
        }
        // An empty body has nothing to redact, whatever its type says.
        if redaction.hasInput {
            do {
                try redaction.finish()
            } catch {
                return redactionRefused(request, error)
            }
        }
        if !request.headSent, let status = request.responseStatus, var headers = request.responseHeaders {
            headers.replaceOrAdd(name: "Content-Length", value: String(redaction.output.readableBytes))
            writeHead(request, status: status, headers: headers, knownLength: true)
        }
        writeBody(request, redaction.takeOutput())
        endAnswer(request, context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let request, request.awaitingWritable {
            request.awaitingWritable = false
            if let redaction = request.redaction {
                passOnRedacted(request, redaction)
            } else {
                request.upstream?.read()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func upstreamEnd() {
        guard let request, let context else { return }
        if let upstream = request.upstream {
            request.upstream = nil
            environment.upstreams.pool(on: request.loop).release(upstream)
        }
        if let redaction = request.redaction {
            request.upstreamEnded = true
            return passOnRedacted(request, redaction)
        }
        writeBody(request, request.takeHeld())
        endAnswer(request, context)
    }

    /// The answer's body is written whole: its end follows.
    private func endAnswer(_ request: RequestInFlight, _ context: ChannelHandlerContext) {
        // The request is finished before its last part is written: writing it may close the connection at once. Its
        // outcome says whether the client took the answer.
        finish(request)
        writeEnd(request, context) { [self] written in
            switch written {
            case .success:
                recordOutcome(request, status: request.sentStatus, error: nil)
            case .failure(let error) where Self.isClientGone(error):
                recordOutcome(request, status: 499, error: .clientClosed)
            case .failure(let error):
                // The end was refused on the gateway's side (a stream's length check, say): the answer is cut off.
                environment.logger.warning("an answer's end could not be written", metadata: Self.failureMetadata(request, .gatewayError, error))
                recordOutcome(request, status: request.sentStatus, error: .gatewayError)
            }
        }
    }

    func upstreamFailed(_ error: any Error) {
        guard let request else { return }
        request.upstream = nil
        upstreamGaveUp(request, Self.isTimeout(error) ? .upstreamTimeout : .upstreamUnavailable, detail: nil, cause: error)
    }

    /// The exchange failed: before the answer began, the client gets a problem document; after, the answer is cut
    /// off (HTTP/1.1 closes the connection, HTTP/2 resets the stream), since a partial body must not pass for a whole one.
    /// `cause` (such as a refused TLS certificate) goes to the operator's log, never to the client.
    private func upstreamGaveUp(_ request: RequestInFlight, _ reason: GatewayReason, detail: String?, cause: (any Error)? = nil) {
        request.lease?.withdraw()
        request.lease = nil
        request.upstream?.close()
        request.upstream = nil
        guard request.headSent else { return failed(request, reason, upstreamStatus: request.upstreamStatus, detail: detail, cause: cause) }
        if reason == .upstreamTimeout, request.awaitingWritable, request.exchangeEnds > .now() {
            // The upstream's read deadline passed while the gateway waited on the client, which took nothing more:
            // the client's doing, not the upstream's. The whole exchange's deadline is the exchange limit's, however
            // the client read.
            recordOutcome(request, status: 499, error: .clientClosed)
        } else {
            environment.logger.warning("upstream exchange failed mid-answer", metadata: Self.failureMetadata(request, reason, cause))
            recordOutcome(request, status: request.sentStatus, error: reason)
        }
        finish(request)
        releaseResources(request)
        context?.close(promise: nil)
    }

    private func failed(_ request: RequestInFlight, _ reason: GatewayReason, upstreamStatus: Int?, detail: String? = nil, cause: (any Error)? = nil) {
        environment.logger.warning("upstream exchange failed", metadata: Self.failureMetadata(request, reason, cause))
        environment.metrics.count(effect: .allow, reason: reason.rawValue)
        recordOutcome(request, status: ReasonCatalog.entry(for: reason).status, error: reason)
        answer(request, problemReason: reason.rawValue, detail: detail)
    }

    private static func failureMetadata(_ request: RequestInFlight, _ reason: GatewayReason, _ cause: (any Error)?) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["decision": "\(request.record.decisionId)", "reason": "\(reason.rawValue)"]
        if let upstream = request.plan?.upstream { metadata["upstream"] = "\(upstream)" }
        if let cause { metadata["error"] = "\(cause)" }
        return metadata
    }

    /// The exchange's deadline: until the response head, the response deadline; then the read deadline, which each
    /// body chunk moves on (``RequestInFlight/exchangeDue``, ``moveReadDeadline(_:)``); neither past the whole
    /// exchange's (``RequestInFlight/exchangeEnds``), which a client reading slowly cannot move. One timer serves the handler's
    /// requests in turn, so a request schedules nothing unless no timer is pending or its deadline falls before the
    /// pending one. A timer that fires early moves to the current exchange's deadline, and one that finds no exchange
    /// stops; a finished request leaves it pending, and `handlerRemoved` cancels it.
    private func armExchangeDeadline(_ request: RequestInFlight, at due: NIODeadline) {
        let due = min(due, request.exchangeEnds)
        request.exchangeDue = due
        guard exchangeTimer == nil || due < exchangeTimerDue else { return }
        exchangeTimer?.cancel()
        scheduleExchangeTimer(at: due, on: request.loop)
    }

    private func scheduleExchangeTimer(at due: NIODeadline, on loop: any EventLoop) {
        exchangeTimerDue = due
        let bound = NIOLoopBound(self, eventLoop: loop)
        exchangeTimer = loop.scheduleTask(deadline: due) {
            let handler = bound.value
            handler.exchangeTimer = nil
            guard let request = handler.request, request.phase == .forwarding else { return }
            let now = NIODeadline.now()
            if request.exchangeDue > now { return handler.scheduleExchangeTimer(at: request.exchangeDue, on: loop) }
            let cause = request.exchangeEnds <= now ? UpstreamFault("the exchange outlasted limits.upstream-exchange-timeout-ms") : nil
            handler.upstreamGaveUp(request, .upstreamTimeout, detail: nil, cause: cause)
        }
    }

    // MARK: 9. Outcome

    /// Queues the outcome record; it is committed with the next batch, after the answer.
    private func recordOutcome(_ request: RequestInFlight, status: Int, error: GatewayReason?) {
        guard !request.outcomeRecorded else { return }
        request.outcomeRecorded = true
        let elapsed = ContinuousClock.now - request.started
        let outcome = OutcomeRecord(
            decisionId: request.record.decisionId, time: Timestamp.format(environment.now()), upstreamStatus: request.upstreamStatus, status: status,
            bytes: request.bytesSent, latencyMs: Int(elapsed / .milliseconds(1)),
            // Removed from what was produced for the client once its head went out, also when the answer was then cut
            // off (the last of it may not have reached the client).
            redactedFields: request.headSent ? request.redaction?.removed ?? 0 : 0, error: error?.rawValue
        )
        environment.log.enqueue([LogEntry(kind: .outcome, time: environment.now(), decisionId: request.record.decisionId, canonical: outcome.canonical)])
    }

    // MARK: Answers

    /// Writes a problem document as the whole answer, in one flush.
    private func answer(_ request: RequestInFlight, problemReason reason: String, detail: String?) {
        guard let context, request.phase != .finished else { return }
        let problem = Problem(reason: reason, decisionId: request.record.decisionId, detail: detail)
        writeHead(request, status: HTTPResponseStatus(statusCode: problem.status), headers: problem.headers, knownLength: true)
        if request.head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(problem.body))), promise: nil) }
        finish(request)
        writeEnd(request, context)
    }

    /// Writes the answer's end; `taken` learns whether the client took it, or why not. An end that could not be written
    /// closes the connection, over HTTP/2 the stream (reset): the answer is incomplete. An end the client has not taken
    /// `idleTimeout` after it was written (a client that stopped reading or, over HTTP/2, keeps the stream's window
    /// shut) closes the connection, over HTTP/2 the stream: no client holds an answer, and its buffers, for ever.
    private func writeEnd(_ request: RequestInFlight, _ context: ChannelHandlerContext, taken: ((Result<Void, any Error>) -> Void)? = nil) {
        // The slot must be free before the client can have the end: the write's callbacks run only once the socket
        // has taken it (later still if the kernel deschedules the loop then), and meanwhile the client's next request,
        // on another connection and loop, would be refused. Over HTTP/1.1 an end the socket can take at once frees its
        // slot now (a connection holds one untaken answer at most: the sequencer waits for it). Over HTTP/2, where a
        // stream whose window the client keeps shut still reads as writable, it is freed when the stream closes
        // (``channelInactive(context:)``): NIOHTTP2 closes it as it passes the end on to the connection, which it does
        // only within the stream's window and while the connection is writable, and before it flushes the end. The
        // connection's writability is read once for all the ends it lets out together, so that holds only while no
        // other end on the connection is unwritten (``ConnectionPeer/unwrittenEnds``): a client cannot leave more
        // than one answer unread per connection without its slot. A stream whose request the client has not ended
        // stays open: its slot is freed once the end is written.
        if !isHTTP2, context.channel.isWritable { releaseResources(request) }
        if isHTTP2 {
            answered = request
            peer?.unwrittenEnds += 1
        }
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        // Added before the write passes the promise on, this runs before the HTTP/1.1 sequencer's own callback (NIO
        // runs a future's callbacks in the order they were added): the slot is free before the next request starts.
        written.futureResult.assumeIsolated().whenComplete { [self] result in
            if isHTTP2 { peer?.unwrittenEnds -= 1 }
            request.endWritten = true
            request.deliveryDeadline?.cancel()
            request.deliveryDeadline = nil
            releaseResources(request)
            if case .failure = result, channel.isActive { channel.close(promise: nil) }
            taken?(result)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        // Most ends are written at once, and schedule nothing.
        guard !request.endWritten else { return }
        // An HTTP/2 stream that passed its end on has closed already: then its connection is not taking it. (An
        // HTTP/1.1 connection's parent is the listener, never to be closed here.)
        let isStream = isHTTP2
        request.deliveryDeadline = context.eventLoop.scheduleTask(in: environment.limits.idleTimeout.timeAmount) {
            (isStream && !channel.isActive ? channel.parent ?? channel : channel).close(promise: nil)
        }
    }

    /// Writes the answer's head with the `Decision-Id` header and, over HTTP/1, the connection's persistence
    /// (``HeaderRules/persistence(answering:knownLength:)``; a `Connection: close` answer ends the connection).
    private func writeHead(_ request: RequestInFlight, status given: HTTPResponseStatus, headers: HTTPHeaders, knownLength: Bool) {
        guard let context else { return }
        let status = HeaderRules.returnedStatus(given)
        var headers = headers
        headers.replaceOrAdd(name: GatewayHeaders.decision, value: request.record.decisionId)
        if !isHTTP2, let persistence = HeaderRules.persistence(answering: request.head, knownLength: knownLength) {
            headers.replaceOrAdd(name: "Connection", value: persistence)
        }
        request.sentStatus = Int(status.code)
        request.headSent = true
        // An HTTP/1.0 client is answered in HTTP/1.0, which NIO's encoder never chunks (RFC 9112 §7.1: chunked only to
        // 1.1): a body of unknown length then ends with the connection, which `persistence` closes.
        let version: HTTPVersion = isHTTP2 ? .http2 : request.head.version.minor == 0 ? .http1_0 : .http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
    }

    /// The request is answered: the next request may begin. Its agency slot is freed with the answer's end
    /// (``writeEnd(_:_:taken:)``), over HTTP/2 once NIOHTTP2 passes it to the connection, so that answers a client
    /// does not take count against its agency's limit.
    private func finish(_ request: RequestInFlight) {
        guard request.phase != .finished else { return }
        request.phase = .finished
        environment.metrics.observe(since: request.started)
        if self.request === request { self.request = nil }
    }

    // MARK: Connection events

    /// Requests the connection read behind this one and will never hand on are recorded, each on its own.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let untaken = event as? HTTP1RequestSequencer.RequestsNotTaken else { return context.fireUserInboundEventTriggered(event) }
        for head in untaken.heads { environment.recordNotTaken(head, peer: peer, reason: untaken.reason) }
        for _ in 0..<untaken.unparsed { environment.recordUnparsed(peer: peer, reason: untaken.reason, detail: "input behind a request, not taken") }
    }

    /// A client that leaves mid-request: before the decision is committed, the request is recorded as refused
    /// (`body_incomplete` while its body was arriving, or the live refusal of one read only for the shadow policy;
    /// `client_closed` otherwise); during the exchange, the upstream connection is closed and the outcome says
    /// `client_closed`.
    ///
    /// An HTTP/2 stream that closes after its answer's end frees the answered request's slot, unless another end on
    /// the connection is still unwritten (see ``writeEnd(_:_:taken:)``).
    func channelInactive(context: ChannelHandlerContext) {
        spendStreamReset(context)
        if let request { clientLeft(request) }
        if let answered, let peer, peer.unwrittenEnds <= 1 { releaseResources(answered) }
        answered = nil
        context.fireChannelInactive()
    }

    /// An HTTP/2 stream that ends while its request is in progress (the client reset it, NIOHTTP2 did for the client's
    /// own stream error, the gateway did when its body did not arrive in time, or the connection closed under it by
    /// the client's doing: its close, or the gateway's for its fault) is spent from its certificate's
    /// ``StreamResetBudget``, once: past the budget, the connection ends, recorded, if it is still open.
    private func spendStreamReset(_ context: ChannelHandlerContext) {
        guard isHTTP2, !streamResetSpent, let request, request.phase != .finished, let peer, let connection = context.channel.parent,
              connection.isActive || !peer.endedByGateway || peer.endedForClientFault else { return }
        streamResetSpent = true
        guard !environment.streamResets.spend(peer.certificate), connection.isActive else { return }
        let budget = environment.streamResets
        HTTP2RefusalRecorder.connectionEnded(connection.pipeline, detail: """
            a flood of stream resets: this client certificate's HTTP/2 streams were reset mid-request more than \(budget.limit) times in \
            \(StreamResetBudget.window.nanoseconds / 1_000_000_000) s across its connections
            """)
    }

    private func clientLeft(_ request: RequestInFlight) {
        switch request.phase {
        case .validatingChain, .readingBody, .deciding:
            recordUnanswered(request, request.unanswered(request.phase == .readingBody ? .bodyIncomplete : .clientClosed))
        case .committing:
            // The commit's completion records what follows.
            releaseResources(request)
        case .forwarding:
            request.lease?.withdraw()
            request.upstream?.close()
            request.upstream = nil
            recordOutcome(request, status: 499, error: request.leaving)
            releaseResources(request)
        case .finished:
            break
        }
        self.request = nil
    }

    /// Records a request that ends before it was decided, and so is never answered, as refused for `reason`.
    private func recordUnanswered(_ request: RequestInFlight, _ reason: GatewayReason) {
        request.record.effect = .deny
        request.record.reason = reason.rawValue
        request.record.status = ReasonCatalog.entry(for: reason).status
        GatewayEnvironment.addObligationsOfEveryRequest(to: &request.record, policy: request.current.policies.policy)
        environment.metrics.count(effect: .deny, reason: reason.rawValue)
        environment.log.enqueue([LogEntry(kind: .decision, time: environment.now(), decisionId: request.record.decisionId, canonical: request.record.canonical)])
        request.phase = .finished
        releaseResources(request)
    }

    /// Frees the request's agency slot, once.
    private func releaseResources(_ request: RequestInFlight) {
        if request.holdsSlot, let agency = request.agency { environment.concurrency.release(agency.id) }
        request.holdsSlot = false
    }

    /// The HTTP/1 parser refused the connection's input: recorded as `bad_request` (or `headers_too_large`) with the
    /// connection's agency, answered with 400 (or 431) when no answer is in progress, and the connection closed. A
    /// request still being read or decided (its body malformed) is itself the one refused: one row, with its target;
    /// a refusal being committed keeps the answer it has coming, which ends the connection; one cut short by the
    /// connection's end is recorded as the client leaving (``clientLeft(_:)``).
    ///
    /// NIOHTTP2 resets a stream that breaks the protocol after its head, such as DATA that contradicts its content
    /// length, or DATA after its end: its request is recorded as `bad_request`, or, decided, its outcome says so. A
    /// body read only for the shadow policy (``refuseBeforeBody(_:_:declaresBody:target:)``) keeps the live refusal
    /// instead, answered to a parser's error, recorded to a reset.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The stream was reset: before its request is recorded and let go below, the reset is spent.
        if error is NIOHTTP2Errors.StreamClosed { spendStreamReset(context) }
        if let closed = error as? NIOHTTP2Errors.StreamClosed, closed.errorCode == .protocolError || closed.errorCode == .streamClosed {
            if let request, request.phase.isUndecided {
                recordUnanswered(request, request.unanswered(.badRequest))
                self.request = nil
            } else {
                // Decided: its outcome, recorded as the stream closes, says why it was not answered.
                request?.leaving = .badRequest
            }
            return context.fireErrorCaught(error)
        }
        if isHTTP2, !sawHead, !(error is NIOHTTP2Errors.StreamClosed), error is any NIOHTTP2Error {
            // The codec could not make a request of the stream's header block (no `:authority`, a CONNECT): refused
            // like a head the HTTP/1 parser refuses, so that the stream is answered, recorded and closed.
            return refuseUnparsed(context, .badRequest, detail: "\(error)")
        }
        guard let parserError = error as? HTTPParserError else { return context.fireErrorCaught(error) }
        let reason: GatewayReason = parserError == .headerOverflow ? .headersTooLarge : .badRequest
        if let request {
            // The connection ended mid-request: leaving, the client is recorded when the channel goes inactive.
            guard parserError != .invalidEOFState else { return context.close(promise: nil) }
            environment.noteParserRefusal(agency: request.record.agency, detail: "\(parserError)")
            guard request.phase.isUndecided else {
                // A refusal being committed reads no more of the body: its answer ends the connection (the sequencer
                // takes nothing after a parser error). Any other request would be left with a body no longer
                // whole: the connection closes.
                if request.phase == .committing && request.record.effect == .deny { return }
                return context.close(promise: nil)
            }
            // A body read only for the shadow policy: the live refusal is the answer, as without it.
            if refuseAwaited(request) { return }
            return refuse(request, StageRefusal(reason))
        }
        refuseUnparsed(context, reason, detail: "\(parserError)")
    }

    /// Answers and records input no request could be read from, as refused for `reason` with the connection's agency.
    private func refuseUnparsed(_ context: ChannelHandlerContext, _ reason: GatewayReason, detail: String) {
        let current = environment.state.current
        let request = RequestInFlight(
            // The connection (HTTP/2: the stream) ends after this answer: its input cannot be parsed any further.
            head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "", headers: ["Connection": "close"]), loop: context.eventLoop,
            current: current,
            record: environment.openingRecord(method: "", rawTarget: "", current: current)
        )
        environment.identify(&request.record, peer: peer, current: current)
        self.request = request
        // One refusal to a stream or connection: what its codec reports after this is not another request.
        sawHead = true
        environment.noteParserRefusal(agency: request.record.agency, detail: detail)
        refuse(request, StageRefusal(reason))
    }

    private static func hasNoBody(_ status: HTTPResponseStatus, length: Int?) -> Bool {
        forbidsContentLength(status) || status.code == 304 || length == 0
    }

    /// Whether an answer of `status` may carry no Content-Length (RFC 9110 §8.6: a 1xx or a 204). An upstream's is
    /// not passed on with one: NIOHTTP2 would wait for that many bytes of a body that cannot come, and hang the stream.
    private static func forbidsContentLength(_ status: HTTPResponseStatus) -> Bool {
        status.code == 204 || (100..<200).contains(status.code)
    }

    /// The upstream's Content-Length as a number (NIO's parser has checked that it is one, with optional whitespace
    /// around it), or nil without one.
    private static func contentLength(_ head: HTTPResponseHead) -> Int? {
        guard let field = head.headers.first(name: "content-length") else { return nil }
        let digits = field.utf8.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            .reversed().drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }.reversed()
        guard (1...18).contains(digits.count), digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    /// Whether a write failed because the client's connection or stream is gone (closed, reset), not on the gateway's
    /// side of it.
    private static func isClientGone(_ error: any Error) -> Bool {
        error is ChannelError || error is IOError || error is NIOSSLError || error is BoringSSLError
            || error is NIOHTTP2Errors.StreamClosed || error is NIOHTTP2Errors.IOOnClosedConnection || error is NIOHTTP2Errors.NoSuchStream
    }

    private static func isTimeout(_ error: any Error) -> Bool {
        if let error = error as? ChannelError, case .connectTimeout = error { return true }
        return error is UpstreamHandshakeTimeout
    }
}

/// What an allowed request is forwarded with: a class, read by reference at each step of the exchange.
final class ForwardPlan {
    let upstream: String
    let warrant: String?
    let redactor: ResponseRedactor

    init(upstream: String, warrant: String?, redactor: ResponseRedactor) {
        self.upstream = upstream
        self.warrant = warrant
        self.redactor = redactor
    }
}

/// One request on its way through the stages, on its connection's event loop.
final class RequestInFlight {
    enum Phase: Equatable {
        case validatingChain, readingBody, deciding, committing, forwarding, finished

        /// Before the decision is committed: a refusal can still be the request's one row.
        var isUndecided: Bool { [.validatingChain, .readingBody, .deciding].contains(self) }
    }

    let head: HTTPRequestHead
    /// The event loop the request runs on: its connection's.
    let loop: any EventLoop
    /// The state the request is decided by: the one it began under, or a later one it was identified by again after
    /// waiting for its body or a fact lookup (``GatewayHandler/confirmIdentity(_:then:)``).
    var current: GatewayState.Current
    let started = ContinuousClock.now
    var record: DecisionRecord
    var phase = Phase.deciding
    var agency: Agency?
    /// The canonical target, once the request's has been read.
    var target: String?
    var holdsSlot = false
    var match: RouteMatch?
    var warrantReference: String?
    /// The header names the request's `Connection` header nominates, once its headers have passed.
    var connectionNominated: [String] = []
    var declaredLength: Int?
    // The body, read once.
    var body: ByteBuffer?
    var bodyLimit = 0
    var bodyOverflowed = false
    var receivedEnd = false
    /// The live routes' refusal of a request whose body is read only for the shadow policy, which routes it to a route
    /// that reads one (``GatewayHandler/refuseBeforeBody(_:_:declaresBody:target:)``).
    var refusalAwaitingBody: StageRefusal?
    var forwardBody: ByteBuffer?
    // The exchange.
    var plan: ForwardPlan?
    var lease: UpstreamLease?
    var upstream: UpstreamConnection?
    /// When the exchange's pending deadline falls, and when the whole exchange must be over.
    var exchangeDue = NIODeadline.distantFuture
    var exchangeEnds = NIODeadline.distantFuture
    var upstreamStatus: Int?
    /// Whether the answer's head has been written: from then on a failure cuts the answer off.
    var headSent = false
    var awaitingWritable = false
    /// A redacted response: its head, held back with its first bytes, and its body's redaction.
    var responseStatus: HTTPResponseStatus?
    var responseHeaders: HTTPHeaders?
    var redaction: ResponseRedactionStream?
    /// Whether the upstream's response has ended: what `redaction` still holds is the rest of the body.
    var upstreamEnded = false
    /// Whether the answer has no body (a HEAD's, a 205's): what the upstream sends after its head is not passed on.
    var dropsBody = false
    /// Why a decided request whose connection or stream ends before its answer is not answered: the client left,
    /// or broke the protocol after its request (HTTP/2 frames after its end, which reset the stream).
    var leaving = GatewayReason.clientClosed
    /// A pass-through response's body parts from the current upstream read, not yet written.
    private(set) var held: ByteBuffer?
    // The outcome.
    var sentStatus = 0
    var bytesSent = 0
    var outcomeRecorded = false
    /// Whether the answer's end has been written to the client, and the deadline for it until it has.
    var endWritten = false
    var deliveryDeadline: Scheduled<Void>?

    init(head: HTTPRequestHead, loop: any EventLoop, current: GatewayState.Current, record: DecisionRecord) {
        self.head = head
        self.loop = loop
        self.current = current
        self.record = record
    }

    /// Keeps a pass-through body part until it is written.
    func hold(_ part: ByteBuffer) {
        Self.gather(part, into: &held)
    }

    /// Adds `part` to `buffer`: the first part as it came, later ones copied behind it.
    private static func gather(_ part: ByteBuffer, into buffer: inout ByteBuffer?) {
        if buffer == nil {
            buffer = part
        } else {
            var part = part
            buffer!.writeBuffer(&part)
        }
    }

    /// The parts kept since the last write, if any.
    func takeHeld() -> ByteBuffer? {
        defer { held = nil }
        return held
    }

    /// The reason the request is recorded with when it ends unanswered before its decision, for `reason`: the live
    /// refusal of a body read only for the shadow policy (``refusalAwaitingBody``) instead.
    func unanswered(_ reason: GatewayReason) -> GatewayReason {
        refusalAwaitingBody?.reason ?? reason
    }

    /// Takes a body chunk while the body may still be wanted (its route not yet known, or known to take it, or the
    /// shadow policy's), up to the largest body any route takes until the route sets its own limit. Anything else is
    /// dropped unread.
    func receive(_ chunk: ByteBuffer, limits: GatewayConfiguration.Limits) {
        guard phase == .validatingChain || phase == .readingBody, !bodyOverflowed else { return }
        let cap = phase == .readingBody ? bodyLimit : max(limits.inspectBodyBytes, limits.forwardBodyBytes)
        let held = body?.readableBytes ?? 0
        guard chunk.readableBytes <= cap - held else {
            bodyOverflowed = true
            body = nil
            return
        }
        Self.gather(chunk, into: &body)
    }
}
