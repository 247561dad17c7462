import Foundation
import GRDB
import Synchronization
import Testing
import WarrantGateCore
@testable import WarrantGateStore

@Suite("Decision log")
struct DecisionLogTests {
    private func decision(_ id: String, path: String = "/records/inmates/2017-000123") -> LogEntry {
        let record = DecisionRecord(
            decisionId: id, time: Timestamp.format(Date()), component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=x",
            agency: "denver-pd", category: "local-law-enforcement", method: "GET", path: path, action: "records.read",
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

    @Test("the log's writer, syncer and background checkpoint run as SCHED_BATCH; the thread that appends does not")
    func logThreadsScheduledAsBatch() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        try await log.append([decision("d-1")])
        // The syncer and the checkpoint thread may not have started yet when the first append returns; a thread is
        // named only once its policy is set. Other tests' logs run threads of the same names, under the same rule.
        var logThreads = Self.logThreadPolicies()
        for _ in 0..<1_000 where Set(logThreads.keys.map { $0.prefix { $0 != "/" } }).count < 3 {
            try await Task.sleep(for: .milliseconds(10))
            logThreads = Self.logThreadPolicies()
        }
        log.close()
        await writer.value
        #expect(Set(logThreads.keys.map { $0.prefix { $0 != "/" } }) == ["wg-log-writer", "wg-log-sync", "wg-log-backfill"])
        #expect(logThreads.values.allSatisfy { $0 == 3 }, "SCHED_BATCH is 3: \(logThreads)")
        #expect(sched_getscheduler(0) == 0, "the appending thread keeps SCHED_OTHER")
    }

    /// This process's live threads named `wg-log-…`, keyed "name/tid", with their scheduling policies.
    private static func logThreadPolicies() -> [String: Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return Dictionary(uniqueKeysWithValues: tasks.compactMap { task -> (String, Int32)? in
            guard let tid = Int32(task),
                  let name = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                  name.hasPrefix("wg-log-") else { return nil }
            // -1: the thread ended after it was listed.
            let policy = sched_getscheduler(tid)
            return policy < 0 ? nil : ("\(name.trimmingCharacters(in: .newlines))/\(tid)", policy)
        })
    }

    @Test("a batch goes in as multi-row inserts (32, 8, then single rows), in order: each row is its entry, the tree is theirs")
    func chunkedInsert() throws {
        let database = try TemporaryDatabase()
        let first = (0..<45).map { LogAppender.Pending(decision("a-\($0)")) }
        let second = (0..<7).map { LogAppender.Pending(decision("b-\($0)")) }
        try database.pool.write { db in try SQLiteSession(db: db).appendLog(first) }
        try database.pool.write { db in try SQLiteSession(db: db).appendLog(second) }
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
        #expect(try database.pool.read { try LogAppender.root(SQLiteSession(db: $0), size: UInt64(entries.count)) } == frontier.root)
        #expect(try database.pool.read { try LogAppender.frontier(SQLiteSession(db: $0), reusing: nil) } == frontier)
    }

    @Test("the tree's right edge is derived from the stored nodes and leaves at every size; nodes are stored from level 8 up; proofs hold")
    func derivedTree() throws {
        let database = try TemporaryDatabase()
        var expected = MerkleFrontier()
        var leaves: [Merkle.Hash] = []
        for count in [1, 2, 5, 120, 130, 3, 255, 1, 300] {
            let entries = (0..<count).map { LogAppender.Pending(decision("t-\(leaves.count + $0)")) }
            try database.pool.write { db in try SQLiteSession(db: db).appendLog(entries) }
            for entry in entries {
                expected.append(leaf: entry.leaf)
                leaves.append(entry.leaf)
            }
            #expect(try database.pool.read { try LogAppender.frontier(SQLiteSession(db: $0), reusing: nil) } == expected)
        }
        // 817 entries: three complete subtrees of 256 and one of 512.
        let nodes = try database.pool.read { db in try Row.fetchAll(db, sql: "SELECT level, idx FROM merkle_nodes ORDER BY level, idx") }
        #expect(nodes.map { [$0["level"] as Int, $0["idx"] as Int] } == [[8, 0], [8, 1], [8, 2], [9, 0]])
        try database.pool.read { db in
            for index in [0, 1, 255, 256, 511, 600, 816] {
                let proof = try Merkle.inclusionProof(index: UInt64(index), size: expected.size) { level, index in
                    try LogAppender.subtree(SQLiteSession(db: db), level: level, index: index)
                }
                #expect(Merkle.rootFromInclusionProof(leaf: leaves[index], index: UInt64(index), size: expected.size, proof: proof) == expected.root)
            }
        }
    }

    @Test("entries another connection appends between the writer's batches (the CLI's admin records) join the same tree")
    func otherAppenderBetweenBatches() async throws {
        let database = try TemporaryDatabase()
        let cli = try StoreDatabase.openPool(path: database.path)
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        for round in 0..<3 {
            try await log.append([decision("gateway-\(round)")])
            try await cli.write { db in try SQLiteSession(db: db).appendLog([LogAppender.Pending(decision("cli-\(round)"))]) }
        }
        try await log.append([decision("gateway-last")])
        log.close()
        await writer.value
        let key = LogSigningKey(name: "test/log")
        try Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name).sign()
        let ids = try await database.pool.read { db in try String.fetchAll(db, sql: "SELECT decision_id FROM log ORDER BY seq") }
        #expect(ids == ["gateway-0", "cli-0", "gateway-1", "cli-1", "gateway-2", "cli-2", "gateway-last"])
        let report = try LogVerifier(key: key.verifier).verify(database: SQLiteDatabase(pool: database.pool), against: nil)
        #expect(report.ok, "\(report.problems)")
    }

    @Test("a database from before the derived tree (tree state and nodes from level 4 kept) is upgraded: its tree and proofs hold, appends continue it")
    func derivedTreeUpgrade() throws {
        let previous = "v2: log kind check without an IN list"
        let old = try TemporaryDatabase(migratedUpTo: previous)
        let before = (0..<300).map { LogAppender.Pending(decision("old-\($0)")) }
        var expected = MerkleFrontier()
        try old.pool.write { db in
            // As the previous release wrote them: each entry, the nodes it completes from level 4 up, the frontier.
            for (index, entry) in before.enumerated() {
                try db.execute(
                    sql: "INSERT INTO log (seq, kind, time, decision_id, entry, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [index + 1, entry.kind, entry.time, entry.decisionId, String(decoding: entry.entry, as: UTF8.self), Data(entry.leaf)]
                )
                for node in expected.append(leaf: entry.leaf) where node.level >= 4 {
                    try db.execute(sql: "INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", arguments: [node.level, Int64(node.index), Data(node.hash)])
                }
            }
            var frontier = withUnsafeBytes(of: expected.size.bigEndian, Array.init)
            for subtree in expected.subtrees { frontier += [UInt8(subtree.level)] + subtree.hash }
            try db.execute(sql: "UPDATE tree_state SET frontier = ? WHERE id = 1", arguments: [Data(frontier)])
        }
        let pool = try StoreDatabase.openPool(path: old.path)
        let tables = try pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_schema WHERE type = 'table'") }
        #expect(!tables.contains("tree_state"))
        #expect(try pool.read { try LogAppender.frontier(SQLiteSession(db: $0), reusing: nil) } == expected)
        let after = (0..<3).map { LogAppender.Pending(decision("new-\($0)")) }
        try pool.write { db in try SQLiteSession(db: db).appendLog(after) }
        for entry in after { expected.append(leaf: entry.leaf) }
        try pool.read { db in
            #expect(try LogAppender.root(SQLiteSession(db: db), size: expected.size) == expected.root)
            let proof = try Merkle.inclusionProof(index: 100, size: expected.size) { try LogAppender.subtree(SQLiteSession(db: db), level: $0, index: $1) }
            #expect(Merkle.rootFromInclusionProof(leaf: before[100].leaf, index: 100, size: expected.size, proof: proof) == expected.root)
        }
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
        try v1.pool.write { db in try SQLiteSession(db: db).appendLog(before) }
        let pool = try StoreDatabase.openPool(path: v1.path)
        try expectCurrentKindCheck(pool)
        let after = (0..<3).map { LogAppender.Pending(decision("v2-\($0)")) }
        try pool.write { db in try SQLiteSession(db: db).appendLog(after) }
        var frontier = MerkleFrontier()
        for entry in before + after { frontier.append(leaf: entry.leaf) }
        let (ids, root) = try pool.read { db in
            (try String.fetchAll(db, sql: "SELECT decision_id FROM log ORDER BY seq"), try LogAppender.root(SQLiteSession(db: db), size: 48))
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
            (error as? StoreError)?.message.contains("is not a WarrantGate store, or was altered: its schema is not a store's (unexpected or changed: table log") == true
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

    /// Makes every insert into the log fail, as a write error would (`true`), or succeed again (`false`).
    private static func failInserts(_ database: TemporaryDatabase, _ failing: Bool) async throws {
        try await database.pool.write { db in
            try db.execute(sql: failing
                ? "CREATE TRIGGER broken BEFORE INSERT ON log BEGIN SELECT RAISE(FAIL, 'disk I/O error (simulated)'); END"
                : "DROP TRIGGER broken")
        }
    }

    @Test("a failed commit fails every caller in the batch, and the log recovers after")
    func failedCommit() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        try await Self.failInserts(database, true)
        await #expect(throws: (any Error).self) { try await log.append([decision("lost")]) }
        #expect(log.unwrittenEntries == 1)
        try await Self.failInserts(database, false)
        try await log.append([decision("kept")])
        #expect(log.unwrittenEntries == 1)
        log.close()
        await writer.value
        let rows = try database.pool.read { db in try Row.fetchAll(db, sql: "SELECT seq, decision_id FROM log") }
        // The failed batch left no trace in the tree either: the next entry is seq 1.
        #expect(rows.map { "\($0["seq"] as Int64) \($0["decision_id"] as String)" } == ["1 kept"])
    }

    @Test("a log whose size reads as no count (an archive marker edited to text or below zero) fails the batch", arguments: [
        "INSERT OR REPLACE INTO archive_state (id, archived_through) VALUES (1, 'abc')",
        "INSERT OR REPLACE INTO archive_state (id, archived_through) VALUES (1, -5)",
    ])
    func sizeThatIsNoCount(edit: String) async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        try await database.pool.write { db in try db.execute(sql: edit) }
        await #expect(throws: StoreError.self) { try await log.append([decision("lost")]) }
        log.close()
        await writer.value
        #expect(try await kinds(database).isEmpty)
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

    @Test("under sustained appends the WAL is copied in the background, yet still starts over, so it stays bounded")
    func backgroundCheckpoints() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        let longPath = "/records/" + String(repeating: "x", count: 2000)
        let walPath = database.path + "-wal"
        var largestWAL = 0
        // One caller at a time: each append is a commit of its own, ~5 WAL pages, so 1,500 fill the WAL past
        // the writer's checkpoint at least once.
        for index in 0..<1500 {
            try await log.append([decision("d-\(index)", path: longPath)])
            largestWAL = max(largestWAL, try FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int ?? 0)
        }
        log.close()
        await writer.value
        let backfill = try #require(log.backfill)
        #expect(backfill.checkpoints > 0)
        #expect(backfill.failure == nil)
        // A WAL that never started over would hold every page written: far more than the checkpoint's pages.
        let frame = 4096 + 24
        #expect(largestWAL <= (StoreDatabase.checkpointPages + backfill.step) * frame)
        let (rows, integrity, autocheckpoint) = try await database.pool.writeWithoutTransaction { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM log"), try String.fetchOne(db, sql: "PRAGMA integrity_check"),
             try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint"))
        }
        #expect(rows == 1500)
        #expect(integrity == "ok")
        // Once the log is closed, its connection checkpoints itself as SQLite does.
        #expect(autocheckpoint == StoreDatabase.checkpointPages)
    }

    @Test("the writer's connection checkpoints itself at 4,096 pages, so the WAL starts over with no background checkpoint")
    func writersOwnCheckpoint() throws {
        let database = try TemporaryDatabase()
        // A step the WAL never reaches: nothing would wake a background thread (none runs here).
        let backfill = WALBackfill(database: try #require(DatabaseFileIdentity(path: database.path)), walSync: nil, step: .max)
        try database.pool.writeWithoutTransaction { db in
            try db.execute(sql: "CREATE TABLE filler (data BLOB)")
            // Durability is not what this test is about: unsynced commits keep it quick.
            try db.execute(sql: "PRAGMA synchronous = OFF")
            backfill.install(on: db)
        }
        let walPath = database.path + "-wal"
        var largestWAL = 0
        // Each commit writes ~4 WAL pages (two overflow pages, a leaf, the header page as the file grows).
        for _ in 0..<2000 {
            try database.pool.write { db in try db.execute(sql: "INSERT INTO filler (data) VALUES (zeroblob(8000))") }
            largestWAL = max(largestWAL, try FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int ?? 0)
        }
        database.pool.writeWithoutTransaction { db in backfill.uninstall(from: db) }
        let frame = 4096 + 24
        #expect(largestWAL > StoreDatabase.checkpointPages / 2 * frame)
        #expect(largestWAL <= (StoreDatabase.checkpointPages + 16) * frame)
        #expect(backfill.failure == nil)
    }

    @Test("after a failed sync of the write-ahead log nothing checkpoints it: the WAL keeps every frame", .timeLimit(.minutes(1)))
    func walSyncFailureStopsCheckpoints() throws {
        let database = try TemporaryDatabase()
        let sync = WALSync(databasePath: database.path)
        let wal = try WALMovedAside(database)
        sync.syncHere(AppendReplies([.complete(on: CountingExecutor(label: "failed")) { _ in }]))
        #expect(sync.failure != nil)
        // The very same file is back at its path: only the recorded failure can stop the checkpoints.
        try wal.restore()

        // A small step: every few commits would wake the background thread for a checkpoint.
        let backfill = WALBackfill(database: try #require(DatabaseFileIdentity(path: database.path)), walSync: sync, step: 64)
        let backfillDone = DispatchSemaphore(value: 0)
        Thread {
            backfill.runUntilClosed()
            backfillDone.signal()
        }.start()
        try database.pool.writeWithoutTransaction { db in
            try db.execute(sql: "CREATE TABLE filler (data BLOB)")
            try db.execute(sql: "PRAGMA synchronous = OFF")
            backfill.install(on: db)
        }
        // ~4 WAL pages a commit: twice the pages at which the writer's connection would checkpoint itself.
        for _ in 0..<2000 {
            try database.pool.write { db in try db.execute(sql: "INSERT INTO filler (data) VALUES (zeroblob(8000))") }
        }
        database.pool.writeWithoutTransaction { db in backfill.uninstall(from: db) }
        backfill.close()
        try #require(backfillDone.wait(timeout: .now() + .seconds(30)) == .success)
        #expect(backfill.checkpoints == 0)
        // A WAL that started over would be no larger than the checkpoint's pages and a commit.
        let frame = 4096 + 24
        let walSize = try FileManager.default.attributesOfItem(atPath: database.path + "-wal")[.size] as? Int ?? 0
        #expect(walSize > (StoreDatabase.checkpointPages + 16) * frame)
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

    @Test("a store opened through a symbolic link to its database syncs the WAL beside the file the link leads to", .timeLimit(.minutes(1)))
    func symlinkedDatabasePath() async throws {
        let database = try TemporaryDatabase()
        let link = database.directory.appendingPathComponent("link.sqlite").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: database.path)
        let log = try Store.open(path: link).decisionLog()
        // Submitted before the writer starts, these are one batch, synced by the log itself rather than by SQLite.
        let executor = CountingExecutor(label: "linked")
        let succeeded = Mutex(0)
        let answered = DispatchGroup()
        for index in 0..<20 {
            answered.enter()
            log.append([decision("d-\(index)")], on: executor) { result in
                if case .success = result { succeeded.withLock { $0 += 1 } }
                answered.leave()
            }
        }
        let writer = Task { await log.run() }
        await withCheckedContinuation { done in answered.notify(queue: .global()) { done.resume() } }
        // Then concurrent appends, while batches are written and synced.
        let concurrentSucceeded = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<100 { group.addTask { (try? await log.append([decision("c-\(index)")])) != nil } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(succeeded.withLock { $0 } == 20)
        #expect(concurrentSucceeded == 100)
        #expect(log.isHealthy)
        log.close()
        await writer.value
    }

    @Test("an entry no one waits for, in a batch that rolled back, is queued again and lands once the log can be written", .timeLimit(.minutes(1)))
    func unwaitedEntryRetried() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        try await Self.failInserts(database, true)
        log.enqueue([decision("outcome")])
        await #expect(throws: (any Error).self) { try await log.append([decision("refused")]) }
        try await Task.sleep(for: .seconds(1))
        try await Self.failInserts(database, false)
        var rows: [String] = []
        for _ in 0..<100 where rows.isEmpty {
            try await Task.sleep(for: .milliseconds(50))
            rows = try database.pool.read { db in try Row.fetchAll(db, sql: "SELECT seq, decision_id FROM log") }
                .map { "\($0["seq"] as Int64) \($0["decision_id"] as String)" }
        }
        // The refused caller's entry is not retried: its request was answered with the error.
        #expect(rows == ["1 outcome"])
        #expect(log.unwrittenEntries == 1)
        log.close()
        await writer.value
    }

    /// A running log on a new database whose inserts of decision `poison`'s entries fail, as an entry that can never
    /// be written does.
    private static func logRefusingPoison() async throws -> (TemporaryDatabase, DecisionLog, Task<Void, Never>) {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        try await database.pool.write { db in
            try db.execute(sql: "CREATE TRIGGER poison BEFORE INSERT ON log WHEN NEW.decision_id = 'poison' BEGIN SELECT RAISE(FAIL, 'poison'); END")
        }
        return (database, log, writer)
    }

    /// An entry that cannot be written at all, queued again with the callers' next batch, failed that batch too, and
    /// the next, for as long as it was retried: every request refused for a minute.
    @Test("an entry queued again is written in a batch of its own: callers' batches go on while it fails", .timeLimit(.minutes(1)))
    func retriedEntryFailsAlone() async throws {
        let (database, log, writer) = try await Self.logRefusingPoison()
        log.enqueue([decision("poison")])
        _ = try? await log.append([decision("first")])
        // Across several pauses before a retry, every caller's append lands (one that shared a batch with the
        // entry that cannot be written would throw).
        for index in 0..<6 {
            try await log.append([decision("later-\(index)")])
            try await Task.sleep(for: pauseBeforeRetry / 2)
        }
        let poisoned = try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM log WHERE decision_id = 'poison'") }
        #expect(poisoned == 0)
        log.close()
        await writer.value
        // Tried once more on close, then counted as unwritten (with the first caller's entry, if it shared its batch).
        #expect((1...2).contains(log.unwrittenEntries))
    }

    /// A re-pass: the retried entries went out as one transaction, so one that cannot be written took every other
    /// outcome queued again with it, until all were dropped after a minute.
    @Test("entries queued again beside one that cannot be written land: a failed retry is tried one waiter at a time", .timeLimit(.minutes(1)))
    func retriedEntriesSplit() async throws {
        let (database, log, writer) = try await Self.logRefusingPoison()
        log.enqueue([decision("poison")])
        log.enqueue([decision("good")])
        _ = try? await log.append([decision("first")])
        var landed = false
        for _ in 0..<100 where !landed {
            try await Task.sleep(for: .milliseconds(50))
            landed = try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM log WHERE decision_id = 'good'") } == 1
        }
        #expect(landed, "the good outcome was held back with the one that cannot be written")
        log.close()
        await writer.value
    }

    @Test("entries queued again wait from the first failure, not the last; several that failed together go one at a time; a batch is bounded")
    func retryQueue() {
        let start = ContinuousClock.now
        let waiter = { (entries: Int) in LogWaiter(entries: (0..<entries).map { LogAppender.Pending(decision("e-\($0)")) }, reply: nil) }
        var retries = LogRetries()
        retries.add([waiter(1)], failedAt: start, wereRetries: false)
        retries.add([waiter(1)], failedAt: start + .milliseconds(400), wereRetries: false)
        #expect(retries.due == start + pauseBeforeRetry)
        #expect(retries.take(at: start + .milliseconds(499), closing: false) == nil)
        #expect(retries.take(at: start + pauseBeforeRetry, closing: false)?.count == 2)
        #expect(retries.due == nil)

        retries.add([waiter(3), waiter(3), waiter(3)], failedAt: start, wereRetries: false)
        #expect(retries.take(at: start, closing: true, maxEntries: 6)?.count == 2)
        #expect(retries.take(at: start, closing: true, maxEntries: 1)?.count == 1, "the first whatever its size")
        #expect(retries.due == nil)

        retries.add([waiter(1), waiter(1), waiter(1)], failedAt: start, wereRetries: true)
        for remaining in [2, 1, 0] {
            #expect(retries.take(at: start + pauseBeforeRetry, closing: false)?.count == 1)
            #expect(retries.waiters.count == remaining)
        }
        // One of them failing again puts the next try off by the pause: no tight loop while the log cannot be written.
        retries.add([waiter(1), waiter(1)], failedAt: start, wereRetries: true)
        let single = retries.take(at: start + pauseBeforeRetry, closing: false)
        retries.add(single ?? [], failedAt: start + pauseBeforeRetry, wereRetries: true)
        #expect(retries.take(at: start + pauseBeforeRetry, closing: false) == nil)
        #expect(retries.take(at: start + pauseBeforeRetry * 2, closing: false)?.count == 1)
    }

    /// An attacker's pass over the admin listener: with the disk full or the database locked, every request was
    /// answered 503 `log_unavailable` while `/readyz` said ready, since the log was unhealthy only after a failed sync.
    @Test("a batch that fails to commit makes the log unhealthy for a few seconds", .timeLimit(.minutes(1)))
    func commitFailureIsUnhealthy() async throws {
        let database = try TemporaryDatabase()
        let log = try Store.open(path: database.path, busyTimeout: 0.2).decisionLog()
        let writer = Task { await log.run() }
        try await log.append([decision("before")])
        #expect(log.isHealthy)
        var holding = Configuration()
        holding.allowsUnsafeTransactions = true
        let holder = try DatabaseQueue(path: database.path, configuration: holding)
        try holder.inDatabase { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        await #expect(throws: (any Error).self) { try await log.append([decision("locked-out")]) }
        #expect(!log.isHealthy)
        try holder.inDatabase { db in try db.execute(sql: "ROLLBACK") }
        try await log.append([decision("after")])
        log.close()
        await writer.value
    }

    @Test("a failure latch reads nil until a failure is recorded, then keeps the first one")
    func failureLatchKeepsTheFirst() {
        let latch = FailureLatch()
        #expect(latch.failure == nil)
        #expect(latch.record(StoreError("first")).message == "first")
        #expect(latch.record(StoreError("second")).message == "first")
        #expect(latch.failure?.message == "first")
    }

    @Test("a failed sync of the write-ahead log fails its callers and every later one, even once the file is back")
    func walSyncFailureIsFinal() async throws {
        let database = try TemporaryDatabase()
        let sync = WALSync(databasePath: database.path)
        let syncer = Thread { sync.syncUntilClosed() }
        syncer.start()
        try await withCheckedThrowingContinuation { sync.submit(AppendReplies([.resume($0)])) }
        try await withCheckedThrowingContinuation { sync.syncHere(AppendReplies([.resume($0)])) }

        let wal = try WALMovedAside(database)
        await #expect(throws: StoreError.self) { try await withCheckedThrowingContinuation { sync.syncHere(AppendReplies([.resume($0)])) } }
        // The very same file is back at its path, yet a log whose sync once failed stays failed.
        try wal.restore()
        await #expect(throws: StoreError.self) { try await withCheckedThrowingContinuation { sync.submit(AppendReplies([.resume($0)])) } }
        await #expect(throws: StoreError.self) { try await withCheckedThrowingContinuation { sync.syncHere(AppendReplies([.resume($0)])) } }
        #expect(sync.failure != nil)
        sync.close()
    }

    @Test("a batch queued while the syncer answers a failed sync fails too, though a sync would now succeed", .timeLimit(.minutes(1)))
    func batchQueuedDuringFailedSyncFails() throws {
        let database = try TemporaryDatabase()
        let sync = WALSync(databasePath: database.path)
        let wal = try WALMovedAside(database)
        let held = HeldExecutor()
        sync.submit(AppendReplies([.complete(on: held) { _ in }]))
        Thread { sync.syncUntilClosed() }.start()
        // The sync failed, and the syncer is held answering its callers.
        try #require(held.arrived.wait(timeout: .now() + .seconds(30)) == .success)
        #expect(sync.failure != nil)

        // The very same file is back at its path, and a sync of it would succeed (as one does after the kernel has
        // reported a write-back error once). The writer's next batch queues behind the held callers.
        try wal.restore()
        let secondSucceeded = Mutex<Bool?>(nil)
        let secondAnswered = DispatchSemaphore(value: 0)
        sync.syncHere(AppendReplies([.complete(on: CountingExecutor(label: "second")) { result in
            secondSucceeded.withLock { $0 = (try? result.get()) != nil }
            secondAnswered.signal()
        }]))
        held.release()
        try #require(secondAnswered.wait(timeout: .now() + .seconds(30)) == .success)
        #expect(secondSucceeded.withLock { $0 } == false)
        sync.close()
    }

    @Test("completions run on their executors once the rows are readable: in order per executor, one execute per executor and batch", .timeLimit(.minutes(1)))
    func completionsOnExecutors() async throws {
        let database = try TemporaryDatabase()
        let commits = CommitCounter()
        database.pool.add(transactionObserver: commits)
        let log = DecisionLog(writer: database.pool, path: database.path)
        let executors = (0..<4).map { CountingExecutor(label: "executor-\($0)") }
        let completions = CompletionRecorder(database: database)

        // Submitted before the writer starts, the first round is one batch.
        for (index, executor) in executors.enumerated() {
            for sequence in 0..<5 { completions.append(decision("first-\(index)-\(sequence)"), to: log, on: executor, index: index) }
        }
        let writer = Task { await log.run() }
        await completions.wait()
        #expect(executors.map(\.executeCount) == [1, 1, 1, 1])

        // Then from every executor at once, while batches are being written and synced.
        await withTaskGroup(of: Void.self) { group in
            for (index, executor) in executors.enumerated() {
                group.addTask {
                    for sequence in 0..<200 {
                        completions.append(decision("next-\(index)-\(sequence)"), to: log, on: executor, index: index)
                        if sequence % 10 == 0 { await Task.yield() }
                    }
                }
            }
        }
        await completions.wait()
        log.close()
        await writer.value

        for index in executors.indices {
            let answered = completions.answered(by: index)
            let submitted = (0..<5).map { "first-\(index)-\($0)" } + (0..<200).map { "next-\(index)-\($0)" }
            #expect(answered.map(\.decisionId) == submitted)
            #expect(answered.allSatisfy { $0.succeeded && $0.readable })
        }
        // Every commit answers an executor at most once (a sync that covers several commits, once for them all).
        #expect(executors.allSatisfy { $0.executeCount <= commits.count })
        #expect(executors.contains { $0.executeCount < 205 })
    }

    @Test("a failed commit calls each completion with the error, on its executor")
    func completionOfFailedCommit() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        try await Self.failInserts(database, true)
        let executor = CountingExecutor(label: "failing")
        let completions = CompletionRecorder(database: database)
        completions.append(decision("lost-1"), to: log, on: executor, index: 0)
        completions.append(decision("lost-2"), to: log, on: executor, index: 0)
        let writer = Task { await log.run() }
        await completions.wait()
        log.close()
        await writer.value
        #expect(completions.answered(by: 0).map(\.succeeded) == [false, false])
        #expect(executor.executeCount == 1)
    }

    @Test("callers of batches synced together are answered together: one execute per executor, in order")
    func deferredSyncGroupsByExecutor() async throws {
        let database = try TemporaryDatabase()
        let sync = WALSync(databasePath: database.path)
        let executor = CountingExecutor(label: "synced")
        let order = Mutex<[Int]>([])
        let answered = DispatchGroup()
        for batch in 0..<3 {
            let replies = (0..<2).map { index in
                answered.enter()
                return AppendReply.complete(on: executor) { result in
                    if case .success = result { order.withLock { $0.append(batch * 2 + index) } }
                    answered.leave()
                }
            }
            sync.submit(AppendReplies(replies))
        }
        Thread { sync.syncUntilClosed() }.start()
        await withCheckedContinuation { done in answered.notify(queue: .global()) { done.resume() } }
        sync.close()
        #expect(order.withLock { $0 } == Array(0..<6))
        #expect(executor.executeCount == 1)
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

/// Counts the transactions that append to the log.
private final class CommitCounter: TransactionObserver, Sendable {
    private let commits = Mutex(0)

    var count: Int { commits.withLock { $0 } }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { eventKind.tableName == "log" }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) { commits.withLock { $0 += 1 } }
    func databaseDidRollback(_ db: Database) {}
}

/// A database's write-ahead log moved aside, so that syncing it fails, until ``restore()`` puts the very same file
/// back at its path.
private struct WALMovedAside {
    private let wal: String, kept: String

    init(_ database: TemporaryDatabase) throws {
        wal = database.path + "-wal"
        kept = wal + ".kept"
        try FileManager.default.linkItem(atPath: wal, toPath: kept)
        try FileManager.default.removeItem(atPath: wal)
    }

    func restore() throws {
        try FileManager.default.linkItem(atPath: kept, toPath: wal)
    }
}

/// Runs completions on a serial queue of its own and counts the `execute` calls.
private final class CountingExecutor: LogCompletionExecutor {
    private let queue: DispatchQueue
    private let executes = Mutex(0)

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    var executeCount: Int { executes.withLock { $0 } }

    func execute(_ work: @escaping @Sendable () -> Void) {
        executes.withLock { $0 += 1 }
        queue.async(execute: work)
    }
}

/// Runs completions on the thread that hands them over, once released: holds the log's syncer while it answers.
private final class HeldExecutor: LogCompletionExecutor {
    /// Signalled when a thread arrives to be held.
    let arrived = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)

    func execute(_ work: @escaping @Sendable () -> Void) {
        arrived.signal()
        released.wait()
        work()
    }

    /// Lets one held thread go on.
    func release() {
        released.signal()
    }
}

/// Appends with completions and records, per executor, how each was answered and whether its row was readable then.
private final class CompletionRecorder: Sendable {
    struct Answer {
        let decisionId: String
        let succeeded: Bool
        let readable: Bool
    }

    private let pool: DatabasePool
    private let answers = Mutex<[Int: [Answer]]>([:])
    private let outstanding = DispatchGroup()

    init(database: TemporaryDatabase) {
        pool = database.pool
    }

    func append(_ entry: LogEntry, to log: DecisionLog, on executor: CountingExecutor, index: Int) {
        outstanding.enter()
        let pool = self.pool
        log.append([entry], on: executor) { [self] result in
            let readable = (try? pool.read { db in
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM log WHERE decision_id = ?)", arguments: [entry.decisionId])
            }) ?? false
            let answer = Answer(decisionId: entry.decisionId ?? "", succeeded: (try? result.get()) != nil, readable: readable)
            answers.withLock { $0[index, default: []].append(answer) }
            outstanding.leave()
        }
    }

    /// Returns once every append so far is answered.
    func wait() async {
        await withCheckedContinuation { done in outstanding.notify(queue: .global()) { done.resume() } }
    }

    func answered(by index: Int) -> [Answer] {
        answers.withLock { $0[index] ?? [] }
    }
}
