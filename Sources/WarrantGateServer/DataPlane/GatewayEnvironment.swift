import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import WarrantGateCore
import WarrantGateStore

/// What every request handler of a gateway shares: the state in force, the decision log, the certificate verifier,
/// the limits, the metrics and the upstreams.
struct GatewayEnvironment: Sendable {
    let state: GatewayState
    let log: any DecisionLogWriter
    let verifier: ClientCertificateVerifier
    let limits: GatewayConfiguration.Limits
    let metrics: GatewayMetrics
    let concurrency: AgencyConcurrency
    /// HTTP/2 streams reset while their requests were in progress, per client certificate.
    let streamResets: StreamResetBudget
    let factLookup: FactLookupClient
    let upstreams: Upstreams
    let logger: Logger
    let now: @Sendable () -> Date
    /// For the line each request refused for want of the decision log would write.
    let logFailureLines = LogLineThrottle()

    /// A decision record for a request that has just arrived, denied until a stage says otherwise. `path` is the
    /// raw target, bounded, until the canonical target replaces it; `method`, bounded to a token's bytes
    /// (``RequestMethodName/loggable(_:)``).
    func openingRecord(method: String, rawTarget: String, current: GatewayState.Current) -> DecisionRecord {
        DecisionRecord(
            decisionId: DecisionID.make(), time: Timestamp.format(now()), component: "gateway", certificateSPKI: nil,
            certificateSubject: nil, agency: nil, category: nil, method: RequestMethodName.loggable(method), path: Self.loggable(rawTarget), action: nil, subject: nil,
            warrantReference: nil, effect: .deny, reason: "", rules: [], obligations: [], policy: current.policies.policy.name,
            policyDigest: current.policies.policy.digest, status: nil
        )
    }

    /// Fills the record's certificate and agency from the connection's peer, as far as it identifies one, and
    /// returns the identification; nil when there is no parseable peer certificate.
    @discardableResult
    func identify(_ record: inout DecisionRecord, peer: ConnectionPeer?, current: GatewayState.Current) -> Identification? {
        guard let peer, let (certificate, identification) = try? peer.identify(in: current) else { return nil }
        record.certificateSPKI = certificate.spkiSHA256
        record.certificateSubject = certificate.subject
        switch identification {
        case .agency(let agency), .revoked(_, agency: let agency?):
            record.agency = agency.id
            record.category = agency.category.rawValue
        case .revoked, .unknown, .ambiguous:
            break
        }
        return identification
    }

    /// Tells the operator's log that a connection's input was refused before any stage read it (by the HTTP parser,
    /// or as a stream opened after the gateway's GOAWAY). The detail is cut to its first 512 bytes: a parser's error
    /// may quote a whole header block.
    func noteParserRefusal(agency: String?, detail: String) {
        let shown = detail.utf8.count > 512 ? String(decoding: detail.utf8.prefix(512), as: UTF8.self) + "…" : detail
        logger.notice("request refused before any stage read it", metadata: ["agency": "\(agency ?? "-")", "error": "\(shown)"])
    }

    /// Records a request that was refused before any stage could read it (see ``noteParserRefusal(agency:detail:)``),
    /// naming the connection's agency. Nothing waits for the commit: it is neither answered by the gateway nor forwarded.
    func recordUnparsed(peer: ConnectionPeer?, reason: GatewayReason, detail: String) {
        let agency = recordUnread(method: "", rawTarget: "", peer: peer, reason: reason)
        noteParserRefusal(agency: agency, detail: detail)
    }

    /// Records a request the connection read but never handed on (``HTTP1RequestSequencer/RequestsNotTaken``), naming
    /// the connection's agency, with its method and target, canonical, and the action of the route it matches, if
    /// any, as a report counts it; it is neither answered nor forwarded.
    func recordNotTaken(_ head: HTTPRequestHead, peer: ConnectionPeer?, reason: GatewayReason) {
        recordUnread(method: head.method.rawValue, rawTarget: head.uri, peer: peer, reason: reason) { record, current in
            guard let target = try? RequestStages.canonicalTarget(head.uri) else { return }
            record.path = target.target
            guard let match = try? current.policies.stages.route(method: head.method.rawValue, target: target), match.route.soap == nil else { return }
            record.action = match.route.action
        }
    }

    /// Records a request no stage read, refused for `reason`, without waiting for the commit; returns its agency.
    @discardableResult
    private func recordUnread(
        method: String, rawTarget: String, peer: ConnectionPeer?, reason: GatewayReason,
        classified: (inout DecisionRecord, GatewayState.Current) -> Void = { _, _ in }
    ) -> String? {
        let current = state.current
        var record = openingRecord(method: method, rawTarget: rawTarget, current: current)
        classified(&record, current)
        identify(&record, peer: peer, current: current)
        record.reason = reason.rawValue
        record.status = ReasonCatalog.entry(for: reason).status
        Self.addObligationsOfEveryRequest(to: &record, policy: current.policies.policy)
        metrics.count(effect: .deny, reason: reason.rawValue)
        log.enqueue([LogEntry(kind: .decision, time: now(), decisionId: record.decisionId, canonical: record.canonical)])
        return record.agency
    }

    /// Adds to a refusal's record the obligations the policy records with every request of its agency's category
    /// (``Policy/obligations(everyRequestOf:)``), after any it has.
    static func addObligationsOfEveryRequest(to record: inout DecisionRecord, policy: Policy) {
        let every = policy.obligations(everyRequestOf: record.category.flatMap(AgencyCategory.init(rawValue:)))
        record.obligations += every.filter { !record.obligations.contains($0) }
    }

    /// The raw target as it may appear in the log when it could not be canonicalised: bounded in length.
    static func loggable(_ raw: String) -> String {
        raw.utf8.count > 2048 ? String(decoding: raw.utf8.prefix(2048), as: UTF8.self) + "…" : raw
    }
}

/// Runs a decision-log batch's completions on an event loop: one task per loop per batch.
final class LoopCompletionExecutor: LogCompletionExecutor, Sendable {
    let loop: any EventLoop

    private init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func execute(_ work: @escaping @Sendable () -> Void) {
        loop.execute(work)
    }

    /// One executor per loop of the shared group, made once.
    private static let shared: [ObjectIdentifier: LoopCompletionExecutor] = Dictionary(
        uniqueKeysWithValues: MultiThreadedEventLoopGroup.singleton.makeIterator().map { (ObjectIdentifier($0), LoopCompletionExecutor($0)) }
    )

    /// The executor for `loop`.
    static func of(_ loop: any EventLoop) -> LoopCompletionExecutor {
        shared[ObjectIdentifier(loop)] ?? LoopCompletionExecutor(loop)
    }
}

/// The configured upstreams and one connection pool per event loop of the shared group, made on first use there.
final class Upstreams: Sendable {
    let endpoints: [String: UpstreamEndpoint]
    private let pools: [ObjectIdentifier: NIOLoopBoundBox<UpstreamPool?>]
    private let connectionsPerLoop: Int
    private let connectTimeout: TimeAmount

    init(settings: [String: UpstreamSettings], limits: GatewayConfiguration.Limits) throws {
        endpoints = try Dictionary(uniqueKeysWithValues: settings.map { ($0.key, try UpstreamEndpoint(name: $0.key, settings: $0.value)) })
        let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        // The configured bound is the gateway's; each loop takes its share.
        connectionsPerLoop = (limits.upstreamConnections + loops.count - 1) / loops.count
        connectTimeout = limits.upstreamConnectTimeout.timeAmount
        pools = Dictionary(uniqueKeysWithValues: loops.map { loop in
            (ObjectIdentifier(loop), NIOLoopBoundBox.makeEmptyBox(valueType: UpstreamPool.self, eventLoop: loop))
        })
    }

    /// The pool of `loop`, a loop of the shared group; call on that loop.
    func pool(on loop: any EventLoop) -> UpstreamPool {
        guard let box = pools[ObjectIdentifier(loop)] else { preconditionFailure("an event loop outside the shared group") }
        if let pool = box.value { return pool }
        let pool = UpstreamPool(loop: loop, limit: connectionsPerLoop, connectTimeout: connectTimeout)
        box.value = pool
        return pool
    }

    /// Closes every pool's idle connections; connections still in use close when their exchange ends.
    func close() async {
        for box in pools.values {
            try? await box.eventLoop.submit { box.value?.close() }.get()
        }
    }
}
