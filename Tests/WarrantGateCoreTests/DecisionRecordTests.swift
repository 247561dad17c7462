import Foundation
import Testing
@testable import WarrantGateCore

@Suite("Decision identifiers and records")
struct DecisionRecordTests {
    @Test("identifiers are version-7 UUIDs: lower-case, time first, distinct within a millisecond")
    func identifiers() {
        let time = Date(timeIntervalSince1970: 1_764_000_000.5)
        let ids = (0..<1000).map { _ in DecisionID.make(at: time) }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(UUID(uuidString: id) != nil)
            #expect(id == id.lowercased())
            let hex = Array(id.utf8)
            #expect(hex[14] == UInt8(ascii: "7"))
            #expect([UInt8(ascii: "8"), UInt8(ascii: "9"), UInt8(ascii: "a"), UInt8(ascii: "b")].contains(hex[19]))
            #expect(id.hasPrefix("019ab697-e9f4-7"))  // 1,764,000,000,500 ms
        }
        let later = DecisionID.make(at: time.addingTimeInterval(0.002))
        #expect(ids.allSatisfy { $0 < later })
    }

    @Test("a record read back from its canonical JSON is the record written, escapes included")
    func roundTrip() throws {
        let record = DecisionRecord(
            decisionId: DecisionID.make(), time: "2026-11-25T04:00:00.000Z", component: "gateway", certificateSPKI: "ab",
            certificateSubject: "CN=\"quoted\", O=Back\\slash\nline", agency: "ice-ero", category: "federal-immigration", method: "GET",
            path: "/records/inmates/2017-000123", action: "records.read", subject: "2017-000123", warrantReference: nil, effect: .deny,
            reason: "warrant_missing", rules: ["immigration-requires-judicial-warrant"], obligations: [], policy: "denver",
            policyDigest: "cd", status: 403
        )
        #expect(try DecisionRecord(canonical: record.canonical) == record)
        let outcome = OutcomeRecord(decisionId: record.decisionId, time: record.time, upstreamStatus: nil, status: 502, bytes: 0, latencyMs: 3, redactedFields: 0, error: "upstream refused")
        #expect(try OutcomeRecord(canonical: outcome.canonical) == outcome)
        #expect(throws: JSONError.self) { try DecisionRecord(canonical: Array(#"{"decisionId":"x"}"#.utf8)) }
        #expect(throws: JSONError.self) { try DecisionRecord(canonical: [0x7b, 0xff, 0x7d]) }
    }

    @Test("strings are escaped byte for byte as the canonical form says, wherever in a string the escapes fall")
    func stringEscapes() {
        func reference(_ text: String) -> [UInt8] {
            var out: [UInt8] = [UInt8(ascii: "\"")]
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
                case 0..<0x20: out += Array("\\u00".utf8) + Array(String(byte, radix: 16).leftPadded(to: 2).utf8)
                default: out.append(byte)
                }
            }
            return out + [UInt8(ascii: "\"")]
        }
        let alphabet = ["a", "Z", "0", " ", "\"", "\\", "\n", "\u{01}", "\u{1f}", "é", "€", "/", "~"]
        var random = SplitMix64(seed: 2026)
        for _ in 0..<2000 {
            let text = (0..<random.next(below: 40)).map { _ in alphabet[random.next(below: alphabet.count)] }.joined()
            var bytes: [UInt8] = []
            CanonicalJSON.append(string: text, to: &bytes)
            #expect(bytes == reference(text), "\(text.debugDescription)")
        }
    }

    @Test("action patterns: exact names, families and the wildcard")
    func actionPatterns() {
        #expect(ActionPattern.matches(pattern: "records.read", action: "records.read"))
        #expect(!ActionPattern.matches(pattern: "records.read", action: "records.reader"))
        #expect(ActionPattern.matches(pattern: "records.*", action: "records.release-date"))
        #expect(!ActionPattern.matches(pattern: "records.*", action: "records."))
        #expect(!ActionPattern.matches(pattern: "records.*", action: "recordsXread"))
        #expect(!ActionPattern.matches(pattern: "records.*", action: "visitation.schedule"))
        #expect(ActionPattern.matches(pattern: "*", action: "anything"))
        #expect(!ActionPattern.matches(pattern: "records.read", action: ""))
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
