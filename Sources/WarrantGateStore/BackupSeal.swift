import Crypto
import Foundation
import GRDB
import WarrantGateCore

/// A backup's seal: a checkpoint of the backup's log at its exact tree size, signed with the log's key when the
/// backup is made, with one extension line that commits to a digest of everything else in the file the log does not
/// vouch for — the registry (warrants, agencies, revocations, records and facts about inmates, settings), the
/// archive state, the names of the scans and the manifest.
///
/// A restore recomputes the log and the digest and checks both against the seal with the verifier key: an edited
/// registry, a scan added or removed, or an entry appended after the backup was made (with `warrant-gate` itself,
/// which signs nothing without the key) no longer matches. Only the holder of the signing key can seal.
struct BackupSeal {
    static let extensionPrefix = "warrant-gate-backup-contents sha256:"

    /// Tables the digest leaves out, each vouched for otherwise: the log and its tree (recomputed by the verifier and
    /// checked against the seal's root) and the checkpoints (each signed). Every other table is in the digest, so a
    /// table a later migration adds is sealed without a change here.
    static let vouchedOtherwise: Set<String> = ["log", "merkle_nodes", "archived_leaves", "checkpoints"]

    let checkpoint: Checkpoint
    /// The signed note, for the verifier to check the log against.
    let note: String

    /// Signs the seal of the backup copy `db`, whose tables are all written: its log's tree must match the stored
    /// tree and extend the latest checkpoint in it, as for any checkpoint.
    static func sign(_ db: Database, key: LogSigningKey) throws -> String {
        let session = SQLiteSession(db: db)
        let frontier = try session.logFrontier()
        guard try LogAppender.root(session, size: frontier.size) == frontier.root else {
            throw StoreError("the backup copy's tree does not match its entries: refusing to seal it (run `warrant-gate log verify`)")
        }
        let last = try Checkpointer.latest(session)
        let rootAtLast = try last.map { try LogAppender.root(session, size: min($0.size, frontier.size)) }
        guard let head = try Checkpointer.next(origin: key.name, frontier: frontier, last: last, rootAtLast: rootAtLast, always: true) else {
            throw StoreError("cannot seal the backup: no checkpoint of its log")
        }
        let seal = Checkpoint(origin: head.origin, size: head.size, root: head.root, extensions: [extensionPrefix + (try digest(db))])
        return try seal.signed(by: key)
    }

    /// Checks the seal's signature with `key`, and that it commits to `db`'s contents as they are now.
    static func verify(note: String, key: LogVerifierKey, contentsOf db: Database) throws -> BackupSeal {
        let checkpoint: Checkpoint
        do { checkpoint = try Checkpoint.verify(note: note, key: key) } catch {
            throw StoreError("its seal does not verify with the key \(key.name): \(error)")
        }
        guard checkpoint.extensions.count == 1, checkpoint.extensions[0].hasPrefix(extensionPrefix) else {
            throw StoreError("its seal is a checkpoint that commits to no contents")
        }
        guard checkpoint.extensions[0].dropFirst(extensionPrefix.count) == (try digest(db)) else {
            throw StoreError("its registry, scans or manifest are not what was sealed when the backup was made: they were altered")
        }
        return BackupSeal(checkpoint: checkpoint, note: note)
    }

    /// SHA-256 over every table but ``vouchedOtherwise``, in name order: each table's name and its rows (sorted, so that
    /// the order SQLite returns them in does not matter), each row its columns' names, types and values, every part
    /// length-prefixed. Of `backup_documents`, only the names: each scan is checked against its name; of
    /// `backup_manifest`, all but the seal.
    static func digest(_ db: Database) throws -> String {
        var hasher = SHA256()
        func put(_ bytes: some Collection<UInt8>) {
            withUnsafeBytes(of: UInt64(bytes.count).bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Array(bytes))
        }
        let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_schema WHERE type = 'table' AND substr(name, 1, 7) != 'sqlite_' ORDER BY name")
        for table in tables where !vouchedOtherwise.contains(table) {
            let sql = switch table {
            case "backup_documents": "SELECT sha256 FROM backup_documents"
            case "backup_manifest": "SELECT key, value FROM backup_manifest WHERE key != 'seal'"
            default: "SELECT * FROM \(table.quotedDatabaseIdentifier)"
            }
            var rows: [[UInt8]] = []
            let cursor = try Row.fetchCursor(db, sql: sql)
            while let row = try cursor.next() { rows.append(try encode(row)) }
            rows.sort { $0.lexicographicallyPrecedes($1) }
            put(Array(table.utf8))
            put(withUnsafeBytes(of: UInt64(rows.count).bigEndian) { Array($0) })
            for row in rows { put(row) }
        }
        return Hex.encode(Array(hasher.finalize()))
    }

    /// A row's columns, each its name, a type tag and its value, length-prefixed. Text must be UTF-8 without NUL
    /// (``SQLiteSession/value(_:at:)``), so that the value sealed is the value the store reads.
    private static func encode(_ row: Row) throws -> [UInt8] {
        var bytes: [UInt8] = []
        func put(_ part: [UInt8]) {
            withUnsafeBytes(of: UInt64(part.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: part)
        }
        for (index, column) in row.columnNames.enumerated() {
            put(Array(column.utf8))
            switch try SQLiteSession.value(row, at: index) {
            case .null: put([0])
            case .integer(let number): put([1] + withUnsafeBytes(of: number.bigEndian) { Array($0) })
            case .real(let number): put([2] + withUnsafeBytes(of: number.bitPattern.bigEndian) { Array($0) })
            case .text(let text): put([3] + Array(text.utf8))
            case .blob(let bytes): put([4] + bytes)
            }
        }
        return bytes
    }
}
