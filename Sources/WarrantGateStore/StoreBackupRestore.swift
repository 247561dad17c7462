import Foundation
import GRDB
import Glibc
import WarrantGateCore

/// How ``StoreBackup/restore(from:to:key:options:at:progress:)`` may restore.
public struct RestoreOptions: Sendable {
    /// A signed checkpoint note held off the machine (`log checkpoint`), the latest one published; nil when the
    /// operator has none, and the log is then checked only against itself.
    public var offsiteCheckpoint: String?
    /// The checkpoint the log signing key last signed (``LastSignedCheckpoint``), when the target's key keeps that
    /// record: a backup that lacks it rolls the log back as surely as one older than ``offsiteCheckpoint``.
    public var lastSignedCheckpoint: String?
    /// Why a backup older than ``offsiteCheckpoint`` or ``lastSignedCheckpoint`` is restored anyway; nil refuses such
    /// a rollback.
    public var rollbackReason: String?
    /// Why a backup without a seal (``BackupSeal``) is restored anyway, its registry and its entries after its last
    /// checkpoint unchecked; nil refuses it. Unsafe: whoever edited the file is then believed.
    public var unsealedReason: String?
    /// Replaces the database at the target (moved aside, never deleted), which must not be in use.
    public var replace: Bool
    /// Who restores, for the record in the restored log.
    public var `operator`: String

    public init(
        offsiteCheckpoint: String?, lastSignedCheckpoint: String? = nil, rollbackReason: String? = nil, unsealedReason: String? = nil,
        replace: Bool = false, operator: String
    ) {
        self.offsiteCheckpoint = offsiteCheckpoint
        self.lastSignedCheckpoint = lastSignedCheckpoint
        self.rollbackReason = rollbackReason
        self.unsealedReason = unsealedReason
        self.replace = replace
        self.operator = `operator`
    }

    /// These options with the operator's name as ``OperatorName`` records it; an error if the name, or a reason, is
    /// one the registry would refuse (``FreeText``): both go into the restored log.
    func checked() throws -> RestoreOptions {
        var checked = self
        do { checked.operator = try OperatorName(`operator`).text } catch { throw StoreError(error.description) }
        for (reason, field) in [(rollbackReason, "--allow-rollback"), (unsealedReason, "--allow-unsealed")] {
            if let reason, let problem = FreeText.problem(reason, field: field) { throw StoreError(problem) }
        }
        return checked
    }
}

/// What a restore found and did.
public struct RestoreReport: Sendable {
    /// The restored log's tree size (before the restore's own record) and its checkpoints.
    public var treeSize: UInt64 = 0
    public var checkpoints = 0
    /// The size of the checkpoint held off the machine, if one was given.
    public var offsiteCheckpointSize: UInt64?
    /// Whether the backup's seal vouched for its whole log and its registry; false only for an unsealed backup
    /// restored with ``RestoreOptions/unsealedReason``.
    public var sealed = false
    /// The entries after the backup's latest signed checkpoint (none when sealed): nothing signed vouches for them.
    public var unsignedEntries: UInt64 = 0
    /// How many entries the restored log lacks, of those the checkpoint held off the machine published or the
    /// replaced database held: more than 0 only for an allowed rollback.
    public var entriesLost: UInt64 = 0
    /// The size of the checkpoint the log signing key last signed, when its record was given.
    public var lastSignedSize: UInt64?
    /// Whether the restored log holds that checkpoint (the same root at its size); nil when it is shorter.
    public var lastSignedHeld: Bool?
    /// The replaced database's log size, when one was replaced and could be read.
    public var replacedTreeSize: UInt64?
    /// Whether the restored log extends the replaced one (the same root at its size); nil when it is shorter, or
    /// nothing readable was replaced.
    public var replacedLogExtended: Bool?
    public var documents = 0
    /// Scans the restored registry names that neither the backup nor the files directory holds.
    public var missingDocuments: [String] = []
    /// When the backup was made, as it states.
    public var backupCreated: String?
    /// Where the database that was replaced now is.
    public var previousDatabase: String?
    /// The admin record appended to the restored log: `store.restore`, or `store.restore-rollback`.
    public var action = ""

    /// Whether the restore rolls the log back: it lacks entries published, replaced or signed, or forks from them.
    public var isRollback: Bool { entriesLost > 0 || replacedLogExtended == false || lastSignedHeld == false }
}

/// Restores a backup written by ``Store/backup(to:at:)`` into a SQLite store, treating the file as hostile until it
/// has been checked.
///
/// The file is copied, without following a link, beside the target, and everything else happens on that private
/// copy: SQLite's integrity check; a schema that must be exactly a WarrantGate store's (as of one of its migrations)
/// plus the backup's two tables, so no trigger or view of the file's own survives; each scan's SHA-256; the seal
/// (``BackupSeal``), which must verify with the key and commit to the registry, the scans' names and the manifest as
/// they are; then the whole log, recomputed by ``LogVerifier``, which must be the tree the seal signs and match the
/// checkpoint held off the machine. A backup without a seal is refused unless the operator gives a reason (it then
/// trusts the file's registry). A backup whose log is shorter than the checkpoint held off the machine is a rollback —
/// the restored log would fork the history the checkpoint published, and the entries that would show whether the
/// backup is a prefix of it are the ones lost — and is refused unless the operator gives a reason; one longer that
/// does not match it is always refused. Only then are the scans put in the files directory, the restore recorded in
/// the restored log (with the rollback, if any), and the copy put in place: a database already there is moved aside,
/// and only once no connection has it open.
public enum StoreBackup {
    public static func restore(
        from backupPath: String, to location: StoreLocation, key: LogVerifierKey, options: RestoreOptions, at time: Date = Date(),
        progress: (String) -> Void = { _ in }
    ) throws -> RestoreReport {
        let options = try options.checked()
        guard let target = location.sqlitePath else {
            throw StoreError("`restore` restores a SQLite store; restore a PostgreSQL store with pg_restore (docs/postgresql.md#backups)")
        }
        let published = try options.offsiteCheckpoint.map { note in
            do { return try Checkpoint.verify(note: note, key: key) } catch {
                throw StoreError("the checkpoint held off the machine does not verify with the key \(key.name): \(error)")
            }
        }
        let lastSigned = try options.lastSignedCheckpoint.map { note in
            do { return try Checkpoint.verify(note: note, key: key) } catch {
                throw StoreError("the log signing key's record of the last checkpoint it signed does not verify with the key \(key.name): \(error)")
            }
        }
        let replacing = try checkTarget(target, replace: options.replace)
        var replaced: (size: UInt64, root: Merkle.Hash?)?
        if replacing {
            try withExclusiveAccess(to: target)
            // Often unreadable (the reason to restore): then only the checkpoint held off the machine can tell. A size
            // without a root (a damaged tree) still tells a shorter backup.
            replaced = try? DatabaseQueue(path: target).read { db in
                let session = SQLiteSession(db: db), size = try session.logSize()
                return (size, try? LogAppender.root(session, size: size))
            }
        }
        try PrivateFile.makeDirectory(URL(fileURLWithPath: target).deletingLastPathComponent().path)
        try PrivateFile.checkOwnDirectory(holding: target)

        // Kept from filling the filesystem, which may be the live store's: a handed-over file may be of any size.
        let staged = try PrivateFile.Output(path: target, existing: replacing ? .replaceRegularFile : .refuse, keepingFree: .copies)
        progress("copying \(backupPath)")
        try copy(backupPath, into: staged)
        progress("checking the copy: SQLite's integrity check, its schema, the documents' SHA-256")
        var (report, seal) = try inspect(staged.temporaryPath, file: backupPath, key: key)
        if seal == nil {
            guard let reason = options.unsealedReason else {
                throw StoreError("""
                    \(backupPath) is not sealed (it was made without the log signing key, or by an older version): nothing signed vouches \
                    for its registry — warrants, agencies, revocations, records about inmates — or for the entries after its last \
                    checkpoint, so an edited file would restore as valid. Make a new backup with the signing key at hand. To restore \
                    this one anyway, trusting its registry unchecked (unsafe), give the reason with `--allow-unsealed REASON`: it is recorded in the log
                    """)
            }
            guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw StoreError("restoring an unsealed backup needs a reason") }
        }
        report.sealed = seal != nil

        let store: Store
        do { store = try Store.open(StoreLocation(staged.temporaryPath), extraTables: BackupFormat.tables) } catch {
            throw PrivateFileError(.failed, "cannot open the copy of \(backupPath): \(StoreDatabase.describe(error))")
        }
        guard let pool = store.sqlitePool else { throw StoreError("the backup copy is not a SQLite store") }
        defer {
            try? pool.close()
            for suffix in ["-wal", "-shm", "-journal"] { unlink(staged.temporaryPath + suffix) }
        }
        // The query planner's statistics are outside the seal: the restored store gathers its own.
        try pool.write { db in
            for table in ["sqlite_stat1", "sqlite_stat4"] where try db.tableExists(table) { try db.execute(sql: "DELETE FROM \(table)") }
        }
        report.treeSize = try store.database.read { session in try session.logSize() }
        report.offsiteCheckpointSize = published?.size
        report.replacedTreeSize = replaced?.size
        /// Whether the backup's log has `root` at `size`; nil when it is shorter.
        func holds(size: UInt64, root: Merkle.Hash) throws -> Bool? {
            guard size <= report.treeSize else { return nil }
            return try store.database.read { session in try LogAppender.root(session, size: size) } == root
        }
        /// How many entries the backup's log lacks of a log of `size`.
        func lost(_ size: UInt64?) -> UInt64 {
            size.map { $0 > report.treeSize ? $0 - report.treeSize : 0 } ?? 0
        }
        // A backup at least as long must extend the replaced log: one that forked from it drops entries too.
        if let replaced, let root = replaced.root { report.replacedLogExtended = try holds(size: replaced.size, root: root) }
        report.lastSignedSize = lastSigned?.size
        if let lastSigned { report.lastSignedHeld = try holds(size: lastSigned.size, root: lastSigned.root) }
        let rollback = published.map { $0.size > report.treeSize } ?? false
        progress("verifying the log: \(report.treeSize) entries")
        let verification = try LogVerifier(key: key).verify(
            database: store.database, against: rollback ? nil : options.offsiteCheckpoint, seal: seal?.note
        )
        guard verification.ok else {
            throw StoreError("the backup's log does NOT verify: " + verification.problems.prefix(5).joined(separator: "; "))
        }
        report.checkpoints = verification.checkpoints
        if let seal {
            guard seal.checkpoint.size == verification.entries, seal.checkpoint.root == verification.root else {
                throw StoreError("the backup's log is not the one its seal signs (\(seal.checkpoint.size) entries): entries were added, removed or changed after it was made")
            }
        } else {
            report.unsignedEntries = verification.unsignedEntries
        }
        // A database replaced with a shorter log loses entries as surely as a published checkpoint would show: the
        // gateway signs checkpoints often, so one held off the machine is usually older than the log it replaces.
        let (lostToPublished, lostToReplaced, lostToSigner) = (lost(published?.size), lost(replaced?.size), lost(lastSigned?.size))
        report.entriesLost = max(lostToPublished, lostToReplaced, lostToSigner)
        if report.isRollback {
            guard let reason = options.rollbackReason else {
                let against = report.replacedLogExtended == false
                    ? "it does not extend the log of the database it would replace (\(replaced!.size) entries, which would stay in the file moved aside): they differ at or before that size"
                    : report.lastSignedHeld == false
                    ? "it does not hold the checkpoint of \(lastSigned!.size) entries the log signing key last signed: they differ at or before that size"
                    : lostToSigner > max(lostToPublished, lostToReplaced)
                    ? "the log signing key last signed a checkpoint of \(lastSigned!.size) entries: restoring it would roll the log back by \(report.entriesLost) entries"
                    : lostToPublished >= lostToReplaced
                    ? "the checkpoint held off the machine covers \(published!.size): restoring it would roll the log back by \(report.entriesLost) entries"
                    : "the database it would replace holds \(replaced!.size) (they would stay in the file moved aside): restoring it would roll the log back by \(report.entriesLost) entries"
                throw StoreError("""
                    the backup's log has \(report.treeSize) entries but \(against). Restoring it would fork the log's history. The \
                    backup itself verifies. To restore it anyway, give the reason with `--allow-rollback REASON`: it is recorded in the log
                    """)
            }
            guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw StoreError("a rollback needs a reason") }
        }

        progress("restoring the documents into \(location.filesDirectory)")
        try restoreDocuments(from: store.database, into: DocumentStore(filesDirectory: location.filesDirectory), report: &report)

        let aside = replacing ? "\(target).before-restore-\(Timestamp.format(time).replacingOccurrences(of: ":", with: "-"))" : nil
        let record = restoreRecord(file: backupPath, report: report, published: published, options: options, aside: aside, at: time)
        report.action = record.action
        try pool.write { db in
            for table in ["backup_documents", "backup_manifest"] { try db.execute(sql: "DROP TABLE \(table)") }
            try Registry.appendAdmin(SQLiteSession(db: db), record)
        }
        try pool.close()
        try DatabaseQueue(path: staged.temporaryPath).writeWithoutTransaction { db in
            guard try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE") == "delete" else {
                throw StoreError("SQLite refused to take the restored copy out of WAL mode")
            }
        }

        if let aside {
            progress("moving the database at \(target) aside to \(aside)")
            try moveAside(target, to: aside)
            report.previousDatabase = aside
        }
        try staged.commit()
        return report
    }

    /// Stores the backup's scans in `documents`, and lists the scans the restored registry names that it lacks.
    private static func restoreDocuments(from database: any SQLDatabase, into documents: DocumentStore, report: inout RestoreReport) throws {
        try database.read { session in
            try session.forEach("SELECT sha256, content FROM backup_documents ORDER BY sha256") { row in
                let name = try row.text("sha256")
                guard try documents.store(Data(try row.bytes("content"))) == name else {
                    throw StoreError("the document \(name) in the copy of the backup no longer matches its SHA-256")
                }
                report.documents += 1
            }
            report.missingDocuments = try session.fetchAll(
                "SELECT DISTINCT document_sha256 FROM documents WHERE document_sha256 IS NOT NULL ORDER BY document_sha256"
            ).map { try $0.text("document_sha256") }.filter { documents.path(digest: $0) == nil }
        }
    }

    /// Moves the database at `path`, whole and unused, to `aside` (a new name).
    private static func moveAside(_ path: String, to aside: String) throws {
        try withExclusiveAccess(to: path, foldingWAL: true) {
            try PrivateFile.checkTarget(aside, existing: .refuse)
            guard rename(path, aside) == 0 else {
                throw PrivateFileError(.failed, "cannot move \(path) aside: \(PrivateFile.describe(errno))")
            }
        }
    }

    /// The admin record of this restore, appended to the restored log.
    private static func restoreRecord(
        file: String, report: RestoreReport, published: Checkpoint?, options: RestoreOptions, aside: String?, at time: Date
    ) -> AdminRecord {
        var details = ["file": file, "treeSize": String(report.treeSize), "documents": String(report.documents), "sealed": report.sealed ? "yes" : "no"]
        if !report.sealed {
            details["unsealedReason"] = options.unsealedReason
            details["unsignedEntries"] = String(report.unsignedEntries)
        }
        details["backupCreated"] = report.backupCreated
        details["previousDatabase"] = aside
        if aside != nil { details["previousTreeSize"] = report.replacedTreeSize.map(String.init) ?? "unreadable" }
        if let published {
            details["offsiteCheckpointSize"] = String(published.size)
            details["offsiteCheckpointRoot"] = Data(published.root).base64EncodedString()
        } else {
            details["offsiteCheckpoint"] = "none"
        }
        let rollback = report.isRollback
        if report.replacedLogExtended == false { details["replacedLogExtended"] = "no" }
        if let size = report.lastSignedSize { details["lastSignedSize"] = String(size) }
        if report.lastSignedHeld == false { details["lastSignedHeld"] = "no" }
        if rollback {
            details["entriesLost"] = String(report.entriesLost)
            details["reason"] = options.rollbackReason
        }
        return AdminRecord(
            time: Timestamp.format(time), operator: options.operator, action: rollback ? "store.restore-rollback" : "store.restore", target: "log",
            details: details
        )
    }

    // MARK: - The target

    /// Whether a database is at `path` to be replaced; throws if one is there without `replace`, or `path` is a link.
    private static func checkTarget(_ path: String, replace: Bool) throws -> Bool {
        var status = Glibc.stat()
        guard lstat(path, &status) == 0 else {
            guard errno == ENOENT else { throw PrivateFileError(.failed, "cannot read \(path): \(PrivateFile.describe(errno))") }
            for suffix in ["-wal", "-journal"] where lstat(path + suffix, &status) == 0 {
                throw StoreError("\(path)\(suffix) is there without its database: move it aside first")
            }
            return false
        }
        guard status.st_mode & S_IFMT == S_IFREG else { throw PrivateFileError(.refused, "\(path) is a symbolic link or not a regular file") }
        guard replace else {
            throw StoreError("a database is already at \(path): stop the gateway and replace it (it is moved aside, not deleted), or restore elsewhere")
        }
        return true
    }

    /// Runs `body` holding an exclusive lock on the SQLite database at `path`, which no other connection may have open
    /// (an open connection in WAL mode holds a shared lock for as long as it is open). Throws if one does.
    /// `foldingWAL` first takes the database out of WAL mode, which copies its write-ahead log into the file, so that
    /// the file alone is the whole database.
    private static func withExclusiveAccess(to path: String, foldingWAL: Bool = false, _ body: () throws -> Void = {}) throws {
        var configuration = Configuration()
        configuration.busyMode = .immediateError
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA locking_mode = EXCLUSIVE") }
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            try queue.writeWithoutTransaction { db in
                if foldingWAL, try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE") != "delete" {
                    throw StoreError("cannot take the database at \(path) out of WAL mode")
                }
                try db.execute(sql: "BEGIN EXCLUSIVE")
                defer { try? db.execute(sql: "ROLLBACK") }
                try body()
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            throw StoreError("the database at \(path) is in use (is the gateway running?): stop it first")
        } catch let error as DatabaseError {
            throw StoreError("cannot check that the database at \(path) is not in use (\(StoreDatabase.describe(error))): stop the gateway, move the file aside yourself, and restore again")
        }
    }

    // MARK: - The backup file

    /// Copies the regular file at `path` (never through a link, nor from a pseudo filesystem) into `output`.
    private static func copy(_ path: String, into output: PrivateFile.Output) throws {
        let (descriptor, _) = try PrivateFile.openRegularFile(path)
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw PrivateFileError(.failed, "cannot read \(path): \(PrivateFile.describe(errno))")
            }
            if count == 0 { return }
            try output.write(Data(buffer[..<count]))
        }
    }

    /// Checks the copy at `path` of the backup `file` before anything trusts it, and its seal with `key` if it has one;
    /// returns what it states, and the seal.
    private static func inspect(_ path: String, file: String, key: LogVerifierKey) throws -> (RestoreReport, BackupSeal?) {
        // The reasons quote the file's own contents (names, schema, integrity messages): escaped, line feeds and all.
        let notABackup = { (why: String) in StoreError("\(file) is not a WarrantGate backup, or was altered: \(TerminalText.escaped(why))") }
        guard let handle = FileHandle(forReadingAtPath: path), let header = try? handle.read(upToCount: 100) else {
            throw StoreError("cannot read the copy of \(file)")
        }
        try? handle.close()
        // A backup is written as a SQLite file in rollback-journal mode (bytes 18 and 19 of the header are 1).
        guard header.count == 100, header.prefix(16) == Data("SQLite format 3\0".utf8), header[18] == 1, header[19] == 1 else {
            throw notABackup("it is not a SQLite database written by `warrant-gate backup`")
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA trusted_schema = OFF") }
        var report = RestoreReport()
        var seal: BackupSeal?
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            try queue.read { db in
                let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                guard integrity == ["ok"] else { throw notABackup("SQLite's integrity check fails: \(integrity.prefix(3).joined(separator: "; "))") }
                try checkSchema(db, notABackup: notABackup)
                guard try String.fetchOne(db, sql: "SELECT value FROM backup_manifest WHERE key = 'format'") == BackupFormat.name else {
                    throw notABackup("its manifest does not name the format \(BackupFormat.name)")
                }
                // Unchecked in an unsealed backup, and recorded in the log: no more than a time's length of it.
                report.backupCreated = try String.fetchOne(db, sql: "SELECT value FROM backup_manifest WHERE key = 'created'").map { String($0.prefix(40)) }
                guard try Int.fetchOne(db, sql: "SELECT count(*) FROM backup_documents WHERE typeof(sha256) != 'text' OR typeof(content) != 'blob'") == 0 else {
                    throw notABackup("a document is not bytes under a name")
                }
                // Sized before any is read: a crafted file's document may be of any size.
                guard try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM backup_documents WHERE length(content) > ?", arguments: [DocumentStore.maximumSize]
                ) == 0 else {
                    throw notABackup("a document is larger than a scan may be (\(DocumentStore.maximumSize / (1 << 20)) MiB)")
                }
                let rows = try Row.fetchCursor(db, sql: "SELECT sha256, content FROM backup_documents")
                while let row = try rows.next() {
                    guard case .text(let name) = try SQLiteSession.value(row, at: 0), BackupFormat.isDigest(name) else {
                        throw notABackup("a document's name is not a SHA-256")
                    }
                    guard DocumentStore.digest(of: try row.decode(Data.self, forColumn: "content")) == name else {
                        throw notABackup("the document \(name) does not match its SHA-256")
                    }
                }
                // Before any migration: the seal's digest is of the tables as the backup wrote them.
                if let note = try String.fetchOne(db, sql: "SELECT value FROM backup_manifest WHERE key = 'seal'") {
                    do { seal = try BackupSeal.verify(note: note, key: key, contentsOf: db) } catch let error as StoreError { throw notABackup(error.message) }
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw notABackup(StoreDatabase.describe(error))
        }
        return (report, seal)
    }

    /// Requires the schema to be exactly a store's as of the migrations the file says it applied (a prefix of this
    /// version's), plus the backup's tables: no table, index, trigger or view of its own.
    private static func checkSchema(_ db: Database, notABackup: (String) -> StoreError) throws {
        if let problem = try StoreSchema.problem(db, extraTables: BackupFormat.tables) { throw notABackup(problem) }
    }
}
