import Foundation
import Synchronization
import PostgresNIO
import Testing
import WarrantGateCore
import WarrantGateTestSupport
@testable import WarrantGateStore

/// The shared decision log on a real PostgreSQL server that each test starts for itself.
@Suite("The decision log on PostgreSQL", .serialized, .enabled(if: PostgresCluster.isEnabled))
struct PostgresLogTests {
    static let gatewayRole = "wg_gateway"
    /// The deadline of the tests about order and signing, not about the deadline: they share two cores with the suite.
    static let patient = PostgresCluster.patient.commitTimeout
    let logger = PostgresCluster.logger

    /// A cluster with the log's tables, owned by the cluster's superuser, and the gateways' role.
    private func withLogDatabase(_ body: (PostgresCluster) async throws -> Void) async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.withClient { owner in
            try await owner.query("CREATE ROLE wg_gateway LOGIN", logger: logger)
        }
        let roles = try PostgresRoles(gateway: Self.gatewayRole)
        try Store.initialize(cluster.location(), roles: roles)
        // Installing again changes nothing: a second gateway, or an upgrade, runs it too.
        try Store.initialize(cluster.location(), roles: roles)
        try await body(cluster)
    }

    /// Signs a checkpoint of the log as it is and checks the log against its checkpoints, as `log verify` does.
    private func verified(_ cluster: PostgresCluster, key: LogSigningKey = LogSigningKey(name: "county.example/warrant-gate")) async throws -> VerificationReport {
        try await blocking {
            let store = try cluster.store(user: Self.gatewayRole)
            defer { store.close() }
            try store.checkpointer(key: key, lastSigned: nil).sign()
            return try store.verify(key: key.verifier, against: nil)
        }
    }

    private static func entry(_ index: Int) -> LogEntry {
        let record = DecisionRecord(
            decisionId: "d-\(index)", time: "2026-12-02T10:00:00.000Z", component: "gateway", certificateSPKI: nil, certificateSubject: nil,
            agency: index % 2 == 0 ? "ice-ero" : "denver-pd", category: nil, method: "GET", path: "/records/inmates/2017-000123",
            action: "records.read", subject: "2017-000123", warrantReference: nil, effect: .deny, reason: "warrant_missing", rules: [],
            obligations: [], policy: "denver", policyDigest: nil, status: 403
        )
        return LogEntry(kind: .decision, time: Date(timeIntervalSince1970: 1_796_205_600), decisionId: record.decisionId, canonical: record.canonical)
    }

    @Test("two gateways appending at once make one contiguous sequence and one tree, sharing commits")
    func concurrentAppends() async throws {
        try await withLogDatabase { cluster in
            try await cluster.withClient(user: Self.gatewayRole) { first in
                try await cluster.withClient(user: Self.gatewayRole) { second in
                    let gateways = [first, second].map { PostgresDecisionLog(client: $0, logger: logger, commitTimeout: Self.patient) }
                    let appends = 600
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for index in 0..<appends {
                            group.addTask { try await gateways[index % 2].append([Self.entry(index)]) }
                        }
                        try await group.waitForAll()
                    }
                    let report = try await verified(cluster)
                    #expect(report.ok && report.entries == UInt64(appends), "\(report.problems)")
                    var expected = MerkleFrontier()
                    var seen: Set<String> = []
                    let rows = try await first.query("SELECT decision_id, kind, entry FROM log ORDER BY seq", logger: logger)
                    for try await (decisionId, kind, entry) in rows.decode((String, String, String).self) {
                        seen.insert(decisionId)
                        _ = expected.append(leaf: LogLeaf.hash(kind: kind, entry: Array(entry.utf8)))
                    }
                    #expect(seen.count == appends, "every decision is in the log once")
                    #expect(expected.root == report.root)
                    let commits = gateways.map(\.commits).reduce(0, +)
                    #expect(commits < appends, "\(commits) commits for \(appends) appends: concurrent appends share them")
                }
            }
        }
    }

    @Test("the gateways' role may append, never change, remove or truncate; the owner's triggers refuse too")
    func appendOnly() async throws {
        try await withLogDatabase { cluster in
            try await cluster.withClient(user: Self.gatewayRole) { gateway in
                try await PostgresDecisionLog(client: gateway, logger: logger).append([Self.entry(1), Self.entry(2)])
                for statement in [
                    "UPDATE log SET entry = '{}' WHERE seq = 1", "DELETE FROM log WHERE seq = 2",
                    "TRUNCATE log", "DELETE FROM tree_frontier", "ALTER TABLE log DISABLE TRIGGER log_append_only", "DROP TABLE log",
                ] {
                    await #expect(throws: (any Error).self, "\(statement)") {
                        try await gateway.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                }
                // The frontier moves only to the end of the log: not back, not past it, and with one subtree per bit.
                for statement in [
                    "UPDATE tree_frontier SET size = 1 WHERE id = 1", "UPDATE tree_frontier SET size = 5 WHERE id = 1",
                    "UPDATE tree_frontier SET subtrees = '\\x00' WHERE id = 1",
                    // A node for entries not in the log, and a checkpoint that does not follow the last.
                    "INSERT INTO merkle_nodes (level, idx, hash) VALUES (8, 0, decode(repeat('00', 32), 'hex'))",
                    // Nodes whose subtree's end, (idx + 1) << level, wraps past 2^63 (they passed an earlier trigger,
                    // and then stopped the signer until the tables' owner removed them).
                    "INSERT INTO merkle_nodes (level, idx, hash) VALUES (63, 0, decode(repeat('00', 32), 'hex'))",
                    "INSERT INTO merkle_nodes (level, idx, hash) VALUES (62, 1, decode(repeat('00', 32), 'hex'))",
                    "INSERT INTO merkle_nodes (level, idx, hash) VALUES (8, 36028797018963967, decode(repeat('00', 32), 'hex'))",
                    "INSERT INTO checkpoints (id, size, root, note, time) VALUES (9223372036854775807, 0, decode(repeat('00', 32), 'hex'), 'x', 't')",
                ] {
                    await #expect(throws: (any Error).self, "\(statement)") {
                        try await gateway.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                }
                // A setting keeps its key, so that no other (the mark of an unfinished migration among them) can be turned
                // into the time zone, which this role may write.
                try await gateway.query("INSERT INTO settings (key, value) VALUES ('two-person-rule', 'on')", logger: logger)
                await #expect(throws: (any Error).self) {
                    try await gateway.query("UPDATE settings SET key = 'time-zone', value = 'America/Denver' WHERE key = 'two-person-rule'", logger: logger)
                }
                // Subtrees of the right length but forged, at the same size, are refused too (a PostgreSQL pass: they
                // jammed every later append and checkpoint); forged ones an append writes are the signer's to refuse
                // (`forgedFrontierNotSigned`).
                await #expect(throws: (any Error).self) {
                    try await gateway.query("UPDATE tree_frontier SET subtrees = decode(repeat('01', 33), 'hex') WHERE id = 1", logger: logger)
                }
                let key = LogSigningKey(name: "county.example/warrant-gate")
                let store = try cluster.store(user: Self.gatewayRole)
                #expect(try store.verify(key: key.verifier, against: nil).problems == ["there is no signed checkpoint to verify against"])
            }
            try await cluster.withClient { owner in
                for statement in ["UPDATE log SET entry = '{}' WHERE seq = 1", "DELETE FROM log WHERE seq = 2", "TRUNCATE log"] {
                    await #expect(throws: (any Error).self, "\(statement)") {
                        try await owner.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                }
                // The gateways' role may be neither PUBLIC, nor the tables' owner, nor a superuser.
                for role in ["public", PostgresCluster.owner, "pg_monitor", "no_such_role"] {
                    #expect(throws: StoreError.self, "\(role)") {
                        try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: role))
                    }
                }
            }
        }
    }

    /// The gateways' role may rewrite the frontier's last subtree without appending; appends then derive stored nodes
    /// from it, so a signer that checked the frontier against the stored tree signed a root no entry supports.
    @Test("a frontier forged by the gateways' role, then built on by appends, is never signed")
    func forgedFrontierNotSigned() async throws {
        try await withLogDatabase { cluster in
            let key = LogSigningKey(name: "county.example/warrant-gate")
            try await cluster.withClient(user: Self.gatewayRole) { gateway in
                let log = PostgresDecisionLog(client: gateway, logger: logger, commitTimeout: Self.patient)
                try await log.append((0..<5).map(Self.entry))
                let store = try cluster.store(user: Self.gatewayRole)
                let signed = try await blocking { try store.checkpointer(key: key, lastSigned: nil).sign() }
                let first = try #require(signed)
                // Rewritten at the same size, the frontier's hashes are refused (a PostgreSQL pass: that jammed the site);
                // an appender still writes the subtrees its own entry reaches: 5 entries (4 + 1) become 6 (4 + 2).
                let rewritten = "UPDATE tree_frontier SET subtrees = substring(subtrees from 1 for octet_length(subtrees) - 32) || sha256('forged'::bytea) WHERE id = 1"
                await #expect(throws: (any Error).self) { try await gateway.query(PostgresQuery(unsafeSQL: rewritten), logger: logger) }
                let entry = Self.entry(5), leaf = LogLeaf.hash(kind: entry.kind.rawValue, entry: entry.canonical)
                try await gateway.query("""
                    INSERT INTO log (seq, kind, time, decision_id, entry, leaf_hash)
                    VALUES (6, 'decision', '2026-12-02T10:00:00.000Z', 'd-5', \(String(decoding: entry.canonical, as: UTF8.self)), \(ByteBuffer(bytes: leaf)))
                    """, logger: logger)
                try await gateway.query(
                    "UPDATE tree_frontier SET size = 6, subtrees = substr(subtrees, 1, 33) || '\\x01'::bytea || sha256('forged'::bytea) WHERE id = 1", logger: logger
                )
                try await log.append((6..<305).map(Self.entry))
                await #expect(throws: StoreError.self) { try await blocking { try store.checkpointer(key: key, lastSigned: nil).sign() } }
                let checkpoints = try store.database.read { try Checkpointer.all($0) }
                #expect(checkpoints.map(\.id) == [first.id], "nothing signed after the forgery")
            }
        }
    }

    /// The role may insert a row whose stored leaf hash is not its entry's (a benign entry, the hash of an invented
    /// approval) with a frontier to match: a signer that trusted the stored hashes signed the invented entry's root.
    @Test("a row whose stored leaf hash is not its entry's, with a frontier to match, is never signed")
    func forgedLeafHashNotSigned() async throws {
        try await withLogDatabase { cluster in
            let key = LogSigningKey(name: "county.example/warrant-gate")
            try await cluster.withClient(user: Self.gatewayRole) { gateway in
                try await PostgresDecisionLog(client: gateway, logger: logger, commitTimeout: Self.patient).append((0..<5).map(Self.entry))
                let store = try cluster.store(user: Self.gatewayRole)
                _ = try await blocking { try store.checkpointer(key: key, lastSigned: nil).sign() }
                var frontier = try store.database.read { try $0.logFrontier() }
                let invented = LogLeaf.hash(kind: "admin", entry: Array(#"{"action":"warrant.approve","reference":"JW-INVENTED"}"#.utf8))
                frontier.append(leaf: invented)
                let subtrees = frontier.subtrees.flatMap { [UInt8($0.level)] + $0.hash }
                try await gateway.query("""
                    INSERT INTO log (seq, kind, time, decision_id, entry, leaf_hash)
                    VALUES (6, 'admin', '2026-12-04T17:00:00.000Z', NULL, '{"benign":"entry"}', \(ByteBuffer(bytes: invented)))
                    """, logger: logger)
                try await gateway.query("UPDATE tree_frontier SET size = 6, subtrees = \(ByteBuffer(bytes: subtrees)) WHERE id = 1", logger: logger)
                let refused = await #expect(throws: StoreError.self) { try await blocking { try store.checkpointer(key: key, lastSigned: nil).sign() } }
                #expect(refused?.message.contains("entry 6 does not match its stored leaf hash") == true, "\(String(describing: refused))")
            }
        }
    }

    @Test("a checkpointer reads the log on a connection of its own, not the one the registry's reads take turns on")
    func checkpointerConnection() async throws {
        try await withLogDatabase { cluster in
            try await blocking {
                let store = try cluster.store(user: Self.gatewayRole)
                defer { store.close() }
                let checkpointer = store.checkpointer(key: LogSigningKey(name: "county.example/warrant-gate"), lastSigned: nil)
                let backend = { (database: any SQLDatabase) in try database.read { try $0.scalarInt64("SELECT pg_backend_pid()") } }
                let (registry, signer) = (try backend(store.database), try backend(checkpointer.database))
                #expect(registry != nil && signer != nil && registry != signer)
                #expect(try checkpointer.sign(always: true)?.size == 0)
                #expect(try backend(checkpointer.database) == signer)
            }
        }
    }

    @Test("two would-be signers while two gateways append: one signs at a time, and the checkpoints never fork")
    func twoSigners() async throws {
        try await withLogDatabase { cluster in
            let key = LogSigningKey(name: "county.example/warrant-gate")
            try await cluster.withClient(user: Self.gatewayRole) { first in
                try await cluster.withClient(user: Self.gatewayRole) { second in
                    let logs = [first, second].map { PostgresDecisionLog(client: $0, logger: logger, commitTimeout: Self.patient) }
                    let signers = try (0..<2).map { _ in try cluster.store(user: Self.gatewayRole).checkpointer(key: key, lastSigned: nil) }
                    let appends = 1_200
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for index in 0..<appends {
                            group.addTask { try await logs[index % 2].append([Self.entry(index)]) }
                        }
                        for signer in signers {
                            group.addTask {
                                for _ in 0..<40 {
                                    try await blocking { try signer.sign() }
                                    try await Task.sleep(for: .milliseconds(5))
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                    // Once the appends are done, a signing covers them all (unless the last one did), and then one
                    // finds nothing new.
                    try await blocking { try signers[0].sign() }
                    #expect(try await blocking { try signers[1].sign() } == nil)
                    let store = try cluster.store(user: Self.gatewayRole)
                    let checkpoints = try store.database.read { try Checkpointer.all($0) }
                    let last = try #require(checkpoints.last)
                    #expect(last.size == UInt64(appends))
                    #expect(checkpoints.map(\.id) == Array(1...Int64(checkpoints.count)), "one chain of checkpoints")
                    #expect(zip(checkpoints, checkpoints.dropFirst()).allSatisfy { $0.size < $1.size }, "each covers more than the one before")
                    let report = try store.verify(key: key.verifier, against: nil)
                    #expect(report.ok && report.entries == UInt64(appends) && report.root == last.root, "\(report.problems)")
                }
            }
        }
    }

    @Test("with the server down, appends fail rather than wait; once it is back, they succeed, without a restart", .timeLimit(.minutes(1)))
    func serverRestart() async throws {
        try await withLogDatabase { cluster in
            try await cluster.withClient(user: Self.gatewayRole) { gateway in
                // The first append, which opens the client's connection, is not what is timed: on a loaded machine it
                // took more than the deadline once.
                try await PostgresDecisionLog(client: gateway, logger: logger, commitTimeout: Self.patient).append([Self.entry(1)])
                let log = PostgresDecisionLog(client: gateway, logger: logger, commitTimeout: .seconds(2))
                try cluster.kill()
                await #expect(throws: (any Error).self) { try await log.append([Self.entry(2)]) }
                try cluster.restart()
                var appended = false
                for attempt in 0..<30 where !appended {
                    do {
                        try await log.append([Self.entry(100 + attempt)])
                        appended = true
                    } catch {
                        try await Task.sleep(for: .milliseconds(200))
                    }
                }
                #expect(appended, "appends succeed again once the server is back")
                // Whatever the failed append did, the log is one contiguous sequence and one tree.
                let report = try await verified(cluster)
                #expect(report.ok && report.entries >= 2, "\(report.problems)")
            }
        }
    }

    /// The lock is held until the append has failed, so an append that waited for it would never return.
    @Test("a frontier held locked by a stalled writer fails appends instead of waiting for it", .timeLimit(.minutes(1)))
    func heldLock() async throws {
        try await withLogDatabase { cluster in
            try await cluster.withClient { owner in
                try await cluster.withClient(user: Self.gatewayRole) { gateway in
                    // As in `serverRestart`, the first append is not what is timed.
                    try await PostgresDecisionLog(client: gateway, logger: logger, commitTimeout: Self.patient).append([Self.entry(1)])
                    let log = PostgresDecisionLog(client: gateway, logger: logger, commitTimeout: .seconds(2))
                    try await owner.withTransaction(logger: logger) { stalled in
                        try await stalled.query("SELECT size FROM tree_frontier WHERE id = 1 FOR UPDATE", logger: logger)
                        await #expect(throws: (any Error).self) { try await log.append([Self.entry(2)]) }
                        #expect(!log.isHealthy, "a log that cannot commit makes the gateway not ready")
                    }
                    try await log.append([Self.entry(3)])
                    // Entry 2's append failed at its deadline, but its transaction may still land once the lock is
                    // released (a CI run with both cores loaded saw 3 entries): one contiguous log either way.
                    let report = try await verified(cluster)
                    #expect(report.ok && (2...3).contains(report.entries), "\(report.entries) entries: \(report.problems)")
                }
            }
        }
    }

    /// A batch that rolled back (here at the frontier's lock timeout; a paused gateway's transaction ended by the
    /// server, a server restarting) lost the outcomes in it, which no caller waited for.
    @Test("an entry no one waits for, in a batch that did not commit, is queued again and lands once the lock is free", .timeLimit(.minutes(1)))
    func unwaitedEntryRetried() async throws {
        try await withLogDatabase { cluster in
            try await cluster.withClient { owner in
                try await cluster.withClient(user: Self.gatewayRole) { gateway in
                    // The client's first connection is made before the deadline counts (a loaded CI runner took more
                    // than the second the first append has).
                    try await gateway.query("SELECT 1", logger: logger)
                    let log = PostgresDecisionLog(client: gateway, logger: logger, commitTimeout: .seconds(1))
                    try await log.append([Self.entry(1)])
                    try await owner.withTransaction(logger: logger) { held in
                        try await held.query("SELECT size FROM tree_frontier WHERE id = 1 FOR UPDATE", logger: logger)
                        log.enqueue([Self.entry(2)])
                        while log.isHealthy { try await Task.sleep(for: .milliseconds(50)) }
                    }
                    let key = LogSigningKey(name: "county.example/warrant-gate")
                    var entries: UInt64 = 0
                    for _ in 0..<100 where entries < 2 {
                        try await Task.sleep(for: .milliseconds(100))
                        entries = try await verified(cluster, key: key).entries
                    }
                    #expect(entries == 2, "the outcome landed on a later try")
                    #expect(log.unwrittenEntries == 0)
                }
            }
        }
    }

    /// An entry that cannot be written at all must not fail the callers' batches while it is retried.
    @Test("an entry queued again is written in a batch of its own: callers' batches go on while it fails", .timeLimit(.minutes(1)))
    func retriedEntryFailsAlone() async throws {
        try await withLogDatabase { cluster in
            try await cluster.withClient { owner in
                try await owner.query(
                    "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'poison'; END$$", logger: logger
                )
                try await owner.query(
                    "CREATE TRIGGER poison BEFORE INSERT ON log FOR EACH ROW WHEN (NEW.decision_id = 'd-99') EXECUTE FUNCTION poison()", logger: logger
                )
            }
            try await cluster.withClient(user: Self.gatewayRole) { gateway in
                let log = PostgresDecisionLog(client: gateway, logger: logger, commitTimeout: .seconds(5))
                log.enqueue([Self.entry(99)])
                _ = try? await log.append([Self.entry(1)])
                // Across several pauses before a retry, every caller's append lands.
                for index in 2..<8 {
                    try await log.append([Self.entry(index)])
                    try await Task.sleep(for: pauseBeforeRetry / 2)
                }
            }
        }
    }

    /// An attacker's pass: a gateway paused (SIGSTOP, a frozen machine) inside its append, holding the frontier's
    /// lock, made every other gateway answer 503 for as long as the pause lasted: no statement or lock timeout ends a
    /// transaction that sits idle. The server now ends it after the statement timeout.
    @Test("a write transaction whose client stops while holding the frontier's lock is ended by the server; appends go on")
    func pausedWriter() async throws {
        try await withLogDatabase { cluster in
            let stalled = try Store.open(cluster.location(), options: StoreOptions(busyTimeout: .seconds(1), commitTimeout: .seconds(60)))
            defer { stalled.close() }
            let locked = Mutex(false)
            let appended = Mutex(false)
            // The writer sits idle, holding the lock, until the other append is through or a pause of 20 s is over.
            // On a thread of its own, not one of the cooperative pool's, which the rest of the suite needs meanwhile.
            let paused = Task {
                try await blocking { try stalled.database.write { session in
                    _ = try session.fetchAll("SELECT size FROM tree_frontier WHERE id = 1 FOR UPDATE", [SQLValue]())
                    locked.withLock { $0 = true }
                    let pauseEnds = Date().addingTimeInterval(20)
                    while !appended.withLock({ $0 }) && Date() < pauseEnds { Thread.sleep(forTimeInterval: 0.05) }
                    _ = try session.fetchAll("SELECT 1", [SQLValue]())
                } }
            }
            while !locked.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(20)) }
            try await cluster.withClient(user: Self.gatewayRole) { gateway in
                let log = PostgresDecisionLog(client: gateway, logger: logger, commitTimeout: .seconds(30))
                let started = ContinuousClock.now
                try await log.append([Self.entry(1)])
                appended.withLock { $0 = true }
                #expect(ContinuousClock.now - started < .seconds(10), "the append waited for the paused writer's whole pause")
            }
            await #expect(throws: (any Error).self, "the paused writer's transaction was ended") { try await paused.value }
        }
    }

    /// A review's pass: PostgreSQL answers COMMIT in a transaction an error aborted with a rollback and no error, so a
    /// body that caught a statement's error passed for committed.
    @Test("a write whose statement failed, its error caught, does not pass for committed")
    func abortedTransactionIsNoCommit() async throws {
        try await withLogDatabase { cluster in
            let store = try cluster.store(user: Self.gatewayRole)
            defer { store.close() }
            let failed = #expect(throws: StoreError.self) {
                try store.database.write { session in
                    _ = try? session.fetchAll("SELECT 1 / 0", [SQLValue]())
                }
            }
            #expect(failed?.description.contains("rolled the transaction back at its commit (it answered ROLLBACK)") == true, "\(String(describing: failed))")
            // The connection goes on: the next transaction commits.
            #expect(try store.database.write { try $0.scalarInt64("SELECT 7") } == 7)
        }
    }

    @Test("a tampered leaf, or a gap, is found by the walk over the log")
    func verificationFindsTampering() async throws {
        try await withLogDatabase { cluster in
            try await cluster.withClient(user: Self.gatewayRole) { gateway in
                try await PostgresDecisionLog(client: gateway, logger: logger).append((0..<5).map(Self.entry))
            }
            let key = LogSigningKey(name: "county.example/warrant-gate")
            #expect(try await verified(cluster, key: key).ok)
            try await cluster.withClient { owner in
                // An owner who disables the triggers can rewrite an entry; the walk still finds it.
                try await owner.query("ALTER TABLE log DISABLE TRIGGER log_append_only", logger: logger)
                try await owner.query("UPDATE log SET entry = replace(entry, 'warrant_missing', 'permitted') WHERE seq = 3", logger: logger)
                // Opened read-only, as `log verify` opens it: a store whose triggers changed is refused to serve.
                let report = try Store.open(cluster.location(), options: StoreOptions(readonly: true)).verify(key: key.verifier, against: nil)
                #expect(!report.ok && report.firstBadSeq == 3, "\(report.problems)")
            }
        }
    }

}

@Suite("PostgreSQL locations")
struct PostgresLocationTests {
    @Test("a connection that fails says why, not only that it failed")
    func connectionFailureExplained() throws {
        // Nothing listens on loopback's port 1.
        let location = try StoreLocation("postgres://wg_gateway@127.0.0.1:1/warrantgate")
        let error = #expect(throws: StoreError.self) { try Store.open(location, options: StoreOptions(busyTimeout: .seconds(5))) }
        #expect(error?.message.contains("connectionError (") == true && error?.message.contains("refused") == true, "\(String(describing: error))")
    }

    @Test("a database URL names user, host, port and database, and never a password")
    func locations() throws {
        let location = try PostgresLocation(url: "postgres://wg_gateway@db.county.internal:6432/warrantgate")
        #expect(location == PostgresLocation(host: "db.county.internal", port: 6432, user: "wg_gateway", database: "warrantgate"))
        #expect(try PostgresLocation(url: "postgresql://u@h/d").port == 5432)
        #expect(throws: StoreError.self) { try PostgresLocation(url: "postgres://u:secret@h/d") }
        // A URL mistyped with one slash is not taken for a file's path, which errors would echo, password and all.
        for mistyped in ["postgres:/u:secret@h/d", "PostgreSQL:u:secret@h/d"] {
            let error = #expect(throws: StoreError.self) { try StoreLocation(mistyped) }
            #expect(error?.message.contains("secret") == false)
        }
        #expect(throws: StoreError.self) { try PostgresLocation(url: "postgres://h/d") }
        #expect(throws: StoreError.self) { try PostgresLocation(url: "postgres://u@h/") }
        #expect(throws: StoreError.self) { try PostgresLocation(url: "postgres://u@h/d?sslmode=disable") }
        #expect(throws: StoreError.self) { try PostgresLocation(url: "/var/lib/warrant-gate/log.sqlite") }
        for withPassword in ["postgres://u:hunter2@h/d", "postgres://u:hunter2/x@h/d"] {
            let error = #expect(throws: StoreError.self) { try PostgresLocation(url: withPassword) }
            #expect(error?.message.contains("hunter2") == false, "\(error?.message ?? "")")
        }
        // A NUL ends a startup parameter: inside the database's name it would add parameters of the URL's choosing.
        let smuggled = #expect(throws: StoreError.self) { try PostgresLocation(url: "postgres://u@h/d%00options%00-c%20search_path%3Dnowhere") }
        #expect(smuggled?.message.contains("control or format characters") == true)
        #expect(throws: StoreError.self) { try PostgresLocation(url: "postgres://u@h/warrant%C2%9B31mgate") }
        #expect(throws: StoreError.self) { try PostgresLocation(url: "postgres://u@h/warrant_gate%E2%80%AEfdp") }
        #expect(try PostgresLocation(url: "postgres://u@[::1]:5433/d").host == "::1")
        #expect(try PostgresLocation(url: "postgres://u@[::1]:5433/d").isLoopback)
        // Only loopback without a CA reaches a server that does not prove who it is (whoever listens there answers).
        #expect(try StoreLocation("postgres://u@localhost/d").reachesServerUnverified(caFile: nil))
        #expect(try !StoreLocation("postgres://u@localhost/d").reachesServerUnverified(caFile: "/etc/warrant-gate/db-ca.pem"))
        #expect(try !StoreLocation("postgres://u@db.county.example/d").reachesServerUnverified(caFile: nil))
        #expect(try !StoreLocation("/var/lib/warrant-gate/warrant-gate.sqlite").reachesServerUnverified(caFile: nil))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-pw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("password").path
        try "s3cret\nignored\n".write(toFile: file, atomically: true, encoding: .utf8)
        // As libpq refuses such a .pgpass: a file every account may read or write is refused.
        for mode: mode_t in [0o644, 0o602, 0o666] {
            #expect(chmod(file, mode) == 0)
            #expect(throws: StoreError.self) { try PostgresLocation.password(file: file) }
        }
        for mode: mode_t in [0o640, 0o400, 0o600] {
            #expect(chmod(file, mode) == 0)
            #expect(try PostgresLocation.password(file: file) == "s3cret")
        }
        #expect(try PostgresLocation.password(file: file, environment: ["PGPASSWORD": "env"]) == "s3cret")
        #expect(try PostgresLocation.password(file: nil, environment: ["PGPASSWORD": "env"]) == "env")
        #expect(try PostgresLocation.password(file: nil, environment: [:]) == nil)
    }
}

/// A PostgreSQL server that completes the startup (no TLS on loopback, AuthenticationOk, ReadyForQuery) and then never
/// answers a query: one that froze, or whose network split, just after a connection opened.
private final class MuteServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        guard bound, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        port = Int(UInt16(bigEndian: address.sin_port))
        self.listener = listener
        Thread.detachNewThread {
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                Thread.detachNewThread { Self.serve(client) }
            }
        }
    }

    private static func serve(_ client: Int32) {
        defer { close(client) }
        func readExactly(_ count: Int) -> [UInt8]? {
            var bytes = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let got = bytes.withUnsafeMutableBytes { recv(client, $0.baseAddress! + done, count - done, 0) }
                guard got > 0 else { return nil }
                done += got
            }
            return bytes
        }
        func message(_ type: Character, _ body: [UInt8]) -> [UInt8] {
            [type.asciiValue!] + withUnsafeBytes(of: UInt32(body.count + 4).bigEndian, Array.init) + body
        }
        // The startup message (after refusing an SSLRequest, if one comes first).
        while true {
            guard let length = readExactly(4), let body = readExactly(Int(length.withUnsafeBytes { $0.load(as: UInt32.self).bigEndian }) - 4) else { return }
            if body.prefix(4) == [0x04, 0xD2, 0x16, 0x2F] { _ = send(client, "N", 1, 0); continue }
            break
        }
        let reply = message("R", [0, 0, 0, 0]) + message("S", Array("server_version\u{0}15\u{0}".utf8))
            + message("S", Array("integer_datetimes\u{0}on\u{0}".utf8)) + message("K", [0, 0, 0, 1, 0, 0, 0, 2]) + message("Z", Array("I".utf8))
        _ = reply.withUnsafeBytes { send(client, $0.baseAddress, $0.count, 0) }
        var sink = [UInt8](repeating: 0, count: 65_536)
        while sink.withUnsafeMutableBytes({ recv(client, $0.baseAddress, $0.count, 0) }) > 0 {}
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

@Suite("A PostgreSQL server gone silent")
struct SilentPostgresTests {
    /// The connection's first statements (its timeouts) were waited for without a limit: `log checkpoint` against such
    /// a server was still waiting when killed at 60 s, holding the store's lock.
    @Test("opening a store on a server that answers the startup and nothing after fails, and does not wait for ever")
    func silentAfterStartup() async throws {
        let server = try MuteServer()
        defer { server.stop() }
        let location = try StoreLocation("postgres://wg_gateway@127.0.0.1:\(server.port)/warrantgate")
        // A guard against the hang, far beyond the 2 s timeout: on the code before, the open never returned. The open
        // is left running if it hangs (a task group would wait for it), so the guard can answer first.
        let answered = Mutex(false)
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            let answer: @Sendable (String?) -> Void = { outcome in
                if answered.withLock({ answered in defer { answered = true }; return !answered }) { continuation.resume(returning: outcome) }
            }
            Thread.detachNewThread {
                do {
                    _ = try Store.open(location, options: StoreOptions(busyTimeout: .seconds(2)))
                    answer("opened")
                } catch {
                    answer("\(error)")
                }
            }
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: 45)
                answer(nil)
            }
        }
        let failure = try #require(outcome, "the open was still waiting after 45 s")
        #expect(failure.contains("cannot open"), "\(failure)")
    }
}
