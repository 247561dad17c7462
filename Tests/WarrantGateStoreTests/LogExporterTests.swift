import Foundation
import Testing
import WarrantGateCore
@testable import WarrantGateStore

@Suite("Log export")
struct LogExporterTests {
    @Test("decisions are exported with their outcomes joined, in CSV and JSON Lines")
    func export() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool)
        let writer = Task { await log.run() }
        let allowed = DecisionRecord(
            decisionId: "d1", time: "2026-11-25T00:00:00.000Z", component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=x",
            agency: "denver-pd", category: "local-law-enforcement", method: "GET", path: "/records/inmates/2017-000123", action: "records.read",
            subject: "2017-000123", warrantReference: nil, effect: .allow, reason: "permitted", rules: ["a", "b"], obligations: [],
            policy: "denver", policyDigest: "00", status: nil
        )
        var denied = allowed
        denied.decisionId = "d2"
        denied.effect = .deny
        denied.reason = "warrant_missing"
        denied.status = 403
        denied.path = "=HYPERLINK(\"x\"),evil"
        let outcome = OutcomeRecord(decisionId: "d1", time: "2026-11-25T00:00:00.010Z", upstreamStatus: 200, status: 200, bytes: 10, latencyMs: 3, redactedFields: 4, error: nil)
        try await log.append([LogEntry(kind: .decision, time: Date(), decisionId: "d1", canonical: allowed.canonical)])
        try await log.append([LogEntry(kind: .decision, time: Date(), decisionId: "d2", canonical: denied.canonical)])
        try await log.append([LogEntry(kind: .outcome, time: Date(), decisionId: "d1", canonical: outcome.canonical)])
        log.close()
        await writer.value

        var lines: [String] = []
        let count = try LogExporter(reader: database.pool).export(format: .jsonl) { lines.append($0) }
        #expect(count == 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        #expect(first["decisionId"] as? String == "d1")
        #expect(first["upstreamStatus"] as? Int == 200)
        #expect(first["redactedFields"] as? Int == 4)
        #expect(first["effect"] as? String == "allow")
        let second = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        #expect(second["reason"] as? String == "warrant_missing")
        #expect(second["status"] as? Int == 403)

        var csv = ""
        try LogExporter(reader: database.pool).export(format: .csv) { csv += $0 }
        let rows = csv.split(separator: "\r\n")
        #expect(rows.count == 3)
        #expect(rows[0].hasPrefix("decisionId,time,agency"))
        #expect(rows[2].contains(#""'=HYPERLINK(""x""),evil""#))
    }
}
