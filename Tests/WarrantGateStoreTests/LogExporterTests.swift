import Foundation
import GRDB
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
        let count = try LogExporter(database: SQLiteDatabase(pool: database.pool)).export(format: .jsonl) { lines.append($0) }
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
        try LogExporter(database: SQLiteDatabase(pool: database.pool)).export(format: .csv) { csv += $0 }
        let rows = csv.split(separator: "\r\n")
        #expect(rows.count == 3)
        #expect(rows[0].hasPrefix("decisionId,time,agency"))
        #expect(rows[2].contains(#""'=HYPERLINK(""x""),evil""#))
    }

    /// An attacker's pass: reports and exports joined outcomes by decision id alone, so an outcome appended again for
    /// an old decision (any PostgreSQL role may append) listed and counted it twice, and could give a refused request
    /// the status 200. `log verify` passed it.
    @Test("a decision is exported once, with its first outcome after it; log verify names an outcome appended outside the gateway")
    func outcomeAppendedAgain() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool)
        let writer = Task { await log.run() }
        let denied = DecisionRecord(
            decisionId: "d1", time: "2026-11-25T00:00:00.000Z", component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=x",
            agency: "ice-ero", category: "federal-immigration", method: "GET", path: "/records/inmates/2017-000123", action: "records.read",
            subject: "2017-000123", warrantReference: nil, effect: .deny, reason: "warrant_missing", rules: [], obligations: [],
            policy: "denver", policyDigest: "00", status: 403
        )
        func outcome(_ status: Int, of decision: String = "d1") -> LogEntry {
            let record = OutcomeRecord(
                decisionId: decision, time: Timestamp.format(Date()), upstreamStatus: status == 403 ? nil : status, status: status, bytes: 1,
                latencyMs: 1, redactedFields: 0, error: nil
            )
            return LogEntry(kind: .outcome, time: Date(), decisionId: decision, canonical: record.canonical)
        }
        var second = denied
        second.decisionId = "d2"
        try await log.append([LogEntry(kind: .decision, time: Date(), decisionId: "d1", canonical: denied.canonical)])
        try await log.append([outcome(403)])
        try await log.append([outcome(200)])  // seq 3: appended again, as if answered
        try await log.append([outcome(200, of: "d2")])  // seq 4: before its decision
        try await log.append([LogEntry(kind: .decision, time: Date(), decisionId: "d2", canonical: second.canonical)])
        log.close()
        await writer.value

        var lines: [String] = []
        let count = try LogExporter(database: SQLiteDatabase(pool: database.pool)).export(format: .jsonl) { lines.append($0) }
        #expect(count == 2 && lines.count == 2)
        let rows = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(rows[0]["status"] as? Int == 403, "the first outcome after the decision: \(rows[0])")
        #expect(rows[1]["status"] as? Int == 403 && rows[1]["upstreamStatus"] as? Int == nil, "no outcome before the decision is its: \(rows[1])")

        let verifier = LogVerifier(key: LogSigningKey(name: "county.example/warrant-gate").verifier)
        let report = try verifier.verify(database: SQLiteDatabase(pool: database.pool), against: nil)
        #expect(report.problems.contains { $0.hasPrefix("seq 3 is a second outcome of one decision (1 such in all)") }, "\(report.problems)")
        #expect(report.problems.contains { $0.hasPrefix("seq 4 is an outcome written before its decision (1 such in all)") }, "\(report.problems)")
    }

    @Test("the export's header, JSON Lines and CSV rows are byte for byte those exports were written with")
    func rowsPinned() throws {
        // Captured from the export written out column by column, before the column list.
        let full = DecisionRecord(
            decisionId: "019ab697-e9f4-7abc-8def-0123456789ab", time: "2026-11-25T14:03:07.123Z", component: "gateway",
            certificateSPKI: "ab", certificateSubject: "CN=x", agency: "ice-ero", category: "federal-immigration", method: "GET",
            path: "=HYPERLINK(\"x\"),evil", action: "records.read", subject: "-2017", warrantReference: "@JW \"1\"", effect: .deny,
            reason: "warrant_missing", rules: ["r1", "r2"], obligations: ["count", "+notify"], policy: "denver", policyDigest: "cd", status: 403
        )
        let sparse = DecisionRecord(
            decisionId: "d1", time: "2026-11-25T00:00:00.000Z", component: "gateway", certificateSPKI: nil, certificateSubject: nil, agency: nil,
            category: nil, method: "POST", path: "/", action: nil, subject: nil, warrantReference: nil, effect: .allow, reason: "permitted",
            rules: [], obligations: [], policy: nil, policyDigest: nil, status: nil
        )
        let outcome = OutcomeRecord(
            decisionId: "019ab697-e9f4-7abc-8def-0123456789ab", time: "2026-11-25T14:03:07.130Z", upstreamStatus: 504, status: 502,
            bytes: 1_048_576, latencyMs: 15_000, redactedFields: 12, error: "upstream\ntimeout, -1"
        )
        #expect(CSV.line(ExportFormat.csv.columns) == #"decisionId,time,agency,category,certificateSPKI,method,path,action,subject,warrantReference,requestFacts,effect,reason,rules,obligations,policyDigest,status,upstreamStatus,redactedFields,bytes,latencyMs,error"# + "\r\n")
        #expect(ExportFormat.jsonl.columns == ["seq"] + ExportFormat.csv.columns)

        let joined = ExportRow(seq: 7, decision: full, outcome: outcome)
        #expect(joined.jsonLine == #"{"seq":7,"decisionId":"019ab697-e9f4-7abc-8def-0123456789ab","time":"2026-11-25T14:03:07.123Z","agency":"ice-ero","category":"federal-immigration","certificateSPKI":"ab","method":"GET","path":"=HYPERLINK(\"x\"),evil","action":"records.read","subject":"-2017","warrantReference":"@JW \"1\"","requestFacts":[],"effect":"deny","reason":"warrant_missing","rules":["r1","r2"],"obligations":["count","+notify"],"policyDigest":"cd","status":502,"upstreamStatus":504,"redactedFields":12,"bytes":1048576,"latencyMs":15000,"error":"upstream\u000atimeout, -1"}"# + "\n")
        #expect(CSV.line(joined.csvFields) == #"019ab697-e9f4-7abc-8def-0123456789ab,2026-11-25T14:03:07.123Z,ice-ero,federal-immigration,ab,GET,"'=HYPERLINK(""x""),evil",records.read,-2017,"'@JW ""1""",,deny,warrant_missing,r1 r2,count +notify,cd,502,504,12,1048576,15000,"upstream\#ntimeout, -1""# + "\r\n")

        let refused = ExportRow(seq: 8, decision: full, outcome: nil)
        #expect(refused.jsonLine == #"{"seq":8,"decisionId":"019ab697-e9f4-7abc-8def-0123456789ab","time":"2026-11-25T14:03:07.123Z","agency":"ice-ero","category":"federal-immigration","certificateSPKI":"ab","method":"GET","path":"=HYPERLINK(\"x\"),evil","action":"records.read","subject":"-2017","warrantReference":"@JW \"1\"","requestFacts":[],"effect":"deny","reason":"warrant_missing","rules":["r1","r2"],"obligations":["count","+notify"],"policyDigest":"cd","status":403,"upstreamStatus":null,"redactedFields":null,"bytes":null,"latencyMs":null,"error":null}"# + "\n")
        #expect(CSV.line(refused.csvFields) == #"019ab697-e9f4-7abc-8def-0123456789ab,2026-11-25T14:03:07.123Z,ice-ero,federal-immigration,ab,GET,"'=HYPERLINK(""x""),evil",records.read,-2017,"'@JW ""1""",,deny,warrant_missing,r1 r2,count +notify,cd,403,,,,,"# + "\r\n")

        let bare = ExportRow(seq: 9, decision: sparse, outcome: nil)
        #expect(bare.jsonLine == #"{"seq":9,"decisionId":"d1","time":"2026-11-25T00:00:00.000Z","agency":null,"category":null,"certificateSPKI":null,"method":"POST","path":"/","action":null,"subject":null,"warrantReference":null,"requestFacts":[],"effect":"allow","reason":"permitted","rules":[],"obligations":[],"policyDigest":null,"status":null,"upstreamStatus":null,"redactedFields":null,"bytes":null,"latencyMs":null,"error":null}"# + "\n")
        #expect(CSV.line(bare.csvFields) == #"d1,2026-11-25T00:00:00.000Z,,,,POST,/,,,,,allow,permitted,,,,,,,,,"# + "\r\n")
        #expect(bare.agency == nil && joined.path == full.path && joined.status == 502 && refused.status == 403)
        // An attacker's pass: a refused fact value, logged as sent, held ESC and OSC sequences that cleared the
        // terminal of whoever read the export; they, a C1 CSI and a bidi override, are written as escapes.
        #expect(CSV.cell("a\u{1B}]0;PWNED\u{07}\u{1B}[2Jb") == #""a\u{1B}]0;PWNED\u{7}\u{1B}[2Jb""#)
        #expect(CSV.cell("x\u{9B}31m\u{202E}y") == #"x\u{9B}31m\u{202E}y"#)
        // Review 249: JSON Lines passed a C1 CSI, a bidi override, U+2028 and U+0085 as they were (a client's HTTP/2
        // path holds any of them): escaped, each as JSON reads it back; other non-ASCII text as it is.
        #expect(ExportRow.escapingInvisible(#"{"path":"/x\#u{9B}2J\#u{202E}é\#u{2028}\#u{85}\#u{7F}\#u{E0001}"}"#)
                == #"{"path":"/x\u009b2J\u202eé\u2028\u0085\u007f\udb40\udc01"}"#)
        let hostile = ExportRow(seq: 10, decision: DecisionRecord(
            decisionId: "d2", time: "2026-11-25T00:00:00.000Z", component: "gateway", certificateSPKI: nil, certificateSubject: nil, agency: nil,
            category: nil, method: "GET", path: "/a\u{202E}b", action: nil, subject: nil, warrantReference: nil, effect: .deny, reason: "no_route",
            rules: [], obligations: [], policy: nil, policyDigest: nil, status: 403
        ), outcome: nil)
        let decoded = try JSONSerialization.jsonObject(with: Data(hostile.jsonLine.utf8)) as? [String: Any]
        #expect(hostile.jsonLine.contains(#""/a\u202eb""#) && decoded?["path"] as? String == "/a\u{202E}b")
        #expect(CSV.cell("tab\there, line\nbreak") == "\"tab\there, line\nbreak\"")
        #expect(CSV.cell("Ciudad Juárez") == "Ciudad Juárez")
        // A review: spreadsheets where the decimal mark is a comma split cells at `;`, and honour a quote only at the
        // start of their own field, so `;`, a tab and a line break are quoted and a formula after them neutralised.
        #expect(CSV.cell("x;=cmd|'/c calc'!A0") == #""x;'=cmd|'/c calc'!A0""#)
        #expect(CSV.cell("JW;+1;;@SUM(A1)\t-2\n=3") == "\"JW;'+1;;'@SUM(A1)\t'-2\n'=3\"")
        #expect(CSV.cell("a;b") == "\"a;b\"" && CSV.cell("=1;=2") == "\"'=1;'=2\"" && CSV.cell(";\t=x") == "\";\t'=x\"")
        // A quote or spaces between the separator and the formula, which a reader strips or trims (a review's pass).
        #expect(CSV.cell(#"JW;"=cmd|' /c calc'!A0;"#) == #""JW;'""=cmd|' /c calc'!A0;""#)
        #expect(CSV.cell("x; \"@SUM(1)") == #""x;' ""@SUM(1)""#)
    }

    @Test("a whole-log export reads the log in its own order without sorting it; a time range reads through the index, still in seq order")
    func queryPlans() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool)
        let writer = Task { await log.run() }
        // Logged in this order, but the second decision was made earlier: seq order and time order disagree.
        for (id, time) in [("late", "2026-11-25T10:00:00.000Z"), ("early", "2026-11-25T09:00:00.000Z")] {
            let record = DecisionRecord(
                decisionId: id, time: time, component: "gateway", certificateSPKI: nil, certificateSubject: nil, agency: "denver-pd",
                category: nil, method: "GET", path: "/", action: nil, subject: nil, warrantReference: nil, effect: .deny,
                reason: "no_route", rules: [], obligations: [], policy: "denver", policyDigest: "00", status: 404
            )
            try await log.append([LogEntry(kind: .decision, time: try #require(Timestamp.parse(time)), decisionId: id, canonical: record.canonical)])
        }
        log.close()
        await writer.value

        func plan(_ filter: ExportFilter) throws -> String {
            let (sql, arguments) = LogExporter.query(filter, dialect: .sqlite)
            return try database.pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: StatementArguments(arguments))
                    .map { $0["detail"] as String }.joined(separator: "\n")
            }
        }
        let whole = try plan(ExportFilter())
        #expect(whole.contains("SCAN d") && !whole.contains("TEMP B-TREE"), "\(whole)")
        let range = ExportFilter(from: Timestamp.parse("2026-11-25T08:00:00.000Z"), until: Timestamp.parse("2026-11-25T11:00:00.000Z"))
        #expect(try plan(range).contains("log_time_kind"))

        for filter in [ExportFilter(), range] {
            var ids: [String] = []
            try LogExporter(database: SQLiteDatabase(pool: database.pool)).forEachRow(filter) { ids.append($0.decisionId) }
            #expect(ids == ["late", "early"])
        }
    }

    private static func decision(_ index: Int) -> DecisionRecord {
        DecisionRecord(
            decisionId: "d\(index)", time: "2026-11-25T00:00:00.000Z", component: "gateway", certificateSPKI: nil, certificateSubject: nil,
            agency: "denver-pd", category: nil, method: "GET", path: "/records/inmates/\(index)", action: "records.read", subject: nil,
            warrantReference: nil, effect: index % 3 == 0 ? .deny : .allow, reason: index % 3 == 0 ? "no_matching_permit" : "permitted",
            rules: [], obligations: [], policy: "denver", policyDigest: "00", status: nil
        )
    }

    /// A log of `count` decisions, every allowed one with its outcome right after it.
    private static func filledLog(_ count: Int) async throws -> TemporaryDatabase {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool)
        let writer = Task { await log.run() }
        for start in stride(from: 0, to: count, by: 500) {
            var entries: [LogEntry] = []
            for index in start..<min(count, start + 500) {
                let record = decision(index)
                entries.append(LogEntry(kind: .decision, time: Date(), decisionId: record.decisionId, canonical: record.canonical))
                if record.effect == .allow {
                    let outcome = OutcomeRecord(
                        decisionId: record.decisionId, time: record.time, upstreamStatus: 200, status: 200, bytes: index, latencyMs: 1,
                        redactedFields: 0, error: nil
                    )
                    entries.append(LogEntry(kind: .outcome, time: Date(), decisionId: record.decisionId, canonical: outcome.canonical))
                }
            }
            try await log.append(entries)
        }
        log.close()
        await writer.value
        return database
    }

    @Test("a log of many chunks comes out whole and in log order, each decision with its own outcome, filtered and unfiltered")
    func manyChunks() async throws {
        let database = try await Self.filledLog(7_000)
        var rows: [ExportRow] = []
        var reported: [Int] = []
        let count = try LogExporter(database: SQLiteDatabase(pool: database.pool)).forEachRow(progress: { reported.append($0) }) { rows.append($0) }
        #expect(count == 7_000 && rows.count == 7_000)
        #expect(rows.map(\.decisionId).elementsEqual((0..<7_000).lazy.map { "d\($0)" }))
        #expect(zip(rows, rows.dropFirst()).allSatisfy { $0.seq < $1.seq })
        #expect(rows.allSatisfy { row in row.effect == .deny ? row.outcome == nil : row.outcome?.bytes == Int(row.decisionId.dropFirst())! })
        #expect(reported.last == 7_000 && reported == reported.sorted())

        var denied: [String] = []
        try LogExporter(database: SQLiteDatabase(pool: database.pool)).export(format: .jsonl, filter: ExportFilter(effect: .deny)) { denied.append($0) }
        #expect(denied.count == 2_334)
        #expect(denied.first?.contains(#""decisionId":"d0""#) == true && denied.last?.contains(#""decisionId":"d6999""#) == true)
    }

    @Test("an undecodable entry stops the export with an error, after every row before it and none after")
    func undecodableEntry() async throws {
        let database = try await Self.filledLog(3_000)
        // Written around the log's own writer, as damage would be: a decision whose entry is not JSON.
        try await database.pool.write { db in
            let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM log WHERE decision_id = 'd2500' AND kind = 'decision'")!
            try db.execute(sql: "DROP TRIGGER log_is_append_only_update")
            try db.execute(sql: "UPDATE log SET entry = '{not json' WHERE seq = ?", arguments: [seq])
        }
        var rows: [ExportRow] = []
        #expect(throws: (any Error).self) {
            try LogExporter(database: SQLiteDatabase(pool: database.pool)).forEachRow { rows.append($0) }
        }
        #expect(rows.count == 2_500 && rows.map(\.decisionId).elementsEqual((0..<2_500).lazy.map { "d\($0)" }))
    }

    @Test("an export whose consumer fails stops with the consumer's error")
    func consumerFails() async throws {
        struct Full: Error {}
        let database = try await Self.filledLog(5_000)
        var written = 0
        #expect(throws: Full.self) {
            try LogExporter(database: SQLiteDatabase(pool: database.pool)).export(format: .csv) { _ in
                written += 1
                if written == 1_500 { throw Full() }
            }
        }
        #expect(written == 1_500)
        // The pipeline's threads have stopped and let go of the database: a second export runs to the end.
        #expect(try LogExporter(database: SQLiteDatabase(pool: database.pool)).export(format: .csv) { _ in } == 5_000)
    }
}

