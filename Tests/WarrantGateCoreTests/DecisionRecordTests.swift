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

    // Records whose canonical bytes were captured from the encoders written out by hand, before the field tables:
    // the bytes are hashed into the log, so they must never change.
    static let fullDecision = DecisionRecord(
        decisionId: "019ab697-e9f4-7abc-8def-0123456789ab", time: "2026-11-25T14:03:07.123Z", component: "gateway",
        certificateSPKI: String(repeating: "ab", count: 32), certificateSubject: "CN=\"ice-ero\", O=Back\\slash\nline\u{01}\tend é€",
        agency: "ice-ero", category: "federal-immigration", method: "GET", path: "/records/inmates/2017-000123", action: "records.read",
        subject: "2017-000123", warrantReference: "JW-2026-0001", effect: .deny, reason: "warrant_missing",
        rules: ["immigration-requires-judicial-warrant", "a \"quoted\" rule"], obligations: ["count-for-council-report", "notify"],
        policy: "denver", policyDigest: String(repeating: "cd", count: 32), status: 403
    )
    static let sparseDecision = DecisionRecord(
        decisionId: "d1", time: "2026-11-25T00:00:00.000Z", component: "gateway", certificateSPKI: nil, certificateSubject: nil, agency: nil,
        category: nil, method: "POST", path: "/", action: nil, subject: nil, warrantReference: nil, effect: .allow, reason: "permitted",
        rules: [], obligations: [], policy: nil, policyDigest: nil, status: nil
    )
    static let fullOutcome = OutcomeRecord(
        decisionId: "019ab697-e9f4-7abc-8def-0123456789ab", time: "2026-11-25T14:03:07.130Z", upstreamStatus: 504, status: 502,
        bytes: 1_048_576, latencyMs: 15_000, redactedFields: 12, error: "upstream_timeout"
    )
    static let sparseOutcome = OutcomeRecord(
        decisionId: "d1", time: "2026-11-25T00:00:00.010Z", upstreamStatus: nil, status: 200, bytes: 0, latencyMs: 0, redactedFields: 0, error: nil
    )
    static let shadow = ShadowRecord(
        decisionId: "d2", time: "2026-11-25T00:00:00.000Z", agency: "ice-ero", action: "records.read", liveEffect: .deny,
        liveReason: "warrant_missing", shadowPolicy: "denver-v2", shadowDigest: "ef", shadowEffect: .allow, shadowReason: "permitted",
        shadowRules: ["r1", "r2"]
    )
    /// Two allows that return differently, as records written since shadow mode compares what is returned.
    static let shadowReturning = ShadowRecord(
        decisionId: "d3", time: "2026-11-25T00:00:00.000Z", agency: "denver-pd", action: "records.read", liveEffect: .allow,
        liveReason: "permitted", shadowPolicy: "denver-v2", shadowDigest: "ef", shadowEffect: .allow, shadowReason: "permitted",
        shadowRules: ["r1"], liveReturns: ShadowRecord.Returns(redact: ["citizenship", "immigrationstatus"], only: ["scheduledrelease"]),
        shadowReturns: ShadowRecord.Returns(redact: ["immigrationstatus"], only: nil)
    )
    static let admin = AdminRecord(
        time: "2026-11-25T00:00:00.000Z", operator: "clerk \"a\"", action: "warrant.register", target: "JW-1", details: ["z": "1", "a": "x\ny"]
    )

    /// A decision record written before `requestFacts` existed ends at `status`; it still decodes (as stating no facts)
    /// and its stored bytes still verify, since the log hashes the bytes as stored.
    @Test("the canonical bytes of every record type are the ones logs were written with")
    func canonicalBytesPinned() {
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
        #expect(text(Self.fullDecision.canonical) == #"{"decisionId":"019ab697-e9f4-7abc-8def-0123456789ab","time":"2026-11-25T14:03:07.123Z","component":"gateway","certificateSPKI":"abababababababababababababababababababababababababababababababab","certificateSubject":"CN=\"ice-ero\", O=Back\\slash\u000aline\u0001\u0009end é€","agency":"ice-ero","category":"federal-immigration","method":"GET","path":"/records/inmates/2017-000123","action":"records.read","subject":"2017-000123","warrantReference":"JW-2026-0001","effect":"deny","reason":"warrant_missing","rules":["immigration-requires-judicial-warrant","a \"quoted\" rule"],"obligations":["count-for-council-report","notify"],"policy":"denver","policyDigest":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd","status":403,"requestFacts":[]}"#)
        #expect(text(Self.sparseDecision.canonical) == #"{"decisionId":"d1","time":"2026-11-25T00:00:00.000Z","component":"gateway","certificateSPKI":null,"certificateSubject":null,"agency":null,"category":null,"method":"POST","path":"/","action":null,"subject":null,"warrantReference":null,"effect":"allow","reason":"permitted","rules":[],"obligations":[],"policy":null,"policyDigest":null,"status":null,"requestFacts":[]}"#)
        #expect(text(Self.fullOutcome.canonical) == #"{"decisionId":"019ab697-e9f4-7abc-8def-0123456789ab","time":"2026-11-25T14:03:07.130Z","upstreamStatus":504,"status":502,"bytes":1048576,"latencyMs":15000,"redactedFields":12,"error":"upstream_timeout"}"#)
        #expect(text(Self.sparseOutcome.canonical) == #"{"decisionId":"d1","time":"2026-11-25T00:00:00.010Z","upstreamStatus":null,"status":200,"bytes":0,"latencyMs":0,"redactedFields":0,"error":null}"#)
        #expect(text(Self.shadow.canonical) == #"{"decisionId":"d2","time":"2026-11-25T00:00:00.000Z","agency":"ice-ero","action":"records.read","liveEffect":"deny","liveReason":"warrant_missing","shadowPolicy":"denver-v2","shadowDigest":"ef","shadowEffect":"allow","shadowReason":"permitted","shadowRules":["r1","r2"],"liveRedact":null,"liveReturnsOnly":null,"shadowRedact":null,"shadowReturnsOnly":null,"liveObligations":null,"shadowObligations":null}"#)
        #expect(text(Self.shadowReturning.canonical).hasSuffix(#","shadowRules":["r1"],"liveRedact":["citizenship","immigrationstatus"],"liveReturnsOnly":["scheduledrelease"],"shadowRedact":["immigrationstatus"],"shadowReturnsOnly":null,"liveObligations":null,"shadowObligations":null}"#))
        #expect(text(Self.admin.canonical) == #"{"time":"2026-11-25T00:00:00.000Z","component":"admin-cli","operator":"clerk \"a\"","action":"warrant.register","target":"JW-1","details":{"a":"x\u000ay","z":"1"}}"#)
    }

    @Test("every record type reads back from its canonical bytes as the record written")
    func everyRecordRoundTrips() throws {
        for record in [Self.fullDecision, Self.sparseDecision] {
            #expect(try DecisionRecord(canonical: record.canonical) == record)
        }
        for record in [Self.fullOutcome, Self.sparseOutcome] {
            #expect(try OutcomeRecord(canonical: record.canonical) == record)
        }
        #expect(try ShadowRecord(canonical: Self.shadow.canonical) == Self.shadow)
        #expect(try ShadowRecord(canonical: Self.shadowReturning.canonical) == Self.shadowReturning)
        // Newly allowed; both allowing, a name no longer redacted or fields beyond the live limit; not the reverse.
        #expect(Self.shadow.shadowReturnsMore && Self.shadowReturning.shadowReturnsMore)
        let (strict, loose) = (ShadowRecord.Returns(redact: ["a", "b"], only: ["x"]), ShadowRecord.Returns(redact: ["a"], only: nil))
        #expect(loose.returnsMore(than: strict) && !strict.returnsMore(than: loose))
        #expect(ShadowRecord.Returns(redact: ["a", "b"], only: ["x", "y"]).returnsMore(than: strict))
        #expect(!ShadowRecord.Returns(redact: ["a", "b", "c"], only: []).returnsMore(than: strict))
        // A shadow record written before the returns were compared ends at shadowRules, and reads as comparing none.
        let older = String(decoding: Self.shadow.canonical, as: UTF8.self).replacingOccurrences(
            of: #","liveRedact":null,"liveReturnsOnly":null,"shadowRedact":null,"shadowReturnsOnly":null,"liveObligations":null,"shadowObligations":null"#, with: ""
        )
        #expect(try ShadowRecord(canonical: Array(older.utf8)) == Self.shadow)
        // One written before obligations were compared ends at shadowReturnsOnly, and reads as their agreeing.
        let beforeObligations = String(decoding: Self.shadowReturning.canonical, as: UTF8.self)
            .replacingOccurrences(of: #","liveObligations":null,"shadowObligations":null"#, with: "")
        #expect(try ShadowRecord(canonical: Array(beforeObligations.utf8)) == Self.shadowReturning)
        var dropping = Self.shadowReturning
        (dropping.liveObligations, dropping.shadowObligations) = (["count-for-council-report"], [])
        #expect(String(decoding: dropping.canonical, as: UTF8.self).hasSuffix(#""liveObligations":["count-for-council-report"],"shadowObligations":[]}"#))
        #expect(try ShadowRecord(canonical: dropping.canonical) == dropping)
        // An admin record nests its details, so it is read back with Codable.
        #expect(try JSONDecoder().decode(AdminRecord.self, from: Data(Self.admin.canonical)) == Self.admin)
    }

    @Test("decoding: members in any order, unknown ones ignored, defaults for absent ones, and required ones enforced")
    func decodingRules() throws {
        func decision(_ json: String) throws(JSONError) -> DecisionRecord { try DecisionRecord(canonical: Array(json.utf8)) }
        let minimal = #""decisionId":"d","time":"t","method":"GET","path":"/","effect":"deny","reason":"r""#
        let oldest = try decision("{" + minimal + "}")
        #expect(oldest.component == "gateway" && oldest.rules == [] && oldest.obligations == [] && oldest.agency == nil && oldest.status == nil)
        let reordered = try decision(#"{"status":404,"extra":{"nested":[1,{"x":true}]},"agency":"a","later":[],"component":"admin","# + minimal + "}")
        #expect(reordered.status == 404 && reordered.agency == "a" && reordered.component == "admin" && reordered.reason == "r")
        // A member of another type reads as absent.
        let mistyped = try decision(#"{"agency":7,"component":null,"rules":"x","# + minimal + "}")
        #expect(mistyped.agency == nil && mistyped.component == "gateway" && mistyped.rules == [])
        for broken in [#"{"decisionId":"x"}"#, "{" + minimal.replacingOccurrences(of: #""deny""#, with: #""maybe""#) + "}",
                       "{" + minimal.replacingOccurrences(of: #""t""#, with: "null") + "}", "{" + minimal.replacingOccurrences(of: #""GET""#, with: "5") + "}"] {
            #expect(throws: JSONError(detail: "not a decision record", offset: 0)) { try decision(broken) }
        }

        let outcome = try OutcomeRecord(canonical: Array(#"{"status":200,"time":"t","decisionId":"d","unknown":"u"}"#.utf8))
        #expect(outcome == OutcomeRecord(decisionId: "d", time: "t", upstreamStatus: nil, status: 200, bytes: 0, latencyMs: 0, redactedFields: 0, error: nil))
        #expect(throws: JSONError(detail: "not an outcome record", offset: 0)) { try OutcomeRecord(canonical: Array(#"{"decisionId":"d","time":"t"}"#.utf8)) }
        #expect(throws: JSONError(detail: "not a shadow record", offset: 0)) {
            try ShadowRecord(canonical: Array(String(decoding: Self.shadow.canonical, as: UTF8.self).replacingOccurrences(of: #","shadowRules":["r1","r2"]"#, with: "").utf8))
        }
    }

    @Test("each record lists its fields once, in canonical order, with their values")
    func fieldLists() {
        #expect(DecisionRecord.fieldNames == [
            "decisionId", "time", "component", "certificateSPKI", "certificateSubject", "agency", "category", "method", "path", "action",
            "subject", "warrantReference", "effect", "reason", "rules", "obligations", "policy", "policyDigest", "status", "requestFacts",
        ])
        #expect(OutcomeRecord.fieldNames == ["decisionId", "time", "upstreamStatus", "status", "bytes", "latencyMs", "redactedFields", "error"])
        let full = Self.fullDecision
        #expect(full.fieldValues == [
            .string(full.decisionId), .string(full.time), .string("gateway"), .string(full.certificateSPKI!), .string(full.certificateSubject!),
            .string("ice-ero"), .string("federal-immigration"), .string("GET"), .string(full.path), .string("records.read"), .string("2017-000123"),
            .string("JW-2026-0001"), .string("deny"), .string("warrant_missing"), .strings(full.rules), .strings(full.obligations),
            .string("denver"), .string(full.policyDigest!), .int(403), .strings([]),
        ])
        #expect(Self.sparseOutcome.fieldValues == [.string("d1"), .string("2026-11-25T00:00:00.010Z"), .null, .int(200), .int(0), .int(0), .int(0), .null])
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

    /// Review 249: shadow-diff summed every candidate's disagreements under the first one's name.
    @Test("shadow disagreements are told apart by the candidate's digest, the one that disagreed last first")
    func shadowPolicyVersions() throws {
        func record(_ id: String, _ digest: String, _ name: String) -> ShadowRecord {
            ShadowRecord(
                decisionId: id, time: "2026-11-25T00:00:00.000Z", agency: "ice-ero", action: "records.read", liveEffect: .deny,
                liveReason: "warrant_missing", shadowPolicy: name, shadowDigest: digest, shadowEffect: .allow, shadowReason: "permitted", shadowRules: []
            )
        }
        let log = [record("a", "ab01", "v1"), record("b", "cd02", "v2"), record("c", "ab01", "v1"), record("d", "cd02", "v2b"), record("e", "cd02", "v2b")]
        let versions = ShadowPolicyVersion.versions(of: log)
        #expect(versions.map(\.digest) == ["cd02", "ab01"])
        #expect(versions.map(\.name) == ["v2b", "v1"])
        #expect(versions[0].records.map(\.decisionId) == ["b", "d", "e"])
        #expect(versions[1].records.map(\.decisionId) == ["a", "c"])
        #expect(ShadowPolicyVersion.version(in: versions, digestPrefix: "AB")?.digest == "ab01")
        #expect(ShadowPolicyVersion.version(in: versions, digestPrefix: "") == nil)  // both
        #expect(ShadowPolicyVersion.version(in: versions, digestPrefix: "ef") == nil)
        #expect(ShadowPolicyVersion.versions(of: []).isEmpty)
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

