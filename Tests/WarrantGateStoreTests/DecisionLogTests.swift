import Foundation
import GRDB
import Synchronization
import Testing
import WarrantGateCore
@testable import WarrantGateStore

@Suite("Decision log")
struct DecisionLogTests {
    private func decision(_ id: String) -> LogEntry {
        let record = DecisionRecord(
            decisionId: id, time: Timestamp.format(Date()), component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=x",
            agency: "denver-pd", category: "local-law-enforcement", method: "GET", path: "/records/inmates/2017-000123", action: "records.read",
            subject: "2017-000123", warrantReference: nil, effect: .allow, reason: "permitted", rules: ["r"], obligations: [],
            policy: "denver", policyDigest: "00", status: nil
        )
        return LogEntry(kind: .decision, time: Date(), decisionId: id, canonical: record.canonical)
    }

    private func outcome(_ id: String) -> LogEntry {
        let record = OutcomeRecord(
            decisionId: id, time: Timestamp.format(Date()), upstreamStatus: 200, status: 200, bytes: 10, latencyMs: 3, redactedFields: 1, error: nil
        )
        return LogEntry(kind: .outcome, time: Date(), decisionId: id, canonical: record.canonical)
    }

    private func kinds(_ database: TemporaryDatabase) async throws -> [String] {
        try await database.pool.read { db in try String.fetchAll(db, sql: "SELECT kind FROM log ORDER BY seq") }
    }

    @Test("the database is WAL with synchronous = FULL, checkpointed every 4,096 pages")
    func durableSettings() throws {
        let database = try TemporaryDatabase()
        let (mode, synchronous, checkpointPages) = try database.pool.writeWithoutTransaction { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"),
             try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint"))
        }
        #expect(mode == "wal")
        #expect(synchronous == 2)
        #expect(checkpointPages == 4096)
    }

    @Test("concurrent appends all commit, in contiguous sequence, sharing transactions")
    func groupCommit() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<500 {
                group.addTask { try await log.append([decision("d-\(index)")]) }
            }
            try await group.waitForAll()
        }
        log.enqueue([decision("queued")])
        log.close()
        await writer.value
        let counts = try await database.pool.read { db in
            [
                try Int.fetchOne(db, sql: "SELECT count(*) FROM log"),
                try Int.fetchOne(db, sql: "SELECT max(seq) - min(seq) + 1 FROM log"),
                try Int.fetchOne(db, sql: "SELECT count(DISTINCT decision_id) FROM log"),
            ]
        }
        #expect(counts == [501, 501, 501])
    }

    @Test("a batch goes in as multi-row inserts (32, 8, then single rows), in order: each row is its entry, the tree is theirs")
    func chunkedInsert() throws {
        let database = try TemporaryDatabase()
        let first = (0..<45).map { LogAppender.Pending(decision("a-\($0)")) }
        let second = (0..<7).map { LogAppender.Pending(decision("b-\($0)")) }
        try database.pool.write { db in try LogAppender.append(db, first) }
        try database.pool.write { db in try LogAppender.append(db, second) }
        let entries = first + second
        let rows = try database.pool.read { db in try Row.fetchAll(db, sql: "SELECT seq, decision_id, entry, leaf_hash FROM log ORDER BY seq") }
        #expect(rows.count == entries.count)
        var frontier = MerkleFrontier()
        for (index, (row, entry)) in zip(rows, entries).enumerated() {
            #expect(row["seq"] as Int64 == Int64(index + 1))
            #expect(row["decision_id"] as String? == entry.decisionId)
            #expect(Array((row["entry"] as String).utf8) == entry.entry)
            #expect(Array(row["leaf_hash"] as Data) == entry.leaf)
            frontier.append(leaf: entry.leaf)
        }
        #expect(try database.pool.read { try LogAppender.root($0, size: UInt64(entries.count)) } == frontier.root)
        #expect(try database.pool.read { try LogAppender.loadFrontier($0) } == frontier)
    }

    @Test("the kind check refuses other kinds without building a temporary table for every row inserted")
    func kindCheckWithoutTemporaryTable() throws {
        let database = try TemporaryDatabase()
        try expectCurrentKindCheck(database.pool)
    }

    @Test("a v1 database is upgraded in place: its entries, tree and sequence survive, and later appends continue them")
    func kindCheckUpgrade() throws {
        let v1 = try TemporaryDatabase(migratedUpTo: "v1")
        let before = (0..<45).map { LogAppender.Pending(decision("v1-\($0)")) }
        let definition = try v1.pool.read { try String.fetchOne($0, sql: "SELECT sql FROM sqlite_schema WHERE name = 'log'") }
        #expect(definition?.contains(LogKindCheck.v1) == true)
        try v1.pool.write { db in try LogAppender.append(db, before) }
        let pool = try StoreDatabase.openPool(path: v1.path)
        try expectCurrentKindCheck(pool)
        let after = (0..<3).map { LogAppender.Pending(decision("v2-\($0)")) }
        try pool.write { db in try LogAppender.append(db, after) }
        var frontier = MerkleFrontier()
        for entry in before + after { frontier.append(leaf: entry.leaf) }
        let (ids, root) = try pool.read { db in
            (try String.fetchAll(db, sql: "SELECT decision_id FROM log ORDER BY seq"), try LogAppender.root(db, size: 48))
        }
        #expect(ids == (before + after).map(\.decisionId))
        #expect(root == frontier.root)
    }

    @Test("an upgrade refuses a log whose definition is not v1's, says so, and changes nothing")
    func kindCheckUpgradeRefusesUnknownDefinition() throws {
        let v1 = try TemporaryDatabase(migratedUpTo: "v1")
        let edited = "CHECK (kind IN ('decision', 'outcome', 'admin', 'shadow', 'other'))"
        try v1.pool.writeWithoutTransaction { db in
            // Someone else's hand-edited schema, made the way SQLite documents.
            let version = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
            try db.execute(sql: "PRAGMA writable_schema = ON")
            try db.execute(sql: "UPDATE sqlite_schema SET sql = replace(sql, ?, ?) WHERE name = 'log'", arguments: [LogKindCheck.v1, edited])
            try db.execute(sql: "PRAGMA schema_version = \(version + 1)")
            try db.execute(sql: "PRAGMA writable_schema = OFF")
        }
        #expect {
            _ = try StoreDatabase.openPool(path: v1.path)
        } throws: { error in
            (error as? StoreError)?.message.contains("the log table's definition is not the one this version expects") == true
        }
        let (migrations, definition) = try v1.pool.read { db in
            (try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"),
             try String.fetchOne(db, sql: "SELECT sql FROM sqlite_schema WHERE name = 'log'") ?? "")
        }
        #expect(migrations == ["v1"])
        #expect(definition.contains(edited))
    }

    /// The log's definition carries the comparison chain, SQLite compiles an insert without a temporary table, and
    /// a kind outside the four is still refused.
    private func expectCurrentKindCheck(_ pool: DatabasePool) throws {
        try pool.write { db in
            let definition = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_schema WHERE name = 'log'") ?? ""
            #expect(definition.contains(LogKindCheck.current) && !definition.contains(LogKindCheck.v1))
            let insert = "INSERT INTO log (seq, kind, time, decision_id, entry, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)"
            let opcodes = try Row.fetchAll(db, sql: "EXPLAIN " + insert, arguments: [1, "decision", "t", nil, "{}", Data(count: 32)])
                .map { $0["opcode"] as String }
            #expect(!opcodes.isEmpty && !opcodes.contains("OpenEphemeral"))
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: insert, arguments: [1_000_000, "bogus", "t", nil, "{}", Data(count: 32)])
            }
        }
    }

    @Test("records are append-only: UPDATE and DELETE are refused by SQLite")
    func appendOnly() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        try await log.append([decision("one")])
        log.close()
        await writer.value
        #expect(throws: DatabaseError.self) { try database.pool.write { try $0.execute(sql: "UPDATE log SET entry = '{}'") } }
        #expect(throws: DatabaseError.self) { try database.pool.write { try $0.execute(sql: "DELETE FROM log") } }
    }

    @Test("a failed commit fails every caller in the batch, and the log recovers after")
    func failedCommit() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        try await database.pool.write { db in
            try db.execute(sql: "CREATE TRIGGER broken BEFORE INSERT ON log BEGIN SELECT RAISE(FAIL, 'disk I/O error (simulated)'); END")
        }
        await #expect(throws: (any Error).self) { try await log.append([decision("lost")]) }
        try await database.pool.write { try $0.execute(sql: "DROP TRIGGER broken") }
        try await log.append([decision("kept")])
        log.close()
        await writer.value
        let ids = try await database.pool.read { db in try String.fetchAll(db, sql: "SELECT decision_id FROM log") }
        #expect(ids == ["kept"])
    }

    @Test("without a file to sync, each batch commits with synchronous = FULL")
    func withoutPath() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool)
        let writer = Task { await log.run() }
        try await log.append([decision("one")])
        log.close()
        await writer.value
        let count = try await database.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM log") }
        #expect(count == 1)
    }

    @Test("an outcome queued while the writer is idle waits for the next decision and shares its commit", .timeLimit(.minutes(1)))
    func outcomeSharesNextCommit() async throws {
        let database = try TemporaryDatabase()
        let commits = CommitCounter()
        database.pool.add(transactionObserver: commits)
        // A delay no test outlasts: only a caller (or close) can end the writer's wait.
        let log = DecisionLog(writer: database.pool, path: database.path, outcomeDelay: .seconds(3600))
        let writer = Task { await log.run() }
        log.enqueue([outcome("earlier")])
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await kinds(database).isEmpty)
        try await log.append([decision("next")])
        #expect(commits.count == 1)
        #expect(try await kinds(database) == ["outcome", "decision"])
        log.close()
        await writer.value
    }

    @Test("an outcome with no decision after it is written on its own once the delay is over")
    func outcomeAloneAfterDelay() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path, outcomeDelay: .milliseconds(50))
        let writer = Task { await log.run() }
        log.enqueue([outcome("alone")])
        var written: [String] = []
        for _ in 0..<100 where written.isEmpty {
            try await Task.sleep(for: .milliseconds(50))
            written = try await kinds(database)
        }
        #expect(written == ["outcome"])
        log.close()
        await writer.value
    }

    @Test("close() writes waiting outcomes at once, whatever the delay", .timeLimit(.minutes(1)))
    func closeWritesWaitingOutcomes() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path, outcomeDelay: .seconds(3600))
        let writer = Task { await log.run() }
        log.enqueue([outcome("last")])
        try await Task.sleep(for: .milliseconds(100))
        log.close()
        await writer.value
        #expect(try await kinds(database) == ["outcome"])
    }

    @Test("the log's own relaxed sync is confined to its transactions: the connection is FULL again after each")
    func synchronousRestored() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        // Concurrent appends, so that batches hold several callers and take the relaxed-sync path (a lone caller's
        // batch commits with FULL and would prove nothing here).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 { group.addTask { try await log.append([decision("d-\(index)")]) } }
            try await group.waitForAll()
        }
        let synchronous = try await database.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(synchronous == 2)
        log.close()
        await writer.value
    }

    @Test("a write-ahead log removed under the gateway fails the batch: nothing is written to a file no one can read")
    func walRemoved() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        try await log.append([decision("durable")])
        try FileManager.default.removeItem(atPath: database.path + "-wal")
        await #expect(throws: StoreError.self) { try await log.append([decision("lost")]) }
        log.close()
        await writer.value
    }

    @Test("a failed sync of the write-ahead log fails its callers and every later one, even once the file is back")
    func walSyncFailureIsFinal() async throws {
        let database = try TemporaryDatabase()
        let sync = WALSync(databasePath: database.path)
        let syncer = Thread { sync.syncUntilClosed() }
        syncer.start()
        try await withCheckedThrowingContinuation { sync.submit([$0]) }
        try await withCheckedThrowingContinuation { sync.syncHere([$0]) }

        let wal = database.path + "-wal", kept = database.path + "-wal.kept"
        try FileManager.default.linkItem(atPath: wal, toPath: kept)
        try FileManager.default.removeItem(atPath: wal)
        await #expect(throws: StoreError.self) { try await withCheckedThrowingContinuation { sync.syncHere([$0]) } }
        // The very same file is back at its path, yet a log whose sync once failed stays failed.
        try FileManager.default.linkItem(atPath: kept, toPath: wal)
        await #expect(throws: StoreError.self) { try await withCheckedThrowingContinuation { sync.submit([$0]) } }
        await #expect(throws: StoreError.self) { try await withCheckedThrowingContinuation { sync.syncHere([$0]) } }
        #expect(sync.failure != nil)
        sync.close()
    }

    @Test("canonical encoding is stable and escapes what JSON needs")
    func canonicalEncoding() {
        var json = CanonicalJSON()
        json.field("a", "quote\" back\\ nl\n é")
        json.field("n", 42)
        json.field("nil", nil as String?)
        json.field("list", ["x", "y"])
        #expect(json.text == #"{"a":"quote\" back\\ nl\u000a é","n":42,"nil":null,"list":["x","y"]}"#)
    }
}

/// Counts the transactions that append to the log (each ends by updating the tree's state).
private final class CommitCounter: TransactionObserver, Sendable {
    private let commits = Mutex(0)

    var count: Int { commits.withLock { $0 } }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { eventKind.tableName == "tree_state" }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) { commits.withLock { $0 += 1 } }
    func databaseDidRollback(_ db: Database) {}
}
