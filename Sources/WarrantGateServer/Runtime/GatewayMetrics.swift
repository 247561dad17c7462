import CoreMetrics
import Foundation
import Prometheus
import Synchronization
import WarrantGateCore
import WarrantGateStore

/// The gateway's Prometheus metrics, kept in a registry of its own and served on the admin listener.
///
/// Every metric without labels is made here, once, so that it is exported from start-up (a counter at 0): an alert on
/// `increase()` then sees its first increment, and one on absence means the gateway is not scraped. Gauges whose
/// source is elsewhere are read at each scrape (``sample(log:registryReadable:)``), never on the request path.
/// `monitoring/` queries these names; `MonitoringTests` checks that each is exported.
final class GatewayMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let latency: CoreMetrics.Timer
    let policyReloadFailures: CoreMetrics.Counter
    /// Requests refused with 503 `log_unavailable` because their decision could not be committed: the audit
    /// failure of CJIS 5.4.2.
    let logRefusals: CoreMetrics.Counter
    /// Checkpoint signings that failed (a database error, or a log that no longer matches its last checkpoint).
    let checkpointFailures: CoreMetrics.Counter
    private let handshakeRefusals: CoreMetrics.Counter
    private let connectionRefusals: [ConnectionAdmission.Refusal: CoreMetrics.Counter]
    private let shadowAgreements: CoreMetrics.Counter
    private let shadowDisagreements: CoreMetrics.Counter
    private let logHealthy: CoreMetrics.Gauge
    private let reloadFailing: CoreMetrics.Gauge
    private let registryReadable: CoreMetrics.Gauge
    private let twoPersonRule: CoreMetrics.Gauge
    private let activeByOneOperator: CoreMetrics.Gauge
    private let agencyKeysByOneOperator: CoreMetrics.Gauge
    private let activeMisfiled: CoreMetrics.Gauge
    private let unwrittenEntries: CoreMetrics.Counter
    /// The log writer's count of unwritten entries as last exported, so that a scrape adds only what is new.
    private let unwrittenExported = Mutex(0)
    private let decisionCounters = Mutex<[DecisionKey: CoreMetrics.Counter]>([:])

    private struct DecisionKey: Hashable {
        let effect: Effect
        let reason: String
    }

    init() {
        registry = PrometheusCollectorRegistry()
        factory = PrometheusMetricsFactory(registry: registry)
        latency = CoreMetrics.Timer(label: "warrantgate_request_duration_seconds", dimensions: [], factory: factory)
        policyReloadFailures = CoreMetrics.Counter(label: "warrantgate_policy_reload_failures_total", dimensions: [], factory: factory)
        logRefusals = CoreMetrics.Counter(label: "warrantgate_decision_log_refusals_total", dimensions: [], factory: factory)
        checkpointFailures = CoreMetrics.Counter(label: "warrantgate_checkpoint_failures_total", dimensions: [], factory: factory)
        handshakeRefusals = CoreMetrics.Counter(label: "warrantgate_handshake_refusals_total", dimensions: [], factory: factory)
        let factory = factory
        connectionRefusals = ConnectionAdmission.Refusal.allCases.reduce(into: [:]) { counters, refusal in
            counters[refusal] = CoreMetrics.Counter(
                label: "warrantgate_connection_refusals_total", dimensions: [("limit", refusal.rawValue)], factory: factory
            )
        }
        shadowAgreements = CoreMetrics.Counter(label: "warrantgate_shadow_evaluations_total", dimensions: [("agrees", "true")], factory: factory)
        shadowDisagreements = CoreMetrics.Counter(label: "warrantgate_shadow_evaluations_total", dimensions: [("agrees", "false")], factory: factory)
        logHealthy = CoreMetrics.Gauge(label: "warrantgate_decision_log_healthy", dimensions: [], factory: factory)
        reloadFailing = CoreMetrics.Gauge(label: "warrantgate_reload_failing", dimensions: [], factory: factory)
        reloadFailing.record(0)
        registryReadable = CoreMetrics.Gauge(label: "warrantgate_registry_readable", dimensions: [], factory: factory)
        twoPersonRule = CoreMetrics.Gauge(label: "warrantgate_two_person_rule", dimensions: [], factory: factory)
        activeByOneOperator = CoreMetrics.Gauge(label: "warrantgate_documents_active_by_one_operator", dimensions: [], factory: factory)
        agencyKeysByOneOperator = CoreMetrics.Gauge(label: "warrantgate_agency_keys_by_one_operator", dimensions: [], factory: factory)
        activeMisfiled = CoreMetrics.Gauge(label: "warrantgate_documents_active_misfiled", dimensions: [], factory: factory)
        unwrittenEntries = CoreMetrics.Counter(label: "warrantgate_decision_log_unwritten_entries_total", dimensions: [], factory: factory)
    }

    func count(effect: Effect, reason: String) {
        decisionCounter(effect: effect, reason: reason).increment()
    }

    /// The counter for one effect and reason, made on first use and kept: making one goes through the Prometheus
    /// registry's lock and label lookup, which every request paid.
    private func decisionCounter(effect: Effect, reason: String) -> CoreMetrics.Counter {
        let key = DecisionKey(effect: effect, reason: reason)
        if let counter = decisionCounters.withLock({ $0[key] }) { return counter }
        let counter = CoreMetrics.Counter(
            label: "warrantgate_decisions_total", dimensions: [("effect", effect.rawValue), ("reason", reason)], factory: factory
        )
        decisionCounters.withLock { $0[key] = counter }
        return counter
    }

    func countShadowEvaluation(agrees: Bool) {
        (agrees ? shadowAgreements : shadowDisagreements).increment()
    }

    func countHandshakeRefusal() {
        handshakeRefusals.increment()
    }

    /// A set-up connection closed for want of a place under `limit`.
    func countConnectionRefusal(_ limit: ConnectionAdmission.Refusal) {
        connectionRefusals[limit]?.increment()
    }

    /// Records how the last reload ended: `failing` while a part of it (the policy and agencies, a TLS file) kept
    /// its previous version, so that the files on disk are not all in force.
    func recordReload(failing: Bool) {
        reloadFailing.record(failing ? 1 : 0)
    }

    func observe(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        latency.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    /// Brings the gauges and the unwritten-entries counter up to date from their sources; call before
    /// ``exposition()``. `registryReadable` is what the registry refresher last found, `registry` the last snapshot
    /// read, and `twoPersonRule` the registry's setting as just read (nil, if it could not be: the gauge keeps its
    /// value).
    func sample(log: any DecisionLogWriter, registryReadable readable: Bool, registry: RegistrySnapshot, twoPersonRule ruleOn: Bool?) {
        logHealthy.record(log.isHealthy ? 1 : 0)
        registryReadable.record(readable ? 1 : 0)
        if let ruleOn { twoPersonRule.record(ruleOn ? 1 : 0) }
        activeByOneOperator.record(registry.activeByOneOperator)
        agencyKeysByOneOperator.record(registry.agencyKeysByOneOperator)
        activeMisfiled.record(registry.activeMisfiled.count)
        let unwritten = log.unwrittenEntries
        let added = unwrittenExported.withLock { exported in
            defer { exported = max(exported, unwritten) }
            return unwritten - exported
        }
        if added > 0 { unwrittenEntries.increment(by: added) }
    }

    func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
