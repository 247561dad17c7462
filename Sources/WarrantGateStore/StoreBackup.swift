import Foundation
import GRDB
import Glibc
import WarrantGateCore

/// What ``Store/backup(to:at:)`` wrote.
public struct BackupReport: Sendable {
    /// How many entries the log has had, archived ones included: the tree's size.
    public var treeSize: UInt64 = 0
    /// The entries still in the database (the others are in archive files).
    public var entries: Int = 0
    public var checkpoints = 0
    /// The size of the latest signed checkpoint in the backup, if any.
    public var latestCheckpointSize: UInt64?
    /// Whether the backup is sealed (see ``BackupSeal``): made with the signing key at hand.
    public var sealed = false
    public var documents = 0
    public var documentBytes = 0
    /// The backup file's size.
    public var bytes = 0
    /// Files of the document store left out, each with the reason (content that does not match its name, a link…).
    public var skippedDocuments: [String] = []
    /// Digests of scans that the backed-up registry names but the document store does not hold.
    public var missingDocuments: [String] = []
}

/// The backup file: a copy of the SQLite store, page for page, with two tables added to the copy.
///
/// - `backup_manifest` (key, value): `format` (``name``), `created`, `source`, and `seal` (``BackupSeal``) when the
///   signing key was at hand.
/// - `backup_documents` (sha256, content): the document store's scans, each under its SHA-256.
///
/// The log signing key is not in it: whoever holds a backup could otherwise sign checkpoints. Back the key up once,
/// apart from the backups; a restore checks the log and the seal with the verifier key (`log-signing.key.pub`).
enum BackupFormat {
    static let name = "warrant-gate-backup/v1"
    static let tables = [
        "CREATE TABLE backup_manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE backup_documents (sha256 TEXT PRIMARY KEY, content BLOB NOT NULL)",
    ]

    /// Whether `name` is a document store's file name: a lower-case hex SHA-256.
    static func isDigest(_ name: String) -> Bool {
        name.utf8.count == 64 && name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

extension Store {
    /// Writes a backup of this SQLite store and its document store to `path`, a new file (mode 0600, never over an
    /// existing file or a link, in a directory only its owner can write), complete and synced before it appears there,
    /// and refused if it would leave its filesystem less free space than ``PrivateFile/FreeSpaceFloor/copies``.
    ///
    /// The database is copied with SQLite's online backup in one step, from one read snapshot, so the gateway keeps
    /// writing meanwhile (in WAL mode, writers do not wait for readers). The document store's scans are added to the
    /// copy afterwards, each read without following links and checked against its name; a damaged one is left out and
    /// reported, as are scans the registry names that the store lacks. With `key` (the log signing key), the copy is
    /// sealed last (``BackupSeal``); a restore refuses an unsealed backup unless told why. Throws ``StoreError`` for a
    /// PostgreSQL store.
    public func backup(to path: String, at time: Date = Date(), sealingWith key: LogSigningKey?) throws -> BackupReport {
        guard let pool = sqlitePool, let source = location.sqlitePath else {
            throw StoreError("`backup` copies a SQLite store; back up a PostgreSQL store with pg_dump or pg_basebackup, and its files directory (docs/postgresql.md#backups)")
        }
        try PrivateFile.checkOwnDirectory(holding: path)
        let output = try PrivateFile.Output(path: path, existing: .refuse, keepingFree: .copies)
        var report = BackupReport()
        // SQLite writes the copy by path: room for what it copies (the database, its write-ahead log and the scans) is
        // checked before, the floor again at the commit.
        let documents = DocumentStore(filesDirectory: location.filesDirectory).directory.path
        let files = [source, source + "-wal"] + ((try? FileManager.default.contentsOfDirectory(atPath: documents)) ?? []).map { documents + "/" + $0 }
        try output.checkFreeSpace(needing: files.reduce(0) { total, path in
            var status = Glibc.stat()
            return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG ? total &+ UInt64(max(status.st_size, 0)) : total
        })
        do {
            let copy = try DatabaseQueue(path: output.temporaryPath)
            try pool.backup(to: copy)
            try copy.writeWithoutTransaction { db in
                // The copy carries the source's WAL flag: make it one self-contained file.
                guard try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE") == "delete" else {
                    throw StoreError("SQLite refused to take the backup copy out of WAL mode")
                }
                try db.inTransaction {
                    for table in BackupFormat.tables { try db.execute(sql: table) }
                    for (key, value) in [("format", BackupFormat.name), ("created", Timestamp.format(time)), ("source", source)] {
                        try db.execute(sql: "INSERT INTO backup_manifest (key, value) VALUES (?, ?)", arguments: [key, value])
                    }
                    try Self.copyDocuments(from: DocumentStore(filesDirectory: location.filesDirectory), into: db, report: &report)
                    if let key {
                        try db.execute(sql: "INSERT INTO backup_manifest (key, value) VALUES ('seal', ?)", arguments: [try BackupSeal.sign(db, key: key)])
                        report.sealed = true
                    }
                    return .commit
                }
                try Self.describeLog(db, into: &report)
                // The full check, which restore runs too: an index that lacks a row passes the quick one.
                guard try String.fetchAll(db, sql: "PRAGMA integrity_check") == ["ok"] else {
                    throw StoreError("the backup copy fails SQLite's integrity check: the source database is damaged or was altered")
                }
            }
            try copy.close()
        } catch let error as StoreError {
            throw error
        } catch let error as PrivateFileError {
            throw error
        } catch {
            throw PrivateFileError(.failed, "cannot back up \(source) to \(path): \(StoreDatabase.describe(error))")
        }
        var status = Glibc.stat()
        if lstat(output.temporaryPath, &status) == 0 { report.bytes = Int(status.st_size) }
        try output.commit()
        return report
    }

    /// Adds every scan of `documents` to the copy's `backup_documents`, one at a time.
    private static func copyDocuments(from documents: DocumentStore, into db: Database, report: inout BackupReport) throws {
        let directory = documents.directory.path
        var status = Glibc.stat()
        if lstat(directory, &status) != 0 {
            guard errno == ENOENT else { throw PrivateFileError(.failed, "cannot read \(directory): \(PrivateFile.describe(errno))") }
        } else if status.st_mode & S_IFMT != S_IFDIR {
            report.skippedDocuments.append("\(directory): not a directory (a symbolic link?); no document was backed up")
        } else {
            for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() where BackupFormat.isDigest(name) {
                let content: Data
                do {
                    content = try DocumentStore.read(path: documents.directory.appendingPathComponent(name).path)
                } catch let error as PrivateFileError {
                    report.skippedDocuments.append("\(name): \(error.message)")
                    continue
                }
                guard DocumentStore.digest(of: content) == name else {
                    report.skippedDocuments.append("\(name): its content does not match its SHA-256 (damaged)")
                    continue
                }
                try db.execute(sql: "INSERT INTO backup_documents (sha256, content) VALUES (?, ?)", arguments: [name, content])
                report.documents += 1
                report.documentBytes += content.count
            }
        }
        report.missingDocuments = try String.fetchAll(db, sql: """
            SELECT DISTINCT document_sha256 FROM documents
            WHERE document_sha256 IS NOT NULL AND document_sha256 NOT IN (SELECT sha256 FROM backup_documents)
            ORDER BY document_sha256
            """)
    }

    /// Reads the copy's log: its tree size, entries and checkpoints.
    private static func describeLog(_ db: Database, into report: inout BackupReport) throws {
        let session = SQLiteSession(db: db)
        report.treeSize = try session.logSize()
        report.entries = try Int.fetchOne(db, sql: "SELECT count(*) FROM log") ?? 0
        let checkpoints = try Checkpointer.all(session)
        report.checkpoints = checkpoints.count
        report.latestCheckpointSize = checkpoints.last?.size
    }
}
