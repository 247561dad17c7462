import Foundation
import Testing

@testable import WarrantGateCore

@Suite("Log entries as RFC 5424 syslog messages")
struct SyslogRecordTests {
    static func decision(agency: String = "ice-ero", path: String = "/records/inmates/2017-000123", effect: Effect = .deny) -> [UInt8] {
        DecisionRecord(
            decisionId: "3813dcb8", time: "2026-12-02T10:28:33.123Z", component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=ice",
            agency: agency, category: "federal-immigration", method: "GET", path: path, action: "records.read", subject: "2017-000123",
            warrantReference: nil, effect: effect, reason: effect == .deny ? "warrant_missing" : "warrant_verified", rules: ["deny-ice", "x"],
            obligations: [], policy: "denver", policyDigest: "00", status: effect == .deny ? 403 : nil
        ).canonical
    }

    @Test("a denial: log-audit notice, the entry's time, the kind as MSGID, the searched fields, the exact entry as MSG")
    func denial() {
        let entry = Self.decision()
        let message = SyslogRecord(seq: 42, kind: "decision", time: "2026-12-02T10:28:33.123Z", entry: entry).message(hostname: "gw1.county.example")
        let expectedHeader = #"<109>1 2026-12-02T10:28:33.123Z gw1.county.example warrant-gate - decision [warrantgate@32473 seq="42" kind="decision" "#
            + #"decisionId="3813dcb8" agency="ice-ero" category="federal-immigration" action="records.read" subject="2017-000123" "#
            + #"effect="deny" reason="warrant_missing" status="403" method="GET" path="/records/inmates/2017-000123"] "#
        #expect(String(decoding: message, as: UTF8.self) == expectedHeader + String(decoding: entry, as: UTF8.self))
    }

    @Test("an allowed decision is info; an admin action is notice and names its operator")
    func severities() {
        let allowed = SyslogRecord(seq: 1, kind: "decision", time: "2026-12-02T10:28:33.123Z", entry: Self.decision(effect: .allow))
        #expect(String(decoding: allowed.message(hostname: "gw1"), as: UTF8.self).hasPrefix("<110>1 "))
        let admin = AdminRecord(time: "2026-12-02T10:28:33.123Z", operator: "jdoe", action: "warrant.register", target: "W-1", details: ["k": "v"])
        let text = String(decoding: SyslogRecord(seq: 2, kind: "admin", time: admin.time, entry: admin.canonical).message(hostname: "gw1"), as: UTF8.self)
        #expect(text.hasPrefix(#"<109>1 2026-12-02T10:28:33.123Z gw1 warrant-gate - admin [warrantgate@32473 seq="2" kind="admin" operator="jdoe" action="warrant.register" target="W-1"] {"#))
    }

    @Test("hostile values cannot end the structured data, start a line, or forge a parameter")
    func hostileValues() {
        let entry = Self.decision(agency: "x\"] [forged seq=\"1\"] \\", path: "/a\nb\r\u{7F}\u{85}\u{2028}")
        let text = String(decoding: SyslogRecord(seq: 9, kind: "decision", time: "2026-12-02T10:28:33.123Z", entry: entry).message(hostname: "gw 1\n"), as: UTF8.self)
        #expect(text.contains(#"agency="x\"\] [forged seq=\"1\"\] \\""#))
        #expect(text.contains("path=\"/a\u{FFFD}b\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\""))  // NEL and LINE SEPARATOR too (a pass)
        #expect(text.hasPrefix("<109>1 2026-12-02T10:28:33.123Z - warrant-gate"))  // a hostname with a space is NILVALUE
        let header = text.prefix { $0 != "{" }
        #expect(!header.contains("\n") && !header.contains("\r"))
    }

    @Test("an entry that does not parse is still sent, marked malformed; a time not in the log's form is NILVALUE")
    func malformed() {
        let text = String(decoding: SyslogRecord(seq: 3, kind: "outcome", time: "yesterday", entry: Array("{oops".utf8)).message(hostname: "gw1"), as: UTF8.self)
        #expect(text == #"<110>1 - gw1 warrant-gate - outcome [warrantgate@32473 seq="3" kind="outcome" malformed="true"] {oops"#)
    }
}
