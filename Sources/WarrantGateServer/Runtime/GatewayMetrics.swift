import CoreMetrics
import Foundation
import Prometheus
import Synchronization
import WarrantGateCore

/// The gateway's Prometheus metrics, kept in a registry of its own and served on the admin listener.
final class GatewayMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let latency: CoreMetrics.Timer
    let policyReloadFailures: CoreMetrics.Counter
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
        CoreMetrics.Counter(label: "warrantgate_shadow_evaluations_total", dimensions: [("agrees", agrees ? "true" : "false")], factory: factory).increment()
    }

    func countHandshakeRefusal() {
        CoreMetrics.Counter(label: "warrantgate_handshake_refusals_total", dimensions: [], factory: factory).increment()
    }

    func observe(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        latency.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
