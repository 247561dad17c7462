import Foundation
import Testing
@testable import WarrantGateServer

@Suite("Prometheus metrics")
struct GatewayMetricsTests {
    @Test("decisions are counted per effect and reason, and requests timed")
    func decisionCounters() {
        let metrics = GatewayMetrics()
        metrics.count(effect: .allow, reason: "permitted")
        metrics.count(effect: .allow, reason: "permitted")
        metrics.count(effect: .deny, reason: "warrant_missing")
        metrics.count(effect: .deny, reason: "permitted")
        metrics.observe(since: .now)
        let lines = String(decoding: metrics.exposition(), as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.contains(#"warrantgate_decisions_total{effect="allow",reason="permitted"} 2"#))
        #expect(lines.contains(#"warrantgate_decisions_total{effect="deny",reason="warrant_missing"} 1"#))
        #expect(lines.contains(#"warrantgate_decisions_total{effect="deny",reason="permitted"} 1"#))
        #expect(lines.contains { $0.hasPrefix("warrantgate_request_duration_seconds_count") && $0.hasSuffix(" 1") })
    }
}
