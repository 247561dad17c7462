import Foundation
import GRDB
import Testing
import WarrantGateCore
@testable import WarrantGateStore

/// Builds a log of `count` decisions with signed checkpoints, as the gateway would.
private func buildLog(_ database: TemporaryDatabase, count: Int, checkpointEvery: Int, key: LogSigningKey) async throws {
    let log = DecisionLog(writer: database.pool, path: database.path)
    let writer = Task { await log.run() }
    let checkpointer = Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name)
    for index in 1...count {
        let record = DecisionRecord(
            decisionId: "d-\(index)", time: Timestamp.format(Date()), component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=x",
            agency: index % 2 == 0 ? "ice-ero" : "denver-pd", category: index % 2 == 0 ? "federal-immigration" : "local-law-enforcement",
            method: "GET", path: "/records/inmates/2017-000123", action: "records.read", subject: "2017-000123", warrantReference: nil,
            effect: index % 2 == 0 ? .deny : .allow, reason: index % 2 == 0 ? "warrant_missing" : "permitted", rules: [], obligations: [],
            policy: "denver", policyDigest: "00", status: index % 2 == 0 ? 403 : nil
        )
        try await log.append([LogEntry(kind: .decision, time: Date(), decisionId: record.decisionId, canonical: record.canonical)])
        if index % checkpointEvery == 0 { try checkpointer.sign() }
    }
    log.close()
    await writer.value
}

/// A session that counts the statements read through it (`fetchAll` and `forEach`), passing each to `base`.
private final class ReadCountingSession: SQLSession {
    let base: any SQLSession
    /// The statements read, in order.
    private(set) var statements: [String] = []
    var reads: Int { statements.count }

    init(base: any SQLSession) { self.base = base }

    var dialect: SQLDialect { base.dialect }
    func execute(_ sql: String, _ arguments: [SQLValue]) throws { try base.execute(sql, arguments) }
    func fetchAll(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        statements.append(sql)
        return try base.fetchAll(sql, arguments)
    }
    func forEach(_ sql: String, _ arguments: [SQLValue], _ visit: (SQLRow) throws -> Void) throws {
        statements.append(sql)
        try base.forEach(sql, arguments, visit)
    }
    func logSize() throws -> UInt64 { try base.logSize() }
    func logFrontier() throws -> MerkleFrontier { try base.logFrontier() }
    func appendLog(_ entries: [LogAppender.Pending]) throws { try base.appendLog(entries) }
    func takeSignerLease() throws -> Bool { try base.takeSignerLease() }
    func forEachLogLeaf(_ range: ClosedRange<Int64>, _ visit: (_ seq: Int64, _ leaf: Merkle.Hash, _ storedMatches: Bool) throws -> Void) throws {
        try base.forEachLogLeaf(range, visit)
    }
}

/// A database whose reads go through a ``ReadCountingSession`` each, kept to be read afterwards. For one test's thread.
private final class ReadCountingDatabase: SQLDatabase, @unchecked Sendable {
    let base: any SQLDatabase
    private(set) var sessions: [ReadCountingSession] = []

    init(base: any SQLDatabase) { self.base = base }

    var dialect: SQLDialect { base.dialect }
    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try base.read { session in
            let counting = ReadCountingSession(base: session)
            sessions.append(counting)
            return try body(counting)
        }
    }
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T { try base.write(body) }
}

@Suite("Tamper evidence: the Merkle log, checkpoints and proofs", .serialized)
struct TamperEvidenceTests {
    let key = LogSigningKey(name: "test.example/log")

    private func verify(_ database: TemporaryDatabase, against: String? = nil, key: LogVerifierKey? = nil) throws -> VerificationReport {
        try LogVerifier(key: key ?? self.key.verifier).verify(database: SQLiteDatabase(pool: database.pool), against: against)
    }

    /// Marks entries 1…`through` archived and deletes them, their leaf hashes kept, with plain SQL and no archive file:
    /// what the log's delete trigger lets anyone who can write the file do.
    private static func archiveByHand(_ db: Database, through: Int) throws {
        try db.execute(sql: "INSERT INTO archived_leaves (seq, leaf_hash) SELECT seq, leaf_hash FROM log WHERE seq <= ?", arguments: [through])
        try db.execute(sql: "UPDATE archive_state SET archived_through = ? WHERE id = 1", arguments: [through])
        try db.execute(sql: "DELETE FROM log WHERE seq <= ?", arguments: [through])
    }

    /// Drops the append-only triggers, as an attacker with the file in hand would.
    private func breakIn(_ database: TemporaryDatabase) throws {
        try database.pool.write { db in
            for trigger in ["log_is_append_only_update", "log_is_append_only_delete"] { try db.execute(sql: "DROP TRIGGER \(trigger)") }
        }
    }

    @Test("the Merkle tree matches an independent RFC 6962 computation; inclusion and consistency proofs verify, and only theirs")
    func merkleMath() throws {
        let leaves = (0..<37).map { Merkle.leafHash(Array("entry \($0)".utf8)) }
        func reference(_ slice: ArraySlice<Merkle.Hash>) -> Merkle.Hash {
            if slice.count == 1 { return slice.first! }
            let k = 1 << (Int.bitWidth - (slice.count - 1).leadingZeroBitCount - 1)
            return Merkle.nodeHash(reference(slice.prefix(k)), reference(slice.dropFirst(k)))
        }
        var frontier = MerkleFrontier()
        var nodes: [String: Merkle.Hash] = [:]
        for (index, leaf) in leaves.enumerated() {
            nodes["0:\(index)"] = leaf
            for node in frontier.append(leaf: leaf) { nodes["\(node.level):\(node.index)"] = node.hash }
            #expect(frontier.root == reference(leaves[...index]))
        }
        for size in [1, 2, 3, 8, 13, 37] {
            for index in 0..<size {
                let proof = Merkle.inclusionProof(index: UInt64(index), size: UInt64(size)) { nodes["\($0):\($1)"]! }
                #expect(Merkle.rootFromInclusionProof(leaf: leaves[index], index: UInt64(index), size: UInt64(size), proof: proof) == reference(leaves[..<size]))
            }
        }
        // Consistency proofs between every two sizes: each verifies against the two roots, and no other pair; a proof
        // with one hash changed verifies against nothing.
        for newSize in 1...leaves.count {
            let newRoot = reference(leaves[..<newSize])
            for oldSize in 1...newSize {
                let oldRoot = reference(leaves[..<oldSize])
                let proof = Merkle.consistencyProof(oldSize: UInt64(oldSize), newSize: UInt64(newSize)) { nodes["\($0):\($1)"]! }
                let (old, new) = (UInt64(oldSize), UInt64(newSize))
                #expect(Merkle.isConsistent(oldSize: old, oldRoot: oldRoot, newSize: new, newRoot: newRoot, proof: proof), "\(oldSize) → \(newSize)")
                #expect(proof.count <= 2 * 6, "\(oldSize) → \(newSize): \(proof.count) hashes")
                let otherRoot = reference(leaves[1..<max(newSize, 2)])
                #expect(!Merkle.isConsistent(oldSize: old, oldRoot: otherRoot, newSize: new, newRoot: newRoot, proof: proof))
                #expect(!Merkle.isConsistent(oldSize: old, oldRoot: oldRoot, newSize: new, newRoot: otherRoot, proof: proof))
                if newSize < leaves.count {
                    #expect(!Merkle.isConsistent(oldSize: old, oldRoot: oldRoot, newSize: new + 1, newRoot: reference(leaves[...newSize]), proof: proof))
                }
                for position in proof.indices {
                    var changed = proof
                    changed[position][0] ^= 1
                    #expect(!Merkle.isConsistent(oldSize: old, oldRoot: oldRoot, newSize: new, newRoot: newRoot, proof: changed), "\(oldSize) → \(newSize) at \(position)")
                }
            }
        }
    }

    @Test("an untouched log verifies, with contiguous sequence numbers and growing checkpoints")
    func untouched() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 40, checkpointEvery: 10, key: key)
        let report = try verify(database)
        #expect(report.ok, "\(report.problems)")
        #expect(report.entries == 40)
        #expect(report.checkpoints == 4)
    }

    /// The attacker's F4: the time and decision id columns sit beside the hashed entry, and reports, exports and proofs
    /// select on them; moving a decision to 2019 dropped it from its month's report while the log still verified.
    @Test("a time or decision id column that disagrees with the hashed entry is detected and the sequence number named")
    func editedColumns() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 10, checkpointEvery: 10, key: key)
        try breakIn(database)
        try await database.pool.write { db in
            try db.execute(sql: "UPDATE log SET time = '2019-12-01T00:00:00.000Z' WHERE seq = 4")
            try db.execute(sql: "UPDATE log SET decision_id = 'd-1' WHERE seq = 7")
        }
        let report = try verify(database)
        #expect(report.firstBadSeq == 4)
        #expect(report.problems == [
            "seq 4: its time column (2019-12-01T00:00:00.000Z) is not the entry's (\(try await statedTime(database, seq: 4))): the column was edited",
            "seq 7: its decision_id column (d-1) is not the entry's (d-7): the column was edited",
        ])
    }

    /// A PostgreSQL pass: an approval record whose JSON repeated its keys read as a harmless record to the CLI's
    /// decoder (a repeated key's first value) and as `warrant.approve` to PostgreSQL's (the last), and verified.
    @Test("an admin record not written as the CLI writes one (a key repeated) is named by log verify and read by no one")
    func nonCanonicalAdminRecord() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 4, checkpointEvery: 4, key: key)
        let time = Timestamp.format(Date())
        let twoFaced = #"{"time":"\#(time)","component":"admin-cli","operator":"alice","action":"settings.show","target":"two-person-rule","#
            + #""operator":"Sgt. Nobody","action":"warrant.approve","target":"JW-2","details":{}}"#
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        try await log.append([LogEntry(kind: .admin, time: Timestamp.parse(time)!, decisionId: nil, canonical: Array(twoFaced.utf8))])
        log.close()
        await writer.value
        try Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name).sign()
        let report = try verify(database)
        #expect(report.problems == [
            "seq 5: an admin record not written as the CLI writes one (a key repeated, or written otherwise): it reads differently to different readers",
        ], "\(report.problems)")
        #expect(throws: (any Error).self) { try AdminRecord(entry: twoFaced) }
        let honest = AdminRecord(time: time, operator: "alice", action: "settings.show", target: "two-person-rule", details: [:])
        #expect(try AdminRecord(entry: String(decoding: honest.canonical, as: UTF8.self)) == honest)
    }

    /// An auditor's pass: the verifier parsed the time column leniently, while exports and reports compare it as text,
    /// so the same instant written with a space hid a row from `--from`; and a column's value reached the terminal raw.
    @Test("a time column not written as the store writes it is detected; a column's control characters are printed escaped")
    func columnsAsWritten() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 10, checkpointEvery: 10, key: key)
        try breakIn(database)
        try await database.pool.write { db in
            try db.execute(sql: "UPDATE log SET time = replace(time, 'T', ' ') WHERE seq = 3")
            try db.execute(sql: "UPDATE log SET decision_id = 'd-3' || char(13, 27) || '[2Kok' || char(8238) WHERE seq = 5")
        }
        let spaced = try await database.pool.read { db in try String.fetchOne(db, sql: "SELECT time FROM log WHERE seq = 3") }
        #expect(spaced?.contains(" ") == true)
        let report = try verify(database)
        #expect(report.problems == [
            "seq 3: its time column (\(spaced ?? "")) is not the entry's (\(try await statedTime(database, seq: 3))): the column was edited",
            "seq 5: its decision_id column (d-3\\u{D}\\u{1B}[2Kok\\u{202E}) is not the entry's (d-5): the column was edited",
        ])
    }

    /// An auditor's pass: `archive_state` could be raised with plain SQL (the log's delete trigger allows rows up to
    /// it), every row deleted, and the log still verified.
    @Test("entries marked archived beyond the log's latest archive record were deleted outside `log archive`")
    func archivedWithoutRecord() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 10, checkpointEvery: 10, key: key)
        try await database.pool.write { try Self.archiveByHand($0, through: 10) }
        let report = try verify(database)
        #expect(report.problems == [
            "entries 1…10 are marked archived, but the log's latest archive record says none were: entries were deleted outside `log archive`",
        ])
        #expect(report.firstBadSeq == 1 && report.archivedUnread == 10)
    }

    private func statedTime(_ database: TemporaryDatabase, seq: Int) async throws -> String {
        let entry = try await database.pool.read { db in try String.fetchOne(db, sql: "SELECT entry FROM log WHERE seq = ?", arguments: [seq]) }
        return try DecisionRecord(canonical: Array(try #require(entry).utf8)).time
    }

    /// The attacker's F2: entries after the last checkpoint verified as well as the others, and nothing said so.
    @Test("the report names the entries a matching signed checkpoint covers, and those after it")
    func signedCoverage() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 45, checkpointEvery: 10, key: key)
        var report = try verify(database)
        #expect(report.ok && report.signedSize == 40 && report.unsignedEntries == 5)
        report.requireSigned("sign one")
        #expect(report.problems == ["entries 41…45 are covered by no signed checkpoint (the latest that matches covers 40): sign one"])
        #expect(report.firstBadSeq == 41)
    }

    /// The attacker's F3: another log (signed with another key), archived whole, passed the county's checkpoint held
    /// off the machine, since every checkpoint inside the archived prefix was skipped.
    @Test("a checkpoint inside the archived prefix is checked against the stored tree: another log, archived whole, does not pass")
    func archivedPrefix() async throws {
        let county = try TemporaryDatabase()
        try await buildLog(county, count: 3, checkpointEvery: 3, key: key)
        let offsite = try #require(try await county.pool.read { db in try Checkpointer.latest(SQLiteSession(db: db))?.note })

        let forged = try TemporaryDatabase()
        let own = LogSigningKey(name: key.name)
        try await buildLog(forged, count: 6, checkpointEvery: 6, key: own)
        let archive = forged.directory.appendingPathComponent("all.archive").path
        try LogArchive.archive(database: SQLiteDatabase(pool: forged.pool), before: Date().addingTimeInterval(60), key: own, path: archive, operator: "x")
        try await forged.pool.write { db in
            try db.execute(sql: "DROP TRIGGER checkpoints_append_only_delete")
            try db.execute(sql: "DELETE FROM checkpoints")
        }
        let report = try verify(forged, against: offsite)
        // And its archive record is signed by the forger's key, not the log's.
        #expect(report.problems == [
            "the checkpoint held elsewhere (size 3) does not match the log: an entry at or before seq 3 was changed, removed or reordered",
            "entries 1…6 are marked archived, but the log.archive record that says so is not signed by the log's key: entries may have been deleted by whoever could write the database",
        ])
        // The county's own log, archived, still verifies against it: the stored tree has the checkpoint's root.
        try LogArchive.archive(database: SQLiteDatabase(pool: county.pool), before: Date().addingTimeInterval(60), key: key, path: county.directory.appendingPathComponent("a").path, operator: "x")
        try Checkpointer(database: SQLiteDatabase(pool: county.pool), key: key, origin: key.name).sign()
        let archived = try verify(county, against: offsite)
        #expect(archived.ok && archived.signedSize == 4, "\(archived.problems)")
    }

    @Test("editing one field is detected and the sequence number named")
    func editedField() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 30, checkpointEvery: 10, key: key)
        try breakIn(database)
        try await database.pool.write { db in
            try db.execute(sql: "UPDATE log SET entry = replace(entry, '\"effect\":\"deny\"', '\"effect\":\"allow\"') WHERE seq = 12")
        }
        let report = try verify(database)
        #expect(!report.ok)
        #expect(report.firstBadSeq == 12)
    }

    @Test("bytes after a NUL, or bytes not UTF-8, in an entry are not read past: the log does not verify", arguments: [
        "entry || char(0) || 'junk'", "CAST(CAST(entry AS BLOB) || x'FF' AS TEXT)",
    ])
    func entryReadWhole(edit: String) async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 30, checkpointEvery: 10, key: key)
        try breakIn(database)
        try await database.pool.write { db in try db.execute(sql: "UPDATE log SET entry = \(edit) WHERE seq = 12") }
        do {
            let report = try verify(database)
            Issue.record("the log was read: ok \(report.ok)")
        } catch let error as StoreError {
            #expect(error.message.contains("holds text that is not UTF-8 or holds a NUL byte"), "\(error.message)")
        }
    }

    @Test("editing a field and its stored leaf hash is still caught by the signed checkpoint")
    func editedFieldAndHash() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 30, checkpointEvery: 10, key: key)
        try breakIn(database)
        try await database.pool.write { db in
            let entry = try String.fetchOne(db, sql: "SELECT entry FROM log WHERE seq = 12")!.replacingOccurrences(of: "\"effect\":\"deny\"", with: "\"effect\":\"allow\"")
            try db.execute(sql: "UPDATE log SET entry = ?, leaf_hash = ? WHERE seq = 12", arguments: [entry, Data(LogLeaf.hash(kind: "decision", entry: Array(entry.utf8)))])
        }
        let report = try verify(database)
        #expect(!report.ok)
        #expect(report.problems.contains { $0.contains("checkpoint 2 (size 20) does not match") })
        #expect(report.firstBadSeq.map { $0 <= 20 } == true)
    }

    @Test("deleting a row is detected at its sequence number")
    func deletedRow() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 30, checkpointEvery: 10, key: key)
        try breakIn(database)
        try await database.pool.write { try $0.execute(sql: "DELETE FROM log WHERE seq = 7") }
        let report = try verify(database)
        #expect(!report.ok)
        #expect(report.firstBadSeq == 7)
        #expect(report.problems.contains { $0.contains("seq 7 is missing") })
    }

    /// An attacker's pass: an index rebuilt without one entry, its definition then written back, hid that entry from
    /// the report's and a ranged export's reads, while the log, read in order, verified.
    @Test("an index that lacks an entry does not verify, and reports and ranged exports refuse to read through it")
    func indexWithoutAnEntry() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 8, checkpointEvery: 4, key: key)
        let since = ExportFilter(from: Date(timeIntervalSinceNow: -3600))
        let period = try #require(ReportPeriod(String(Timestamp.format(Date()).prefix(7)), timeZone: TimeZone(identifier: "UTC")!))
        let intact = SQLiteDatabase(pool: database.pool)
        #expect(try verify(database).ok)
        #expect(try LogExporter(database: intact).forEachRow(since) { _ in } == 8)
        #expect(try ReportBuilder.entries(database: intact, period: period, timeZone: .gmt, treeSize: 8).requests.count == 4)
        try await database.pool.writeWithoutTransaction { db in
            try db.execute(sql: "DROP INDEX log_time_kind")
            try db.execute(sql: "CREATE INDEX log_time_kind ON log(time, kind) WHERE seq <> 4")
            try db.execute(sql: "PRAGMA writable_schema = ON")
            try db.execute(sql: "UPDATE sqlite_master SET sql = 'CREATE INDEX log_time_kind ON log(time, kind)' WHERE name = 'log_time_kind'")
            try db.execute(sql: "PRAGMA writable_schema = OFF")
        }
        let altered = SQLiteDatabase(pool: try StoreDatabase.openPool(path: database.path))
        let report = try LogVerifier(key: key.verifier).verify(database: altered, against: nil)
        #expect(!report.ok)
        #expect(report.problems.contains { $0.contains("integrity check") && $0.contains("log_time_kind") }, "\(report.problems)")
        #expect(throws: StoreError.self) { try LogExporter(database: altered).forEachRow(since) { _ in } }
        #expect(throws: StoreError.self) { try ReportBuilder.entries(database: altered, period: period, timeZone: .gmt, treeSize: 8).requests }
    }

    @Test("truncating the tail is detected by the last checkpoint")
    func truncatedTail() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 30, checkpointEvery: 10, key: key)
        try breakIn(database)
        try await database.pool.write { try $0.execute(sql: "DELETE FROM log WHERE seq > 25") }
        let report = try verify(database)
        #expect(!report.ok)
        #expect(report.problems.contains { $0.contains("covers 30 entries but the log has only 25") })
        #expect(report.firstBadSeq == 26)
    }

    /// Cut back to an earlier checkpoint, checkpoints and all: every stored checkpoint matches, so only the key's record
    /// of what it signed last shows the entries were there.
    @Test("a log cut back below the key's record of its last checkpoint does not verify")
    func cutBelowLastSigned() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 30, checkpointEvery: 10, key: key)
        let last = try #require(try await database.pool.read { db in try String.fetchOne(db, sql: "SELECT note FROM checkpoints ORDER BY id DESC LIMIT 1") })
        try await database.pool.write { db in
            for trigger in ["checkpoints_append_only_delete", "log_is_append_only_delete", "merkle_nodes_append_only_delete"] {
                try db.execute(sql: "DROP TRIGGER \(trigger)")
            }
            try db.execute(sql: "DELETE FROM checkpoints WHERE size > 10")
            try db.execute(sql: "DELETE FROM log WHERE seq > 10")
        }
        let withoutRecord = try verify(database)
        let cut = try LogVerifier(key: key.verifier).verify(database: SQLiteDatabase(pool: database.pool), against: nil, lastSigned: last)
        #expect(!cut.ok)
        #expect(cut.problems.contains { $0.contains("the signing key's record of the last checkpoint it signed covers 30 entries but the log has only 10") }, "\(cut.problems)")
        #expect(withoutRecord.ok, "\(withoutRecord.problems)")
    }

    /// Rows no append wrote pass every root check (the root at the log's size never reads them), and then collide with
    /// the next append's rows or stop the signer.
    @Test("a stored node of an unfinished subtree, or an archived leaf past the archived entries, does not verify",
          arguments: ["INSERT INTO merkle_nodes (level, idx, hash) VALUES (8, 1, zeroblob(32))",
                      "INSERT INTO archived_leaves (seq, leaf_hash) VALUES (380, zeroblob(32))"])
    func strayRows(insert: String) async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 300, checkpointEvery: 100, key: key)
        #expect(try verify(database).ok)
        try await database.pool.write { try $0.execute(sql: insert) }
        let report = try verify(database)
        #expect(!report.ok)
        #expect(report.problems.contains { $0.contains("the stored tree holds") }, "\(report.problems)")
    }

    /// The columns are read in the note's place (reports, proofs, the next signing), and nothing signs them.
    @Test("a checkpoint row whose size or root column is not its note's does not verify, and is not read")
    func checkpointColumns() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 30, checkpointEvery: 10, key: key)
        try await database.pool.write { db in
            try db.execute(sql: "DROP TRIGGER checkpoints_append_only_update")
            try db.execute(sql: "UPDATE checkpoints SET size = 4 WHERE id = 3")
        }
        let report = try verify(database)
        #expect(report.problems.contains { $0.contains("checkpoint 3's size and root columns are not those its signed note states (30 entries)") }, "\(report.problems)")
        let checkpointer = Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name)
        #expect(throws: StoreError.self) { try checkpointer.sign(always: true) }
    }

    /// The forger keeps the deleted entries' leaf hashes, so every checkpoint still matches, and appends the record
    /// `log archive` would have (with a latest time that keeps reports from warning). Only the log's key could sign it.
    @Test("entries deleted behind a log.archive record that the log's key did not sign do not verify; one it signed does")
    func forgedArchiveRecord() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 30, checkpointEvery: 10, key: key)
        let root = try await database.pool.read { db in try LogAppender.root(SQLiteSession(db: db), size: 20) }
        let statement = ArchiveStatement(
            fromSeq: 1, throughSeq: 20, root: root, latestTime: "2025-11-30T23:59:59.000Z", before: "2025-12-01T00:00:00.000Z", archiveSHA256: String(repeating: "0", count: 64)
        )
        func forge(signature: String?) async throws -> VerificationReport {
            let forged = try TemporaryDatabase()
            try database.pool.backup(to: forged.pool)
            try await forged.pool.write { db in
                try Self.archiveByHand(db, through: 20)
                var details = statement.details
                details["signature"] = signature
                try Registry.appendAdmin(SQLiteSession(db: db), AdminRecord(
                    time: Timestamp.format(Date()), operator: "x", action: "log.archive", target: "log", details: details
                ))
            }
            return try verify(forged)
        }
        let unsigned = try await forge(signature: nil)
        #expect(unsigned.problems.contains { $0.contains("is not signed by the log's key") }, "\(unsigned.problems)")
        let otherKey = try await forge(signature: try statement.signature(by: LogSigningKey(name: key.name)))
        #expect(otherKey.problems.contains { $0.contains("is not signed by the log's key") }, "\(otherKey.problems)")
        let signed = try await forge(signature: try statement.signature(by: key))
        #expect(signed.ok, "\(signed.problems)")
    }

    /// A log archived before `log archive` signed its records: its latest record states no signed archive, so `log
    /// verify` refuses it alone, accepts it with the archives, and accepts it alone again once they vouch for it.
    @Test("an archive record from before signing: verified with its archives, then vouched for by them")
    func vouchedArchives() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 30, checkpointEvery: 10, key: key)
        let archive = database.directory.appendingPathComponent("old.archive").path
        let sqlite = SQLiteDatabase(pool: database.pool)
        #expect(try LogArchive.archive(database: sqlite, before: Date().addingTimeInterval(60), key: key, path: archive, operator: "records") == 30)
        try await database.pool.write { db in
            try Registry.appendAdmin(SQLiteSession(db: db), AdminRecord(
                time: Timestamp.format(Date()), operator: "records", action: "log.archive", target: "log",
                details: ["fromSeq": "1", "throughSeq": "30", "before": "2026-01-01T00:00:00.000Z", "file": archive]
            ))
        }
        #expect(try verify(database).problems.contains { $0.contains("does not state their archive") })
        let withArchive = try LogVerifier(key: key.verifier).verify(database: sqlite, archives: [archive], against: nil)
        #expect(withArchive.ok, "\(withArchive.problems)")

        let elsewhere = try TemporaryDatabase()
        try await buildLog(elsewhere, count: 30, checkpointEvery: 10, key: key)
        let foreign = elsewhere.directory.appendingPathComponent("foreign.archive").path
        try LogArchive.archive(database: SQLiteDatabase(pool: elsewhere.pool), before: Date().addingTimeInterval(60), key: key, path: foreign, operator: "x")
        #expect(throws: StoreError.self, "another log's archive vouches for nothing here") { try LogArchive.vouch(database: sqlite, key: key, archives: [foreign], operator: "x") }

        let statement = try LogArchive.vouch(database: sqlite, key: key, archives: [archive], operator: "records")
        #expect(statement.throughSeq == 30 && statement.latestTime != nil)
        let archived = try await database.pool.read { db in
            try String.fetchOne(db, sql: "SELECT entry FROM log WHERE kind = 'admin' AND entry LIKE '%log.archive%' ORDER BY seq LIMIT 1")
        }
        let written = try #require(archived.map { try AdminRecord(entry: $0) })
        #expect(statement.archiveSHA256 == written.details["sha256"], "the digest of the bytes verified is the one `log archive` wrote")
        let vouched = try verify(database)
        #expect(vouched.ok, "\(vouched.problems)")
    }

    /// Roots and proofs read the stored node over each 256 entries, not their leaves, and a root past 512 entries the
    /// node over 512. An archived entry's kept hash, or a stored node no root read, could be altered: the log verified
    /// with its archives, and a vouch signed the stored root over the archived entries.
    @Test("an altered hash kept of an archived entry does not verify with the archives, and the archives do not vouch for it")
    func alteredArchivedLeaf() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 400, checkpointEvery: 100, key: key)
        let sqlite = SQLiteDatabase(pool: database.pool)
        let cutoff = try #require(try await database.pool.read { db in try String.fetchOne(db, sql: "SELECT time FROM log WHERE seq = 301") })
        let archive = database.directory.appendingPathComponent("old.archive").path
        let archived = try LogArchive.archive(database: sqlite, before: try #require(Timestamp.parse(cutoff)), key: key, path: archive, operator: "records")
        #expect(archived > 256, "an archived entry inside the first stored node")
        #expect(try LogVerifier(key: key.verifier).verify(database: sqlite, archives: [archive], against: nil).ok)

        try await database.pool.write { try $0.execute(sql: "UPDATE archived_leaves SET leaf_hash = zeroblob(32) WHERE seq = 5") }
        let report = try LogVerifier(key: key.verifier).verify(database: sqlite, archives: [archive], against: nil)
        #expect(report.problems == ["the hash the database keeps of archived seq 5 is not its entry's (1 such in all): proofs of them would not verify"])
        #expect(report.firstBadSeq == 5)
        #expect(throws: StoreError.self) { try LogArchive.vouch(database: sqlite, key: key, archives: [archive], operator: "records") }

        // A kept hash stored as text, which SQLite's column accepts, is reported as altered too, not an error.
        try await database.pool.write { try $0.execute(sql: "UPDATE archived_leaves SET leaf_hash = 'text' WHERE seq = 7") }
        let text = try LogVerifier(key: key.verifier).verify(database: sqlite, archives: [archive], against: nil)
        #expect(text.problems == ["the hash the database keeps of archived seq 5 is not its entry's (2 such in all): proofs of them would not verify"])
    }

    @Test("a stored node that no root reads, altered, does not verify")
    func alteredStoredNode() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 600, checkpointEvery: 100, key: key)
        #expect(try verify(database).ok)
        try await database.pool.write { db in
            try db.execute(sql: "DROP TRIGGER merkle_nodes_append_only_update")
            try db.execute(sql: "UPDATE merkle_nodes SET hash = zeroblob(32) WHERE level = 8 AND idx = 1")
        }
        let report = try verify(database)
        #expect(report.problems == ["the stored tree's node at level 8, index 1 is not the one the entries make (1 such in all): proofs through them would not verify"])
        #expect(report.firstBadSeq == 257)
    }

    /// The verifier reads the stored nodes a run of indices of a level at a time, so that a large log on PostgreSQL
    /// takes a read or two a level instead of a round trip a node.
    @Test("stored nodes are read a run to a read, and are the nodes read one by one, in order and out of it")
    func storedNodesInRuns() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 2_100, checkpointEvery: 1_000, key: key)
        let stored = try await database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT level, idx, hash FROM merkle_nodes").map { row in
                (level: row["level"] as Int, index: UInt64(row["idx"] as Int64), hash: [UInt8](row["hash"] as Data))
            }
        }
        #expect(stored.count == 15, "levels 8 to 11 over 2,100 entries: 8, 4, 2 and 1 nodes")
        // As the verifier asks: each node when its last entry is read, so each level's in increasing index.
        func completedAt(_ node: (level: Int, index: UInt64, hash: [UInt8])) -> UInt64 { (node.index + 1) << UInt64(node.level) }
        let asked = stored.sorted { completedAt($0) < completedAt($1) }
        try SQLiteDatabase(pool: database.pool).read { (session: any SQLSession) throws -> Void in
            var nodes = StoredNodes(session: session, runLength: 3)
            for node in asked { #expect(try nodes.hash(level: node.level, index: node.index) == node.hash) }
            for node in asked.reversed() { #expect(try nodes.hash(level: node.level, index: node.index) == node.hash, "behind the run read last") }
            #expect(try nodes.hash(level: 8, index: 8) == nil)
            #expect(try nodes.hash(level: 12, index: 0) == nil)
            #expect(try nodes.hash(level: 8, index: UInt64.max) == nil)
            #expect(try nodes.hash(level: 8, index: UInt64(Int64.max)) == nil)
        }
        // One read a run: the default run reads each level once; runs of 3 read level 8 (8 nodes) three times, level 9
        // (4 nodes) twice, levels 10 and 11 once each; runs of 1, one read a node.
        for (runLength, reads) in [(UInt64(4096), 4), (3, 7), (1, 15)] {
            try SQLiteDatabase(pool: database.pool).read { (session: any SQLSession) throws -> Void in
                let counting = ReadCountingSession(base: session)
                var nodes = StoredNodes(session: counting, runLength: runLength)
                for node in asked { _ = try nodes.hash(level: node.level, index: node.index) }
                #expect(counting.reads == reads, "runs of \(runLength)")
            }
        }
        // `log verify` reads them so too: one run a level, and no node alone.
        let counting = ReadCountingDatabase(base: SQLiteDatabase(pool: database.pool))
        #expect(try LogVerifier(key: key.verifier).verify(database: counting, against: nil).ok)
        let statements = counting.sessions.flatMap(\.statements)
        #expect(statements.filter { $0.contains("FROM merkle_nodes WHERE level = ? AND idx BETWEEN") }.count == 4)
        let alone = statements.filter { $0.contains("FROM merkle_nodes WHERE level = ? AND idx = ?") }
        #expect(alone.count <= 2, "only the nodes the root and the right edge read: \(alone)")

        // Rows that are no nodes, beside the nodes: an index that is no whole number, a hash that is no blob. A run
        // leaves them out, and they push no node out of it; the log is reported as holding them, not left unverified
        // by an error.
        try await database.pool.write { db in
            try db.execute(sql: "INSERT INTO merkle_nodes (level, idx, hash) VALUES (8, 1.5, x'00'), (9, 7, 'text')")
        }
        let levelEight = stored.filter { $0.level == 8 }.sorted { $0.index < $1.index }.map(\.hash)
        try SQLiteDatabase(pool: database.pool).read { (session: any SQLSession) throws -> Void in
            var nodes = StoredNodes(session: session, runLength: 3)
            #expect(try nodes.hash(level: 8, index: 1) == levelEight[1])
            #expect(try nodes.hash(level: 8, index: 2) == levelEight[2])
            #expect(try nodes.hash(level: 8, index: 3) == levelEight[3], "not pushed out of the run 1…3 by the row at 1.5")
            #expect(try nodes.hash(level: 8, index: 4) == levelEight[4], "read in the next run")
            #expect(try nodes.hash(level: 9, index: 7) == nil)
        }
        let report = try verify(database)
        #expect(report.problems.contains(
            "the stored tree holds a node whose index is no whole number: rows written outside the log's appends, which would stop its next appends or checkpoints"
        ), "\(report.problems)")
        #expect(!report.ok)
    }

    /// A PostgreSQL pass: a gateway whose clock ran 400 days behind logged entries the archive role could then delete
    /// at once, since retention judges each entry by its own time; the log verified without a word.
    @Test("entries stating a time days before the entries logged ahead of them are named, though the log verifies")
    func backdatedEntries() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 5, checkpointEvery: 5, key: key)
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        let then = Date().addingTimeInterval(-400 * 86400)
        for index in 6...7 {
            let record = DecisionRecord(
                decisionId: "d-\(index)", time: Timestamp.format(then), component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=x",
                agency: "denver-pd", category: "local-law-enforcement", method: "GET", path: "/records/inmates/2017-000123", action: "records.read",
                subject: "2017-000123", warrantReference: nil, effect: .allow, reason: "permitted", rules: [], obligations: [], policy: "denver",
                policyDigest: "00", status: nil
            )
            try await log.append([LogEntry(kind: .decision, time: then, decisionId: record.decisionId, canonical: record.canonical)])
        }
        log.close()
        await writer.value
        let report = try verify(database)
        #expect(report.ok, "\(report.problems)")
        #expect(report.backdated?.count == 2 && report.backdated?.first == 6, "\(String(describing: report.backdated))")
        let fresh = try TemporaryDatabase()
        try await buildLog(fresh, count: 5, checkpointEvery: 5, key: key)
        #expect(try verify(fresh).backdated == nil, "a log in time order names none")
    }

    @Test("reordering rows is detected")
    func reordered() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 30, checkpointEvery: 10, key: key)
        try breakIn(database)
        try await database.pool.write { db in
            let a = try Row.fetchOne(db, sql: "SELECT entry, leaf_hash FROM log WHERE seq = 4")!
            let b = try Row.fetchOne(db, sql: "SELECT entry, leaf_hash FROM log WHERE seq = 5")!
            try db.execute(sql: "UPDATE log SET entry = ?, leaf_hash = ? WHERE seq = 4", arguments: [b["entry"] as String, b["leaf_hash"] as Data])
            try db.execute(sql: "UPDATE log SET entry = ?, leaf_hash = ? WHERE seq = 5", arguments: [a["entry"] as String, a["leaf_hash"] as Data])
        }
        let report = try verify(database)
        #expect(!report.ok)
        #expect(report.firstBadSeq.map { $0 <= 10 } == true)
    }

    @Test("a whole log replaced by another validly hashed one is caught by the key and by a checkpoint held elsewhere")
    func replacedLog() async throws {
        let real = try TemporaryDatabase()
        try await buildLog(real, count: 20, checkpointEvery: 10, key: key)
        let offsite = try #require(try await real.pool.read { try Checkpointer.latest(SQLiteSession(db: $0)) }).note

        let forgery = try TemporaryDatabase()
        let forger = LogSigningKey(name: key.name)
        try await buildLog(forgery, count: 20, checkpointEvery: 10, key: forger)
        // The forger's own key makes the forged log verify on its own terms…
        #expect(try verify(forgery, key: forger.verifier).ok)
        // …but not against the real key, nor against the checkpoint held off the machine.
        #expect(!(try verify(forgery)).ok)
        let against = try verify(forgery, against: offsite, key: forger.verifier)
        #expect(!against.ok)
        #expect(against.problems.contains { $0.contains("the checkpoint held elsewhere") })
        #expect(try verify(real, against: offsite).ok)
    }

    @Test("the signer refuses a checkpoint inconsistent with the previous one: an edited leaf hash, or an edited stored node", arguments: [
        (entries: 20, edit: "UPDATE log SET leaf_hash = zeroblob(32) WHERE seq = 3", trigger: "log_is_append_only_update"),
        // 260 entries: the root over the first 256 is the stored node at level 8.
        (entries: 260, edit: "UPDATE merkle_nodes SET hash = zeroblob(32) WHERE level = 8 AND idx = 0", trigger: "merkle_nodes_append_only_update"),
    ])
    func noInconsistentCheckpoint(entries: Int, edit: String, trigger: String) async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: entries, checkpointEvery: entries, key: key)
        try await database.pool.write { db in
            try db.execute(sql: "DROP TRIGGER \(trigger)")
            try db.execute(sql: edit)
        }
        let checkpointer = Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name)
        #expect(throws: StoreError.self) { try checkpointer.sign(always: true) }
        #expect(!(try verify(database)).ok)
    }

    /// An auditor's pass: with checkpoints deleted and the log cut back behind them, the signer trusted the database's
    /// latest checkpoint and signed a fork of what it had signed before.
    @Test("a signer refuses to sign while the database lacks the last checkpoint it signed; a deliberate rollback records another")
    func lastSignedRecord() async throws {
        let database = try TemporaryDatabase()
        let lastSigned = LastSignedCheckpoint(path: database.directory.appendingPathComponent("log-signing.key.last-signed").path)
        try await buildLog(database, count: 20, checkpointEvery: 10, key: key)
        let checkpointer = Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name, lastSigned: lastSigned)
        let signed = try #require(try checkpointer.sign(always: true))
        #expect(try lastSigned.read(key: key.verifier)?.size == 20)
        #expect((try FileManager.default.attributesOfItem(atPath: lastSigned.path)[.posixPermissions] as? Int) == 0o644)
        // A smaller checkpoint, from a signer that finished later, does not replace it.
        let first = try await database.pool.read { db in try String.fetchOne(db, sql: "SELECT note FROM checkpoints ORDER BY id LIMIT 1") }
        try lastSigned.record(try #require(first))
        #expect(try lastSigned.read(key: key.verifier)?.size == 20)

        try await database.pool.write { db in
            for trigger in ["checkpoints_append_only_delete", "log_is_append_only_delete", "merkle_nodes_append_only_delete"] {
                try db.execute(sql: "DROP TRIGGER \(trigger)")
            }
            try db.execute(sql: "DELETE FROM checkpoints WHERE size > 10")
            try db.execute(sql: "DELETE FROM log WHERE seq > 10")
            // A decoy, as an attacker with the owner's rights made one: a row copying the note this key signed last (it
            // is public), though the log no longer holds it, then a copy of the checkpoint the log now ends at.
            try db.execute(
                sql: "INSERT INTO checkpoints (id, size, root, note, time) VALUES ((SELECT max(id) + 1 FROM checkpoints), ?, ?, ?, ?)",
                arguments: [Int64(signed.size), Data(signed.root), signed.note, signed.time]
            )
            try db.execute(sql: """
                INSERT INTO checkpoints (id, size, root, note, time)
                SELECT (SELECT max(id) + 1 FROM checkpoints), size, root, note, time FROM checkpoints WHERE size = 10
                """)
        }
        let refused = #expect(throws: StoreError.self) { try checkpointer.sign(always: true) }
        #expect(refused?.description.contains("this key last signed a checkpoint of 20 entries") == true, "\(String(describing: refused))")
        #expect(try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM checkpoints WHERE size > 20") } == 0)

        // Recorded anew, as `restore --allow-rollback` does, signing goes on from the restored checkpoint.
        try lastSigned.record(try #require(first), replacingLarger: true)
        #expect(try lastSigned.read(key: key.verifier)?.size == 10)
        #expect(try checkpointer.sign(always: true)?.size == 10 && signed.size == 20)
        // A record that is not this key's checkpoint stops the signer rather than being ignored.
        try "not a checkpoint".write(toFile: lastSigned.path, atomically: true, encoding: .utf8)
        #expect(throws: StoreError.self) { try checkpointer.sign(always: true) }
    }

    /// A review of several gateways: each host's record held only the checkpoints it signed itself. After another
    /// host signed further and the database lost that tail (a failover to a standby behind it), the host signed a fork;
    /// and a host that followed a fork another host had signed at its own record's size signed on top of it.
    @Test("a signer records the larger checkpoints other hosts signed with its key, and refuses one that does not extend its record")
    func lastSignedAcrossHosts() async throws {
        let database = try TemporaryDatabase()
        func host(_ name: String) -> (Checkpointer, LastSignedCheckpoint) {
            let record = LastSignedCheckpoint(path: database.directory.appendingPathComponent("\(name).last-signed").path)
            return (Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name, lastSigned: record), record)
        }
        let ((a, recordA), (b, recordB), (c, _)) = (host("a"), host("b"), host("c"))
        try await buildLog(database, count: 10, checkpointEvery: 1_000, key: key)
        #expect(try a.sign()?.size == 10)
        try await buildLog(database, count: 10, checkpointEvery: 1_000, key: key)
        #expect(try b.sign()?.size == 20 && (try recordB.read(key: key.verifier))?.size == 20)
        #expect(try a.sign() == nil, "nothing new to sign")
        #expect(try recordA.read(key: key.verifier)?.size == 20, "host A records host B's checkpoint")

        // The tail after 10 is lost, and the log grows again from there: a second history.
        try await database.pool.write { db in
            for trigger in ["checkpoints_append_only_delete", "log_is_append_only_delete", "merkle_nodes_append_only_delete"] {
                try db.execute(sql: "DROP TRIGGER \(trigger)")
            }
            try db.execute(sql: "DELETE FROM checkpoints WHERE size > 10")
            try db.execute(sql: "DELETE FROM log WHERE seq > 10")
            try db.execute(sql: "DELETE FROM merkle_nodes WHERE (idx + 1) << level > 10")
        }
        try await buildLog(database, count: 10, checkpointEvery: 1_000, key: key)
        let refused = #expect(throws: StoreError.self) { try a.sign(always: true) }
        #expect(refused?.description.contains("this key last signed a checkpoint of 20 entries") == true, "\(String(describing: refused))")
        // A host that never signed cannot tell; one that remembers the first history refuses to follow the second.
        #expect(try c.sign()?.size == 20)
        try await buildLog(database, count: 5, checkpointEvery: 1_000, key: key)
        let followed = #expect(throws: StoreError.self) { try a.sign() }
        #expect(followed?.description.contains("this key last signed a checkpoint of 20 entries") == true, "\(String(describing: followed))")
        #expect(try recordA.read(key: key.verifier)?.size == 20)
    }

    /// A review of the PostgreSQL store: a role that may append can write a batch whose frontier is right but one of
    /// whose stored nodes, off the right edge, is not. The signer checked the right edge and the root only, and signed;
    /// `log prove` then handed out proofs through that node that led nowhere, for honest entries beside it too.
    @Test("a signer refuses a stored node the entries do not make, and no proof is made through one")
    func storedNodesOffTheEdge() async throws {
        let database = try TemporaryDatabase()
        // 600 entries: the right edge is the level-9 node over 1…512, then 64, 16 and 8; level 8's node 1 is under it.
        try await buildLog(database, count: 600, checkpointEvery: 1_000, key: key)
        let genuine = try #require(try await database.pool.read { db in
            try Data.fetchOne(db, sql: "SELECT hash FROM merkle_nodes WHERE level = 8 AND idx = 1")
        })
        func setNode(_ hash: Data) async throws {
            try await database.pool.write { db in
                try db.execute(sql: "UPDATE merkle_nodes SET hash = ? WHERE level = 8 AND idx = 1", arguments: [hash])
            }
        }
        try await database.pool.write { db in try db.execute(sql: "DROP TRIGGER merkle_nodes_append_only_update") }
        try await setNode(Data(repeating: 7, count: 32))
        let checkpointer = Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name)
        let refused = #expect(throws: StoreError.self) { try checkpointer.sign() }
        #expect(refused?.description.contains("stored node at level 8, index 1 is not the one the entries make") == true, "\(String(describing: refused))")

        try await setNode(genuine)
        #expect(try checkpointer.sign()?.size == 600)
        // A proof of an entry in 1…256 climbs through the node over 257…512.
        let proven = try InclusionProofFile.make(database: SQLiteDatabase(pool: database.pool), decisionId: "d-100")
        #expect(try proven.verify(key: key.verifier).size == 600)
        try await setNode(Data(repeating: 7, count: 32))
        let unproven = #expect(throws: StoreError.self) { try InclusionProofFile.make(database: SQLiteDatabase(pool: database.pool), decisionId: "d-100") }
        #expect(unproven?.description.contains("the stored tree does not prove decision d-100") == true, "\(String(describing: unproven))")
    }

    /// An attacker's pass on PostgreSQL: the owner rewrote an entry the key had signed, rebuilt the stored tree over the
    /// rewritten log but for the one node inside the signed checkpoint's root, grew the log past that node and deleted
    /// every checkpoint; the signer, asking the stored tree for the root at the size it remembered, signed the fork.
    @Test("a signer checks the checkpoint it last signed against entries hashed anew, never against stored nodes")
    func lastSignedAgainstEntries() async throws {
        let database = try TemporaryDatabase()
        let lastSigned = LastSignedCheckpoint(path: database.directory.appendingPathComponent("log-signing.key.last-signed").path)
        // 300 entries: the root at 300 uses the stored node over entries 1…256 (level 8).
        try await buildLog(database, count: 300, checkpointEvery: 300, key: key)
        let checkpointer = Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name, lastSigned: lastSigned)
        #expect(try checkpointer.sign(always: true)?.size == 300)

        // The whole log read out, entry 5 turned from a refusal into an allow, and 220 more entries: past 512, where
        // the tree's root no longer uses the node over 1…256.
        var rows = try await database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT kind, time, decision_id, entry FROM log ORDER BY seq").map { row -> LogEntry in
                let kind: String = row["kind"], time: String = row["time"], entry: String = row["entry"]
                return LogEntry(kind: LogKind(rawValue: kind)!, time: Timestamp.parse(time)!, decisionId: row["decision_id"], canonical: Array(entry.utf8))
            }
        }
        let forged = String(decoding: rows[3].canonical, as: UTF8.self)
            .replacingOccurrences(of: #""effect":"deny""#, with: #""effect":"allow""#)
        #expect(forged != String(decoding: rows[3].canonical, as: UTF8.self))
        rows[3] = LogEntry(kind: rows[3].kind, time: rows[3].time, decisionId: rows[3].decisionId, canonical: Array(forged.utf8))
        rows += (0..<220).map { index in
            let record = DecisionRecord(
                decisionId: "e-\(index)", time: Timestamp.format(Date()), component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=x",
                agency: "denver-pd", category: "local-law-enforcement", method: "GET", path: "/records/inmates/2017-000123", action: "records.read",
                subject: "2017-000123", warrantReference: nil, effect: .allow, reason: "permitted", rules: [], obligations: [], policy: "denver",
                policyDigest: "00", status: nil
            )
            return LogEntry(kind: .decision, time: Date(), decisionId: record.decisionId, canonical: record.canonical)
        }
        let genuineNode = try await database.pool.read { db in try Data.fetchOne(db, sql: "SELECT hash FROM merkle_nodes WHERE level = 8 AND idx = 0") }
        try await database.pool.write { db in
            for trigger in ["log_is_append_only_delete", "merkle_nodes_append_only_delete", "merkle_nodes_append_only_update", "checkpoints_append_only_delete"] {
                try db.execute(sql: "DROP TRIGGER \(trigger)")
            }
            for table in ["log", "merkle_nodes", "checkpoints"] { try db.execute(sql: "DELETE FROM \(table)") }
        }
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        try await log.append(rows)
        log.close()
        await writer.value
        try await database.pool.write { db in
            try db.execute(sql: "UPDATE merkle_nodes SET hash = ? WHERE level = 8 AND idx = 0", arguments: [genuineNode])
        }

        // The genuine node put back is not the one the rewritten entries make: the signer, hashing them anew, stops
        // there, before it reaches the size it remembers.
        let refused = #expect(throws: StoreError.self) { try checkpointer.sign(always: true) }
        #expect(refused?.description.contains("stored node at level 8, index 0 is not the one the entries make") == true, "\(String(describing: refused))")
        #expect(try lastSigned.read(key: key.verifier)?.size == 300)
    }

    /// An attacker's pass: two gateways given different keys alternated checkpoints in one chain, which then verified
    /// with neither key.
    @Test("a signer refuses to add a checkpoint after one another key signed")
    func oneKeyPerChain() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 10, checkpointEvery: 10, key: key)
        let other = LogSigningKey(name: key.name)
        let checkpointer = Checkpointer(database: SQLiteDatabase(pool: database.pool), key: other, origin: other.name)
        let refused = #expect(throws: StoreError.self) { try checkpointer.sign(always: true) }
        #expect(refused?.description.contains("the latest checkpoint (1) was not signed by this key") == true, "\(String(describing: refused))")
        #expect(try verify(database).ok)
    }

    /// The signer reads entries where SQLite holds them, not as GRDB's Strings (which end at a NUL and repair bad
    /// UTF-8), so it checks itself that it signs only what the log's readers read, byte for byte.
    /// Entries appended after the last checkpoint: their bytes, how the INSERT stores them, and whether the signer may sign.
    static let appendedEntries: [(entry: [UInt8], storedAs: String, signs: Bool)] = {
        let text = "CAST(? AS TEXT)"
        let accented = DecisionRecord(
            decisionId: "d-21", time: "2026-12-04T00:00:00Z", component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=Peña, 𝄞 ✓ Łódź",
            agency: "denver-pd", category: "local-law-enforcement", method: "GET", path: "/records/inmates/2017-000123", action: "records.read",
            subject: "2017-000123", warrantReference: nil, effect: .allow, reason: "permitted", rules: [], obligations: [], policy: "denver",
            policyDigest: "00", status: nil
        )
        let (open, close): ([UInt8], [UInt8]) = (Array(#"{"note":""#.utf8), Array(#""}"#.utf8))
        return [
            (open + [0x61, 0x00, 0x62] + close, text, false),  // a NUL, where GRDB's String of it ends
            (open + [0xff] + close, text, false),
            (open + [0xc0, 0xaf] + close, text, false),  // an overlong '/'
            (open + [0x6f, 0x6b] + close, "?", false),  // a blob, not text
            (accented.canonical, text, true),
        ]
    }()

    @Test("the signer refuses an appended entry its readers would read otherwise, and signs UTF-8 past ASCII", arguments: appendedEntries)
    func signerReadsEntriesAsStored(entry: [UInt8], storedAs: String, signs: Bool) async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 20, checkpointEvery: 20, key: key)
        try await database.pool.write { db in
            try db.execute(
                sql: "INSERT INTO log (seq, kind, time, decision_id, entry, leaf_hash) VALUES (21, 'decision', '2026-12-04T00:00:00Z', 'd-21', \(storedAs), ?)",
                arguments: [Data(entry), Data(LogLeaf.hash(kind: "decision", entry: entry))]
            )
        }
        let checkpointer = Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name)
        if signs {
            #expect(try checkpointer.sign()?.size == 21)
            let report = try verify(database)
            #expect(report.ok, "\(report.problems)")
        } else {
            #expect(throws: StoreError.self) { try checkpointer.sign() }
            #expect(try checkpointer.signedSize() == 20)
        }
    }

    @Test("UTF8Text.isValid agrees with Swift's decoding and refuses NUL, at every offset")
    func utf8Check() {
        var generator = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [[0x61], [0x00], [0xff], [0xc3, 0xb1], [0xc0, 0xaf], [0xe2, 0x9c, 0x93], [0xed, 0xa0, 0x80], [0xf0, 0x9d, 0x84, 0x9e], [0xf0, 0x9d]]
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...40, using: &generator) {
                bytes += Int.random(in: 0..<4, using: &generator) == 0 ? pieces.randomElement(using: &generator)! : [0x61]
            }
            let expected = !bytes.contains(0) && String(validating: bytes, as: UTF8.self) != nil
            #expect(bytes.withUnsafeBytes { UTF8Text.isValid($0) } == expected, "\(bytes)")
        }
    }

    @Test("an inclusion proof verifies with no database; a forged one does not")
    func proofs() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 25, checkpointEvery: 25, key: key)
        let proof = try InclusionProofFile.make(database: SQLiteDatabase(pool: database.pool), decisionId: "d-13")
        #expect(proof.seq == 13)
        #expect(try proof.verify(key: key.verifier).size == 25)
        var forgedEntry = proof
        forgedEntry.entry = proof.entry.replacingOccurrences(of: "\"effect\":\"allow\"", with: "\"effect\":\"deny\"")
        #expect(throws: CheckpointError.self) { try forgedEntry.verify(key: key.verifier) }
        var forgedPath = proof
        forgedPath.proof[0] = Data(repeating: 7, count: 32).base64EncodedString()
        #expect(throws: CheckpointError.self) { try forgedPath.verify(key: key.verifier) }
        var moved = proof
        moved.seq = 14
        #expect(throws: CheckpointError.self) { try moved.verify(key: key.verifier) }
        #expect(throws: CheckpointError.self) { try proof.verify(key: LogSigningKey(name: key.name).verifier) }
    }

    @Test("an auditor bundle verifies with no database, and a tampered bundle does not")
    func bundle() async throws {
        let database = try TemporaryDatabase()
        try await buildLog(database, count: 15, checkpointEvery: 5, key: key)
        let path = database.directory.appendingPathComponent("audit.bundle").path
        var text = ""
        try AuditBundle.write(database: SQLiteDatabase(pool: database.pool), verifierKey: key.verifier) { text += $0 }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try AuditBundle.verify(path: path, key: key.verifier, against: nil).ok)
        try text.replacingOccurrences(of: "d-9", with: "d-99").write(toFile: path, atomically: true, encoding: .utf8)
        let tampered = try AuditBundle.verify(path: path, key: key.verifier, against: nil)
        #expect(!tampered.ok)

        // An attacker's pass: a second "entry" member after the real one verified ("ok"), since the decoder took the
        // first, while jq, Python and JavaScript show the second. A key given twice, however spelled, is refused.
        let line = try #require(text.split(separator: "\n").dropFirst().first.map(String.init))
        for second in [#","entry":"{}"}"#, #","\u0065ntry":"{}"}"#] {
            let doubled = text.replacingOccurrences(of: line, with: String(line.dropLast()) + second)
            try doubled.write(toFile: path, atomically: true, encoding: .utf8)
            let report = try AuditBundle.verify(path: path, key: key.verifier, against: nil)
            #expect(!report.ok && report.problems.first?.contains("line 2 is not a log entry") == true, "\(second): \(report.problems)")
        }
    }

    @Test("the auditors' files refuse a member named twice at any depth, and nothing else")
    func uniqueKeys() throws {
        for refused in [#"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"verifierKey":"B","verifier\u212Aey":"A"}"#, "{\"e\u{301}\":1,\"\u{E9}\":2}", #"[{"x":{"b":[1,{"c":1,"c":2}]}}]"#, #"{"\ud83d\ude00":1,"😀":2}"#,
                        String(repeating: "[", count: 200) + String(repeating: "]", count: 200)] {
            #expect(throws: JSONError.self, "\(refused)") { try JSONFields.checkUniqueKeys(in: Array(refused.utf8)) }
        }
        // A second pass: Foundation's decoder skips a byte-order mark and reads UTF-16 and UTF-32, which the scanner
        // read as other bytes, stopping before the second key; and a stop short of the end passed quietly.
        let doubled = #"{"entry":"a","entry":"b"}"#
        for encoded in [[0xEF, 0xBB, 0xBF] + Array(doubled.utf8), Array(doubled.data(using: .utf16LittleEndian)!),
                        Array(doubled.data(using: .utf16BigEndian)!), Array(doubled.data(using: .utf32LittleEndian)!),
                        Array(#"{"a":1} {"a":2}"#.utf8), Array(#"{"a":1 "a":2}"#.utf8), Array(#"{"a":"#.utf8), Array(#"["#.utf8)] {
            #expect(throws: JSONError.self, "\(encoded.prefix(8))") { try JSONFields.checkUniqueKeys(in: encoded) }
        }
        for accepted in [#"{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":"\"a\":1,\"a\":2"}"#, #"{}"#, #"[]"#, #"{"a":"x\\","b":null}"#,
                         #" { "n" : -1.5e+3 , "t" : [ true , false , null , "é" ] } "#] {
            #expect(throws: Never.self, "\(accepted)") { try JSONFields.checkUniqueKeys(in: Array(accepted.utf8)) }
        }
    }

    /// The reader rescanned what it held on every read and kept it all: one 96 MiB line took 18 s, and /dev/zero as
    /// a bundle ran until it was killed.
    @Test("a bundle reader refuses a device, a link and a line past 16 MiB, and reads its lines across reads whole")
    func bundleReaderBounds() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-lines-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: PrivateFileError.self) { try AuditBundle.verify(path: "/dev/zero", key: key.verifier, against: nil) }
        let lines = directory.appendingPathComponent("lines").path
        let long = String(repeating: "x", count: 200_000)
        try ["a", "", long, "b", long + "y"].joined(separator: "\n").write(toFile: lines, atomically: true, encoding: .utf8)
        var reader = try LineReader(path: lines)
        var read: [String] = []
        while let line = try reader.next() { read.append(line) }
        #expect(read == ["a", "", long, "b", long + "y"])
        let link = directory.appendingPathComponent("link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: lines)
        #expect(throws: PrivateFileError.self) { try LineReader(path: link) }
        let huge = directory.appendingPathComponent("huge").path
        #expect(FileManager.default.createFile(atPath: huge, contents: Data(repeating: UInt8(ascii: "x"), count: LineReader.maximumLineBytes + 2)))
        var hugeReader = try LineReader(path: huge)
        #expect(throws: StoreError.self) { _ = try hugeReader.next() }
    }
}

@Suite("Retention: archives keep the tree whole")
struct ArchiveTests {
    @Test("archived entries leave the database, the tree stays consistent, and verification spans archive and database")
    func archive() async throws {
        let database = try TemporaryDatabase()
        let key = LogSigningKey(name: "test/log")
        try await buildLog(database, count: 20, checkpointEvery: 5, key: key)
        let cutoff = Date().addingTimeInterval(1)
        let checkpointer = Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name)
        try checkpointer.sign(always: true)
        // Entries after the cutoff.
        try await Task.sleep(for: .milliseconds(1100))
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: .gmt)
        for index in 0..<5 { try registry.recordAdminAction("test.after", target: "t\(index)", details: [:], operator: "test") }
        try checkpointer.sign()

        let path = database.directory.appendingPathComponent("old.archive").path
        let archived = try LogArchive.archive(database: SQLiteDatabase(pool: database.pool), before: cutoff, key: key, path: path, operator: "test")
        #expect(archived == 20)
        let remaining = try await database.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM log") }
        #expect(remaining == 6)  // five later entries and the archive's own record

        // New appends and checkpoints still work, and stay consistent with the old ones.
        try registry.recordAdminAction("test.later", target: "x", details: [:], operator: "test")
        #expect(try checkpointer.sign() != nil)

        let verifier = LogVerifier(key: key.verifier)
        #expect(try verifier.verify(database: SQLiteDatabase(pool: database.pool), archives: [path], against: nil).ok)
        #expect(try verifier.verify(database: SQLiteDatabase(pool: database.pool), against: nil).ok)

        // A tampered archive is caught.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: "\"effect\\\":\\\"deny", with: "\"effect\\\":\\\"allow").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(!(try verifier.verify(database: SQLiteDatabase(pool: database.pool), archives: [path], against: nil)).ok)
        // Rows not yet archived still cannot be deleted.
        await #expect(throws: DatabaseError.self) { try await database.pool.write { try $0.execute(sql: "DELETE FROM log") } }
    }
}
