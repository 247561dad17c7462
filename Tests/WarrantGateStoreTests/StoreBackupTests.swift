import Foundation
import GRDB
import Testing
import WarrantGateTestSupport
import WarrantGateCore
@testable import WarrantGateStore

/// A site's SQLite store in a temporary directory, with a log, signed checkpoints and scanned warrants.
private final class Site {
    let directory: URL
    let store: Store
    let key = Sample.key
    private(set) var appended = 0

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-backup-\(UUID().uuidString)")
        store = try Store.open(path: directory.appendingPathComponent("site/warrant-gate.sqlite").path)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Appends `count` decisions through the gateway's group commit.
    func appendDecisions(_ count: Int) async throws {
        let log = try store.decisionLog()
        let writer = Task { await log.run() }
        for _ in 0..<count {
            appended += 1
            try await log.append([Sample.entry(Sample.decision(appended))])
        }
        log.close()
        await writer.value
    }

    /// Stores a scan and registers a judicial warrant naming it; returns its digest.
    @discardableResult
    func registerWarrant(_ reference: String, scan: String) throws -> String {
        let digest = try DocumentStore(filesDirectory: store.location.filesDirectory).store(Data(scan.utf8))
        var registration = Sample.warrant(reference)
        registration.documentSHA256 = digest
        registration.noDocumentReason = nil
        _ = try store.registry(timeZone: Sample.denver).register(registration, operator: "clerk")
        return digest
    }

    /// Signs a checkpoint of the whole log and returns its note, as `log checkpoint` prints it to copy off the machine.
    func publishCheckpoint() throws -> String {
        try store.checkpointer(key: key, lastSigned: nil).sign(always: true)
        return try #require(try store.latestCheckpoint()).note
    }

    /// Backs up as `backup` does, sealed unless `sealed` is false (no signing key at hand).
    func backup(_ name: String = "site.backup", sealed: Bool = true) throws -> (path: String, report: BackupReport) {
        let path = path(name)
        return (path, try store.backup(to: path, sealingWith: sealed ? key : nil))
    }

    func restore(
        _ backup: String, to name: String = "restored/warrant-gate.sqlite", against note: String?, rollbackReason: String? = nil,
        unsealedReason: String? = nil, replace: Bool = false, operator: String = "it-admin"
    ) throws -> RestoreReport {
        try StoreBackup.restore(
            from: backup, to: try StoreLocation(path(name)), key: key.verifier,
            options: RestoreOptions(
                offsiteCheckpoint: note, rollbackReason: rollbackReason, unsealedReason: unsealedReason, replace: replace, operator: `operator`
            )
        )
    }
}

/// How many entries the store's log holds now.
private func logSize(_ store: Store) throws -> UInt64 {
    try store.database.read { session in try session.logSize() }
}

/// Reads a SQLite file directly, as someone with the file in hand would.
private func readFile<T>(_ path: String, _ body: (Database) throws -> T) throws -> T {
    try DatabaseQueue(path: path).read(body)
}

/// The admin records in a restored store's log, oldest first.
private func adminRecords(_ path: String) throws -> [AdminRecord] {
    try readFile(path) { db in
        try String.fetchAll(db, sql: "SELECT entry FROM log WHERE kind = 'admin' ORDER BY seq").map {
            try JSONDecoder().decode(AdminRecord.self, from: Data($0.utf8))
        }
    }
}

/// Opens a backup file to alter it, as someone with the file in hand would (it stays in rollback-journal mode).
private func alter(_ backup: String, _ sql: String, _ arguments: StatementArguments = []) throws {
    let queue = try DatabaseQueue(path: backup)
    try queue.write { db in try db.execute(sql: sql, arguments: arguments) }
    try queue.close()
}

private func expectRefusal(_ containing: String, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a refusal containing \"\(containing)\"")
    } catch let error as StoreError {
        #expect(error.message.contains(containing), "\(error.message)")
    } catch {
        Issue.record("expected a StoreError, got \(error)")
    }
}

@Suite("Backups and restores of a SQLite store", .serialized)
struct StoreBackupTests {
    @Test("a backup taken while the gateway appends restores to a log that verifies against the checkpoint held off the machine")
    func backupWhileWriting() async throws {
        let site = try Site()
        let scans = try ["JW-1", "JW-2"].map { try site.registerWarrant($0, scan: "%PDF-1.4 \($0) signed by the judge") }
        try await site.appendDecisions(50)
        let offsite = try site.publishCheckpoint()

        // The gateway keeps appending, from before the backup starts until after it ends.
        let store = site.store, path = site.path("site.backup")
        let log = try store.decisionLog()
        let writer = Task { await log.run() }
        let appender = Task {
            var index = 1_000
            while !Task.isCancelled {
                index += 1
                try await log.append([Sample.entry(Sample.decision(index))])
            }
        }
        func waitUntilTheLogPasses(_ size: UInt64) async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while try logSize(store) <= size, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        }
        try await waitUntilTheLogPasses(60)
        let key = site.key
        let report = try await blocking { try store.backup(to: path, sealingWith: key) }
        try await waitUntilTheLogPasses(report.treeSize + 10)
        appender.cancel()
        try await appender.value
        log.close()
        await writer.value

        let sizeNow = try logSize(store)
        #expect(report.treeSize > 60 && report.treeSize < sizeNow, "the copy is one snapshot taken mid-stream")
        #expect(report.documents == 2 && report.skippedDocuments.isEmpty && report.missingDocuments.isEmpty)
        #expect(report.checkpoints == 1 && report.latestCheckpointSize == 52 && report.sealed)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect((attributes[.size] as? Int) == report.bytes)

        let restored = try site.restore(path, against: offsite)
        #expect(restored.treeSize == report.treeSize && restored.entriesLost == 0 && restored.documents == 2)
        #expect(restored.action == "store.restore" && restored.previousDatabase == nil && restored.sealed && restored.unsignedEntries == 0)
        let target = site.path("restored/warrant-gate.sqlite")
        let reopened = try Store.open(path: target)
        let verification = try reopened.verify(key: site.key.verifier, against: offsite)
        #expect(verification.ok, "\(verification.problems)")
        #expect(verification.entries == report.treeSize + 1, "the restore's own record follows the backup's entries")
        let documents = DocumentStore(filesDirectory: reopened.location.filesDirectory)
        for (reference, digest) in zip(["JW-1", "JW-2"], scans) {
            let stored = try #require(documents.path(digest: digest))
            #expect(try DocumentStore.digest(of: stored) == digest)
            #expect(try String(contentsOfFile: stored, encoding: .utf8).contains(reference))
        }
        #expect(try reopened.registry(timeZone: Sample.denver).entry(reference: "JW-2")?.document.documentSHA256 == scans[1])
        let record = try #require(try adminRecords(target).last)
        #expect(record.action == "store.restore" && record.operator == "it-admin")
        #expect(record.details["offsiteCheckpointSize"] == "52" && record.details["file"] == path && record.details["sealed"] == "yes")
        // The backup's own tables are gone from the restored store, and the restored file is one self-contained file.
        #expect(try readFile(target) { db in try db.tableExists("backup_documents") || db.tableExists("backup_manifest") } == false)
    }

    @Test("a backup older than the checkpoint held off the machine is a rollback: refused, and restored only with a reason, which is logged")
    func rollback() async throws {
        let site = try Site()
        try site.registerWarrant("JW-1", scan: "%PDF-1.4 JW-1")
        try await site.appendDecisions(20)
        let (unsigned, _) = try site.backup("unsigned.backup", sealed: false)
        _ = try site.publishCheckpoint()
        let (backup, report) = try site.backup()
        try await site.appendDecisions(15)
        let latest = try site.publishCheckpoint()
        let published = try Checkpoint.verify(note: latest, key: site.key.verifier)

        // Nothing signed vouches for a backup older than the checkpoint and holding no checkpoint of its own.
        expectRefusal("there is no signed checkpoint to verify against") {
            _ = try site.restore(unsigned, against: latest, rollbackReason: "disk failure", unsealedReason: "the only copy")
        }

        expectRefusal("roll the log back by \(published.size - report.treeSize) entries") {
            _ = try site.restore(backup, against: latest)
        }
        #expect(!FileManager.default.fileExists(atPath: site.path("restored/warrant-gate.sqlite")))
        #expect(!FileManager.default.fileExists(atPath: site.path("restored/documents")), "a refused restore writes no document")

        let restored = try site.restore(backup, against: latest, rollbackReason: "disk failure; ticket 4411")
        #expect(restored.entriesLost == published.size - report.treeSize)
        #expect(restored.action == "store.restore-rollback")
        let record = try #require(try adminRecords(site.path("restored/warrant-gate.sqlite")).last)
        #expect(record.action == "store.restore-rollback" && record.operator == "it-admin")
        #expect(record.details["reason"] == "disk failure; ticket 4411")
        #expect(record.details["entriesLost"] == String(published.size - report.treeSize))
        #expect(record.details["offsiteCheckpointSize"] == String(published.size))
        #expect(record.details["offsiteCheckpointRoot"] == Data(published.root).base64EncodedString())
        let reopened = try Store.open(path: site.path("restored/warrant-gate.sqlite"))
        #expect(try reopened.verify(key: site.key.verifier, against: nil).ok)
    }

    @Test("a backup that does not match the checkpoint held off the machine is refused, even with a rollback reason")
    func inconsistent() async throws {
        let site = try Site()
        try await site.appendDecisions(10)
        let (backup, _) = try site.backup()
        // Another log, signed with the same key, shorter than the backup: the backup cannot extend it.
        let other = try Site()
        try other.registerWarrant("JW-9", scan: "%PDF-1.4 JW-9")
        try await other.appendDecisions(3)
        try other.store.checkpointer(key: site.key, lastSigned: nil).sign(always: true)
        let forked = try #require(try other.store.latestCheckpoint()).note
        expectRefusal("does NOT verify") { _ = try site.restore(backup, against: forked, rollbackReason: "anyway") }
        expectRefusal("does not verify with the key") {
            let stranger = LogSigningKey(name: site.key.name)
            _ = try site.restore(backup, against: try Checkpoint(origin: site.key.name, size: 1, root: Merkle.emptyRoot).signed(by: stranger))
        }
        #expect(!FileManager.default.fileExists(atPath: site.path("restored/warrant-gate.sqlite")))
    }

    @Test("tampered backups are refused: a document, a log entry, an added trigger, damaged pages, a link")
    func tampered() async throws {
        let site = try Site()
        let digest = try site.registerWarrant("JW-1", scan: "%PDF-1.4 JW-1")
        try await site.appendDecisions(10)
        let offsite = try site.publishCheckpoint()
        let (original, _) = try site.backup()
        func tamperedCopy(_ name: String) throws -> String {
            let path = site.path(name)
            try FileManager.default.copyItem(atPath: original, toPath: path)
            return path
        }

        let document = try tamperedCopy("document.backup")
        try alter(document, "UPDATE backup_documents SET content = ? WHERE sha256 = ?", [Data("%PDF-1.4 forged".utf8), digest])
        expectRefusal("the document \(digest) does not match its SHA-256") { _ = try site.restore(document, against: offsite) }

        // The append-only trigger is put back exactly as it was, so that the schema is a store's.
        let entry = try tamperedCopy("entry.backup")
        let appendOnly = try #require(try readFile(entry) { db in
            try String.fetchOne(db, sql: "SELECT sql FROM sqlite_schema WHERE name = 'log_is_append_only_update'")
        })
        try alter(entry, "DROP TRIGGER log_is_append_only_update")
        try alter(entry, #"UPDATE log SET entry = replace(entry, '"effect":"deny"', '"effect":"allow"') WHERE decision_id = 'd-6'"#)
        try alter(entry, appendOnly)
        #expect(try readFile(entry) { db in try String.fetchOne(db, sql: "SELECT entry FROM log WHERE decision_id = 'd-6'") }?.contains(#""effect":"allow""#) == true)
        expectRefusal("the backup's log does NOT verify") { _ = try site.restore(entry, against: offsite) }

        let trigger = try tamperedCopy("trigger.backup")
        try alter(trigger, "CREATE TRIGGER exfiltrate AFTER INSERT ON log BEGIN DELETE FROM agencies; END")
        expectRefusal("unexpected or changed: trigger exfiltrate") { _ = try site.restore(trigger, against: offsite) }

        let damaged = try tamperedCopy("damaged.backup")
        let handle = try #require(FileHandle(forWritingAtPath: damaged))
        try handle.seek(toOffset: 4096)
        try handle.write(contentsOf: Data(repeating: 0xa5, count: 4 * 4096))
        try handle.close()
        expectRefusal("is not a WarrantGate backup, or was altered") { _ = try site.restore(damaged, against: offsite) }

        let link = site.path("link.backup")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: original)
        #expect(throws: PrivateFileError.self) { _ = try site.restore(link, against: offsite) }

        let notABackup = site.path("checkpoint.txt")
        try Data(offsite.utf8).write(to: URL(fileURLWithPath: notABackup))
        expectRefusal("not a SQLite database written by `warrant-gate backup`") { _ = try site.restore(notABackup, against: offsite) }

        #expect(!FileManager.default.fileExists(atPath: site.path("restored/warrant-gate.sqlite")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: site.path("restored")).isEmpty, "no temporary file is left behind")
    }

    /// The attacker's F1: with the backup file in hand, widen a warrant, forge one, delete the revocations; before the
    /// seal, the restore checked only the log, and the edited registry came back as valid.
    @Test("a sealed backup's registry, scans and manifest cannot be edited: each edit is refused; the untouched backup restores")
    func registrySealed() async throws {
        let site = try Site()
        try site.registerWarrant("JW-1", scan: "%PDF-1.4 JW-1")
        let registry = site.store.registry(timeZone: Sample.denver)
        let request = try registry.addAgency(id: "ice-ero", name: "ICE ERO", category: .federalImmigration, spkiPins: [String(repeating: "a", count: 64)], operator: "it")
        try registry.approveAgencyRequest(try #require(request), operator: "supervisor")
        try registry.revokeCertificate(agency: "ice-ero", spki: String(repeating: "b", count: 64), serial: nil, reason: "lost laptop", operator: "it")
        try await site.appendDecisions(3)
        let offsite = try site.publishCheckpoint()
        let (original, report) = try site.backup()
        #expect(report.sealed)
        let forgedScan = Data("%PDF-1.4 forged".utf8)
        let edits: [(name: String, sql: String, arguments: StatementArguments)] = [
            ("widened", #"UPDATE documents SET subjects = '["2017-000123","2019-000001","2019-000002"]' WHERE reference = 'JW-1'"#, []),
            ("forged", """
                CREATE TEMP TABLE forged AS SELECT * FROM documents WHERE reference = 'JW-1';
                UPDATE forged SET reference = 'JW-FORGED', status = 'active', approved_by = 'sgt-lee';
                INSERT INTO documents SELECT * FROM forged
                """, []),
            ("revocations", "DELETE FROM certificate_revocations", []),
            // An attacker with the file passes the trigger that keeps agencies to their requests (dropping it would
            // change the schema, which a restore refuses too).
            ("agency", """
                INSERT INTO settings (key, value) VALUES ('\(StoreMigration.pendingKey)', 'x');
                UPDATE agencies SET spki_pins = '[]';
                DELETE FROM settings WHERE key = '\(StoreMigration.pendingKey)'
                """, []),
            ("setting", "INSERT OR REPLACE INTO settings (key, value) VALUES ('two-person-rule', 'off')", []),
            ("scan", "INSERT INTO backup_documents (sha256, content) VALUES (?, ?)", [DocumentStore.digest(of: forgedScan), forgedScan]),
            ("manifest", "UPDATE backup_manifest SET value = '2019-01-01T00:00:00.000Z' WHERE key = 'created'", []),
        ]
        for edit in edits {
            let path = site.path("\(edit.name).backup")
            try FileManager.default.copyItem(atPath: original, toPath: path)
            try alter(path, edit.sql, edit.arguments)
            expectRefusal("its registry, scans or manifest are not what was sealed") { _ = try site.restore(path, against: offsite) }
        }
        // Text that GRDB's String reads as the sealed value, but SQLite compares as another: a reference no `warrant
        // revoke` could name, a setting no lookup finds. The registry's change counter is set back, as an attacker would.
        let unreadable: [(name: String, sql: String)] = [
            ("nul", "UPDATE documents SET reference = reference || char(0) || 'x' WHERE reference = 'JW-1'"),
            ("not-utf8", "UPDATE documents SET reference = CAST(x'4A572D31FF' AS TEXT) WHERE reference = 'JW-1'"),
        ]
        for edit in unreadable {
            let path = site.path("\(edit.name).backup")
            try FileManager.default.copyItem(atPath: original, toPath: path)
            try alter(path, edit.sql + "; UPDATE registry_state SET version = (SELECT version FROM registry_state) - 1")
            expectRefusal("holds text that is not UTF-8 or holds a NUL byte") { _ = try site.restore(path, against: offsite) }
        }
        let stranger = site.path("stranger.backup")
        try FileManager.default.copyItem(atPath: original, toPath: stranger)
        try alter(stranger, "UPDATE backup_manifest SET value = ? WHERE key = 'seal'", [
            try Checkpoint(origin: site.key.name, size: report.treeSize, root: Merkle.emptyRoot, extensions: [BackupSeal.extensionPrefix + "00"])
                .signed(by: LogSigningKey(name: site.key.name)),
        ])
        expectRefusal("its seal does not verify with the key") { _ = try site.restore(stranger, against: offsite) }
        #expect(!FileManager.default.fileExists(atPath: site.path("restored/warrant-gate.sqlite")))

        let restored = try site.restore(original, against: offsite)
        #expect(restored.sealed && restored.treeSize == report.treeSize)
    }

    /// The attacker's F2: open the stolen backup with the store itself and append (a registration, an approval): the
    /// log still verified, since nothing signed covered the entries after its last checkpoint.
    @Test("entries appended to a sealed backup are refused: the seal signs the log at the backup's exact size")
    func appendedAfterSealing() async throws {
        let site = try Site()
        try await site.appendDecisions(3)
        let offsite = try site.publishCheckpoint()
        let (original, _) = try site.backup()
        let appended = site.path("appended.backup")
        try FileManager.default.copyItem(atPath: original, toPath: appended)
        let queue = try DatabaseQueue(path: appended)
        try await queue.write { db in
            try Registry.appendAdmin(SQLiteSession(db: db), AdminRecord(
                time: Timestamp.format(Date()), operator: "sgt-lee", action: "warrant.approve", target: "JW-77", details: [:]
            ))
        }
        try queue.close()
        expectRefusal("the backup's log is not the one its seal signs") { _ = try site.restore(appended, against: offsite) }
    }

    /// Restored unsealed, the entries after the last checkpoint are counted and recorded: nothing signed vouches for them.
    @Test("an unsealed backup is refused without a reason; with one it restores, its unsigned entries counted and recorded")
    func unsealed() async throws {
        let site = try Site()
        try await site.appendDecisions(3)
        let offsite = try site.publishCheckpoint()
        try await site.appendDecisions(2)
        let (backup, report) = try site.backup("unsealed.backup", sealed: false)
        #expect(!report.sealed)
        expectRefusal("is not sealed") { _ = try site.restore(backup, against: offsite) }
        let restored = try site.restore(backup, against: offsite, unsealedReason: "made before sealing; checked against paper")
        #expect(!restored.sealed && restored.unsignedEntries == 2)
        let record = try #require(try adminRecords(site.path("restored/warrant-gate.sqlite")).last)
        #expect(record.details["sealed"] == "no" && record.details["unsignedEntries"] == "2")
        #expect(record.details["unsealedReason"] == "made before sealing; checked against paper")
    }

    @Test("a restore's operator name and reasons are checked as the registry's are: a bidi control or an escape is refused, nothing restored")
    func restoreText() async throws {
        let site = try Site()
        try await site.appendDecisions(3)
        let offsite = try site.publishCheckpoint()
        let (backup, _) = try site.backup("unsealed.backup", sealed: false)
        expectRefusal("operator name") { _ = try site.restore(backup, against: offsite, unsealedReason: "paper checked", operator: "it\u{202E}nimda") }
        expectRefusal("--allow-unsealed") { _ = try site.restore(backup, against: offsite, unsealedReason: "ok\u{1B}[2J") }
        #expect(!FileManager.default.fileExists(atPath: site.path("restored/warrant-gate.sqlite")))
        // What no seal covers: the query planner's statistics, and an unsealed manifest's time, which the log records.
        try alter(backup, """
            ANALYZE;
            UPDATE sqlite_stat1 SET stat = '1 1';
            UPDATE backup_manifest SET value = value || '\u{1B}[2J' || printf('%.5000c', 'x') WHERE key = 'created'
            """)
        let report = try site.restore(backup, against: offsite, unsealedReason: "paper checked", operator: "  Sgt. K. Lee ")
        let restored = site.path("restored/warrant-gate.sqlite")
        #expect(try #require(try adminRecords(restored).last).operator == "Sgt. K. Lee")
        #expect(try #require(report.backupCreated).count <= 40, "the manifest's time is cut to a time's length")
        let statistics = try await DatabaseQueue(path: restored).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_stat1") }
        #expect(statistics == 0, "the backup's planner statistics were restored")
    }

    /// The attacker's F9: a restore or backup wrote into a directory another user could write, who could swap the
    /// database or the backup under it.
    @Test("a backup or restore into a directory others can write, or another user owns, is refused")
    func sharedDirectory() async throws {
        let site = try Site()
        try await site.appendDecisions(2)
        let offsite = try site.publishCheckpoint()
        let (backup, _) = try site.backup()
        let shared = site.path("shared")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o777])
        #expect(chmod(shared, 0o777) == 0)
        func expectRefused(_ containing: String, _ body: () throws -> Void) {
            #expect { try body() } throws: { error in
                (error as? PrivateFileError).map { $0.kind == .refused && $0.message.contains(containing) } ?? false
            }
        }
        expectRefused("is writable by its group or others (mode 777)") { _ = try site.store.backup(to: "\(shared)/site.backup", sealingWith: site.key) }
        expectRefused("is writable by its group or others") { _ = try site.restore(backup, to: "shared/warrant-gate.sqlite", against: offsite) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: shared).isEmpty)
        if geteuid() == 0 {
            #expect(chmod(shared, 0o755) == 0 && chown(shared, 65534, 65534) == 0)
            expectRefused("belongs to uid 65534") { _ = try site.restore(backup, to: "shared/warrant-gate.sqlite", against: offsite) }
        }
    }

    @Test("a backup made before the last migration restores, upgraded; one from a newer version is refused")
    func otherVersions() throws {
        let old = try TemporaryDatabase(migratedUpTo: "v3: the tree's frontier is derived")
        let database = SQLiteDatabase(pool: old.pool)
        try Registry(database: database, timeZone: Sample.denver).recordAdminAction("log.export", target: "log", details: [:], operator: "clerk")
        let note = try #require(try Checkpointer(database: database, key: Sample.key, origin: Sample.key.name).sign()).note
        // What `backup` wrote then: the pages, then the backup's tables.
        let backup = old.directory.appendingPathComponent("v3.backup").path
        let copy = try DatabaseQueue(path: backup)
        try old.pool.backup(to: copy)
        try copy.writeWithoutTransaction { db in
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE") == "delete")
            for table in BackupFormat.tables { try db.execute(sql: table) }
            try db.execute(sql: "INSERT INTO backup_manifest (key, value) VALUES ('format', ?)", arguments: [BackupFormat.name])
        }
        try copy.close()

        func restore(_ path: String, to name: String, unsealedReason: String? = nil) throws -> RestoreReport {
            try StoreBackup.restore(
                from: path, to: try StoreLocation(old.directory.appendingPathComponent("\(name)/warrant-gate.sqlite").path), key: Sample.key.verifier,
                options: RestoreOptions(offsiteCheckpoint: note, unsealedReason: unsealedReason, operator: "it-admin")
            )
        }
        // Then, backups were not sealed: one is refused unless told why, and its registry is then trusted.
        expectRefusal("is not sealed") { _ = try restore(backup, to: "refused") }
        let unsealed = try restore(backup, to: "unsealed", unsealedReason: "the only backup from before sealing")
        #expect(unsealed.treeSize == 1 && !unsealed.sealed && unsealed.unsignedEntries == 0)
        // Sealed as this version seals, the seal is of the tables as that version wrote them, before the restore migrates them.
        let sealed = old.directory.appendingPathComponent("sealed.backup").path
        try FileManager.default.copyItem(atPath: backup, toPath: sealed)
        try DatabaseQueue(path: sealed).write { db in
            try db.execute(sql: "INSERT INTO backup_manifest (key, value) VALUES ('seal', ?)", arguments: [try BackupSeal.sign(db, key: Sample.key)])
        }
        #expect(try restore(sealed, to: "upgraded").treeSize == 1)
        let upgraded = old.directory.appendingPathComponent("upgraded/warrant-gate.sqlite").path
        #expect(try readFile(upgraded) { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid") }
            == StoreDatabase.migrator.migrations)

        let newer = old.directory.appendingPathComponent("newer.backup").path
        try FileManager.default.copyItem(atPath: backup, toPath: newer)
        try alter(newer, "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from a later version')")
        expectRefusal("are not a prefix of this version's") { _ = try restore(newer, to: "newer") }
    }

    @Test("a database already there is replaced only when asked and not in use, and is moved aside, not deleted")
    func replace() async throws {
        let site = try Site()
        try await site.appendDecisions(5)
        let offsite = try site.publishCheckpoint()
        let (backup, report) = try site.backup()
        let target = "site/warrant-gate.sqlite"  // the live database itself

        expectRefusal("a database is already at") { _ = try site.restore(backup, to: target, against: offsite) }
        expectRefusal("is in use") { _ = try site.restore(backup, to: target, against: offsite, replace: true) }

        #expect(FileManager.default.fileExists(atPath: site.path(target)))

        // Another site's store, which no one has open, is replaced.
        let other = try Site()
        try await other.appendDecisions(2)
        _ = try other.publishCheckpoint()
        let (otherBackup, _) = try other.backup()
        _ = try site.restore(otherBackup, to: "idle/warrant-gate.sqlite", against: nil)
        // Another site's log is another history: replacing it is a rollback, which takes a reason.
        expectRefusal("does not extend the log of the database it would replace") {
            _ = try site.restore(backup, to: "idle/warrant-gate.sqlite", against: offsite, replace: true)
        }
        let restored = try site.restore(backup, to: "idle/warrant-gate.sqlite", against: offsite, rollbackReason: "a drill over a scratch store", replace: true)
        let aside = try #require(restored.previousDatabase)
        #expect(aside.hasPrefix(site.path("idle/warrant-gate.sqlite.before-restore-")))
        #expect(try readFile(aside) { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM log WHERE kind = 'decision'") } == 2)
        #expect(try logSize(Store.open(path: site.path("idle/warrant-gate.sqlite"))) == report.treeSize + 1)
    }

    /// The gateway signs checkpoints every few seconds, so the one held off the machine is older than the log a
    /// restore replaces: a restore of an older backup over a longer log lost entries, recorded as a plain restore.
    @Test("replacing a database whose log is longer than the backup's is a rollback, refused without a reason")
    func replaceLongerLog() async throws {
        let site = try Site()
        try await site.appendDecisions(5)
        let offsite = try site.publishCheckpoint()
        let (older, report) = try site.backup("older.backup")
        try await site.appendDecisions(7)
        _ = try site.publishCheckpoint()
        let (newer, _) = try site.backup("newer.backup")
        let target = "idle/warrant-gate.sqlite"
        let longer = try site.restore(newer, to: target, against: offsite)
        let replacedSize = longer.treeSize + 1

        expectRefusal("the database it would replace holds \(replacedSize)") { _ = try site.restore(older, to: target, against: offsite, replace: true) }
        #expect(try logSize(Store.open(path: site.path(target))) == replacedSize, "a refused restore leaves the database in place")

        let restored = try site.restore(older, to: target, against: offsite, rollbackReason: "the newer disk is corrupt; ticket 12", replace: true)
        #expect(restored.entriesLost == replacedSize - report.treeSize)
        #expect(restored.replacedTreeSize == replacedSize)
        let record = try #require(try adminRecords(site.path(target)).last)
        #expect(record.action == "store.restore-rollback")
        #expect(record.details["previousTreeSize"] == String(replacedSize))
        #expect(record.details["entriesLost"] == String(replacedSize - report.treeSize))
    }

    @Test("a backup longer than the log it replaces, but forked from it, is a rollback too")
    func replaceForkedLog() async throws {
        let site = try Site()
        try await site.appendDecisions(5)
        let offsite = try site.publishCheckpoint()
        let (older, _) = try site.backup("older.backup")
        try await site.appendDecisions(3)
        _ = try site.publishCheckpoint()
        let (live, _) = try site.backup("live.backup")
        let target = "idle/warrant-gate.sqlite"
        let replacedSize = try site.restore(live, to: target, against: offsite).treeSize + 1
        // Another history from the older backup on, longer than the live one.
        let forkSite = "fork/warrant-gate.sqlite"
        _ = try site.restore(older, to: forkSite, against: offsite)
        let fork = try Store.open(path: site.path(forkSite))
        let log = try fork.decisionLog()
        let writer = Task { await log.run() }
        for index in 0..<10 { try await log.append([Sample.entry(Sample.decision(900 + index))]) }
        log.close()
        await writer.value
        try fork.checkpointer(key: site.key, lastSigned: nil).sign(always: true)
        let forked = try fork.backup(to: site.path("forked.backup"), sealingWith: site.key)
        #expect(forked.treeSize > replacedSize)

        expectRefusal("does not extend the log of the database it would replace") {
            _ = try site.restore(site.path("forked.backup"), to: target, against: offsite, replace: true)
        }
        let restored = try site.restore(site.path("forked.backup"), to: target, against: offsite, rollbackReason: "the live disk is corrupt", replace: true)
        #expect(restored.replacedLogExtended == false)
        let record = try #require(try adminRecords(site.path(target)).last)
        #expect(record.action == "store.restore-rollback" && record.details["replacedLogExtended"] == "no")
        // A backup that extends the log it replaces is a plain restore.
        let (latest, _) = try site.backup("latest.backup")
        let plain = try site.restore(latest, to: "idle2/warrant-gate.sqlite", against: offsite)
        #expect(plain.action == "store.restore")
    }

    @Test("without a checkpoint held off the machine the log is checked against its own, and the record says so")
    func noOffsiteCheckpoint() async throws {
        let site = try Site()
        try await site.appendDecisions(5)
        _ = try site.publishCheckpoint()
        let (backup, _) = try site.backup()
        let restored = try site.restore(backup, against: nil)
        #expect(restored.offsiteCheckpointSize == nil && restored.checkpoints == 1)
        #expect(try adminRecords(site.path("restored/warrant-gate.sqlite")).last?.details["offsiteCheckpoint"] == "none")
    }

    @Test("a backup refuses an existing file or a link at --out, and reports a damaged or missing scan")
    func backupRefusals() async throws {
        let site = try Site()
        let digest = try site.registerWarrant("JW-1", scan: "%PDF-1.4 JW-1")
        let lost = try site.registerWarrant("JW-2", scan: "%PDF-1.4 JW-2")
        let (first, _) = try site.backup()
        #expect(throws: PrivateFileError.self) { _ = try site.store.backup(to: first, sealingWith: site.key) }
        let link = site.path("link.backup")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: site.path("elsewhere"))
        #expect(throws: PrivateFileError.self) { _ = try site.store.backup(to: link, sealingWith: site.key) }
        #expect(!FileManager.default.fileExists(atPath: site.path("elsewhere")))

        let documents = DocumentStore(filesDirectory: site.store.location.filesDirectory)
        try Data("%PDF-1.4 bit rot".utf8).write(to: URL(fileURLWithPath: try #require(documents.path(digest: digest))))
        try FileManager.default.removeItem(atPath: try #require(documents.path(digest: lost)))
        let (_, report) = try site.backup("second.backup")
        #expect(report.documents == 0)
        #expect(report.skippedDocuments == ["\(digest): its content does not match its SHA-256 (damaged)"])
        #expect(Set(report.missingDocuments) == [digest, lost])

        // A document store replaced by a link to another directory, whose scans match their names: none is copied.
        let elsewhere = site.path("other-documents")
        try FileManager.default.moveItem(atPath: documents.directory.path, toPath: elsewhere)
        try Data("%PDF-1.4 JW-2".utf8).write(to: URL(fileURLWithPath: elsewhere + "/" + lost))
        try FileManager.default.createSymbolicLink(atPath: documents.directory.path, withDestinationPath: elsewhere)
        let (_, linked) = try site.backup("third.backup")
        #expect(linked.documents == 0)
        #expect(linked.skippedDocuments == ["\(documents.directory.path): not a directory (a symbolic link?); no document was backed up"])
        #expect(Set(linked.missingDocuments) == [digest, lost])
    }
}
