import Foundation
import Hummingbird
import HTTPTypes
import Logging
import NIOCore
import WarrantGateCore
import WarrantGateStore

/// The gateway's request pipeline. Each request passes these stages, in order:
///
/// 1. **identity** — the connection's verified client certificate, checked again against the trust in force and the
///    time now (a TLS session outlives its handshake), and mapped to an agency (never a header);
/// 2. **headers** — malformed, duplicated or smuggling-prone headers are refused;
/// 3. **canonical target** — the path and query in their one canonical form;
/// 4. **classify** — route, action and subject. A route that takes a body reads it here, whole and bounded: this is
///    the body's only reader. Any other route refuses a declared body, unread (``RequestBodyGuard`` then ends the
///    connection);
/// 5. **decide** — the policy, with the warrant check;
/// 6. **log** — the decision is committed durably; if that fails the answer is 503 and nothing is forwarded;
/// 7. **forward** — to the route's upstream, with the canonical target ([`UpstreamProxy`](x-source-tag://UpstreamProxy)),
///    then **redact** and **record the outcome**.
///
/// Every answer carries a `Decision-Id` header; refusals are RFC 9457 problem documents.
struct GatewayResponder: HTTPResponder {
    typealias Context = GatewayRequestContext

    let state: GatewayState
    let log: DecisionLog
    let proxy: UpstreamProxy
    let verifier: ClientCertificateVerifier
    let limits: GatewayConfiguration.Limits
    let metrics: GatewayMetrics
    let concurrency: AgencyConcurrency
    let factLookup: FactLookupClient
    let logger: Logger
    let now: @Sendable () -> Date

    func respond(to request: Request, context: GatewayRequestContext) async throws -> Response {
        // The pipeline runs in a child task. A task keeps the memory of its deepest call stack for as long as it
        // lives, and the connection's task lives as long as the connection: run here, every idle keep-alive
        // connection would hold on to the stack that one request's stages needed. It prefers the connection's event
        // loop as its executor, so that its awaits neither hop through the loop's queue nor resume on another loop.
        var response = try await withTaskExecutorPreference(EventLoopTaskExecutor.of(context.channel.eventLoop)) {
            async let decided = decide(request, context: context)
            return try await decided
        }
        // An HTTP/1.0 client that asks for keep-alive (ab -k) keeps its connection only if the answer says so.
        if HeaderRules.connectionNominated(request.headers[values: .connection]).contains("keep-alive") {
            response.headers[.connection] = "keep-alive"
        }
        return response
    }

    /// Runs the pipeline's stages for one request.
    private func decide(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        let current = state.current
        var record = DecisionRecord(
            decisionId: DecisionID.make(), time: Timestamp.format(now()), component: "gateway", certificateSPKI: nil,
            certificateSubject: nil, agency: nil, category: nil, method: request.method.rawValue,
            path: Self.loggable(request.head.path ?? ""), action: nil, subject: nil, warrantReference: nil, effect: .deny,
            reason: "", rules: [], obligations: [], policy: current.policies.policy.name, policyDigest: current.policies.policy.digest,
            status: nil
        )

        // 1. Identity.
        guard let der = await context.peerCertificateDER(),
              let (certificate, identification) = try? current.identify(der: der)
        else { return await refuse(&record, StageRefusal(.noClientCertificate), started: started) }
        record.certificateSPKI = certificate.spkiSHA256
        record.certificateSubject = certificate.subject
        let agency: Agency
        switch identification {
        case .agency(let found): agency = found
        case .unknown: return await refuse(&record, StageRefusal(.unknownAgency), started: started)
        case .ambiguous: return await refuse(&record, StageRefusal(.ambiguousAgency), started: started)
        case .revoked: return await refuse(&record, StageRefusal(.certificateRevoked), started: started)
        }
        record.agency = agency.id
        record.category = agency.category.rawValue
        if let refusal = await verifier.refusal(leafDER: der) {
            // The client gets the catalog's words; the verifier's own, which name trust internals, go to the operator.
            logger.notice("client certificate refused on a request", metadata: ["agency": "\(agency.id)", "why": "\(refusal)"])
            return await refuse(&record, StageRefusal(refusal.reason), started: started)
        }
        guard concurrency.acquire(agency.id) else {
            return await refuse(&record, StageRefusal(.agencyConcurrencyLimit), started: started)
        }
        defer { concurrency.release(agency.id) }

        // 2. Headers and size limits.
        if (request.head.path ?? "").utf8.count > limits.maxURIBytes {
            return await refuse(&record, StageRefusal(.uriTooLong), started: started)
        }
        if request.headers.count > limits.maxHeaderCount
            || request.headers.reduce(0, { $0 + $1.name.rawName.utf8.count + $1.value.utf8.count }) > limits.maxHeaderBytes {
            return await refuse(&record, StageRefusal(.headersTooLarge), started: started)
        }
        if let violation = HeaderRules.violation(in: request.headers) {
            return await refuse(&record, StageRefusal(.badHeader, detail: violation), started: started)
        }
        let declaredLength = request.headers[.contentLength].flatMap(Int.init)
        let declaresBody = (declaredLength ?? 0) > 0 || request.headers[.transferEncoding] != nil
        let warrantReference = request.headers[HeaderRules.warrantReference]
        record.warrantReference = warrantReference.map { String($0.prefix(128)) }

        // 3. Canonical target, and 4. classify: the route, then the body it takes, then the action and subject.
        let stages = current.policies.stages
        let match: RouteMatch
        do {
            let target = try RequestStages.canonicalTarget(request.head.path ?? "")
            record.path = target.target
            match = try stages.route(method: request.method.rawValue, target: target)
        } catch {
            return await refuse(&record, error, started: started)
        }
        record.action = match.route.action
        var request = request
        var bufferedBody: ByteBuffer?
        if match.route.acceptsBody {
            let limit = Classifier.needsBody(match.route) ? limits.inspectBodyBytes : limits.forwardBodyBytes
            if let declaredLength, declaredLength > limit {
                return await refuse(&record, StageRefusal(.bodyTooLarge), started: started)
            }
            do {
                let body = try await request.collectBody(upTo: limit)
                // A connection that closes mid-body can end the stream as if the body were complete.
                guard declaredLength.map({ $0 == body.readableBytes }) ?? true else { throw BodyIncomplete() }
                bufferedBody = body
            } catch is NIOTooManyBytesError {
                return await refuse(&record, StageRefusal(.bodyTooLarge), started: started)
            } catch {
                return await refuse(&record, StageRefusal(.bodyIncomplete), started: started)
            }
        } else if declaresBody {
            return await refuse(&record, StageRefusal(.unexpectedBody), started: started)
        }
        let body = bufferedBody.map { Array($0.readableBytesView) }
        let input: EvaluationInput
        do {
            input = try stages.classify(
                match, agency: agency, method: request.method.rawValue, body: body, warrantReference: warrantReference, time: now()
            )
        } catch {
            return await refuse(&record, error, started: started)
        }
        let classification = input.classification
        record.subject = classification.subject

        // 5. Decide, and let the shadow policy (if any) decide beside it without effect. Facts the policy looks up
        //    in the records system are fetched (or taken from the cache) first.
        var registry = current.registry
        if let lookup = current.policies.policy.factLookup, let subject = classification.subject {
            let facts: Result<[String: String], FactLookupError>
            do {
                facts = .success(try await factLookup.facts(subject: subject, lookup: lookup))
            } catch {
                logger.warning("fact lookup failed; rules that need facts deny", metadata: ["subject": "\(subject)", "error": "\(error)"])
                facts = .failure(FactLookupError("\(error)"))
            }
            registry = FactOverlayRegistry(base: registry, subject: subject, lookedUp: facts)
        }
        let decision = stages.decide(input, registry: registry)
        record.reason = decision.reason
        record.rules = decision.rules
        record.obligations = decision.obligations
        var shadowEntries: [LogEntry] = []
        if let shadow = current.policies.shadow {
            let candidate = shadow.decide(
                PolicyRequest(
                    agency: agency, method: input.method, target: match.target.target, body: body, warrantReference: warrantReference, time: input.time
                ),
                registry: registry
            )
            metrics.countShadowEvaluation(agrees: candidate.effect == decision.effect && candidate.reason == decision.reason)
            if candidate.effect != decision.effect || candidate.reason != decision.reason {
                let disagreement = ShadowRecord(
                    decisionId: record.decisionId, time: record.time, agency: agency.id, action: classification.action,
                    liveEffect: decision.effect, liveReason: decision.reason, shadowPolicy: shadow.evaluator.policy.name,
                    shadowDigest: shadow.evaluator.policy.digest, shadowEffect: candidate.effect, shadowReason: candidate.reason,
                    shadowRules: candidate.rules
                )
                shadowEntries.append(LogEntry(kind: .shadow, time: input.time, decisionId: record.decisionId, canonical: disagreement.canonical))
            }
        }
        guard decision.effect == .allow else {
            return await refuse(&record, reason: decision.reason, started: started, alongside: shadowEntries)
        }
        record.effect = .allow

        // 6. Log, durably, before anything is forwarded.
        do {
            try await log.append([LogEntry(kind: .decision, time: now(), decisionId: record.decisionId, canonical: record.canonical)] + shadowEntries)
        } catch {
            logger.error("decision log write failed; refusing", metadata: ["decision": "\(record.decisionId)", "error": "\(StoreDatabase.describe(error))"])
            metrics.count(effect: .deny, reason: GatewayReason.logUnavailable.rawValue)
            return Problem.response(reason: GatewayReason.logUnavailable.rawValue, decisionId: record.decisionId)
        }
        metrics.count(effect: .allow, reason: decision.reason)

        // 7. Forward, redact, record the outcome.
        return await proxy.forward(
            ForwardRequest(
                decisionId: record.decisionId, upstream: match.route.upstream, method: request.method, target: match.target,
                headers: request.headers, body: bufferedBody, agency: agency,
                warrant: decision.warrant, redactor: stages.evaluator.redactor(for: decision), started: started
            )
        )
    }

    /// Records the gateway's own refusal and answers it (see below).
    private func refuse(_ record: inout DecisionRecord, _ refusal: StageRefusal, started: ContinuousClock.Instant) async -> Response {
        await refuse(&record, reason: refusal.reason.rawValue, detail: refusal.detail, started: started)
    }

    /// Records a refusal (with any shadow disagreement) and answers it. If it cannot be recorded, the answer is 503.
    private func refuse(
        _ record: inout DecisionRecord, reason: String, detail: String? = nil, started: ContinuousClock.Instant, alongside: [LogEntry] = []
    ) async -> Response {
        let status = ReasonCatalog.entry(for: reason).status
        record.effect = .deny
        record.reason = reason
        record.status = status
        do {
            try await log.append([LogEntry(kind: .decision, time: now(), decisionId: record.decisionId, canonical: record.canonical)] + alongside)
        } catch {
            logger.error("decision log write failed", metadata: ["decision": "\(record.decisionId)", "error": "\(StoreDatabase.describe(error))"])
            metrics.count(effect: .deny, reason: GatewayReason.logUnavailable.rawValue)
            return Problem.response(reason: GatewayReason.logUnavailable.rawValue, decisionId: record.decisionId)
        }
        metrics.count(effect: .deny, reason: reason)
        metrics.observe(since: started)
        return Problem.response(reason: reason, decisionId: record.decisionId, detail: detail)
    }

    /// A request body that ended before its declared length.
    private struct BodyIncomplete: Error {}

    /// The raw target as it may appear in the log when it could not be canonicalised: bounded in length.
    private static func loggable(_ raw: String) -> String {
        raw.count > 2048 ? String(raw.prefix(2048)) + "…" : raw
    }
}
