import Foundation
import GRDB
import WarrantGateCore

/// The log's signing key files: the private key (owner-only) and, beside it, the public verifier key (`.pub`).
public struct LogKeyFiles: Sendable {
    public let privatePath: String
    public var publicPath: String { privatePath + ".pub" }

    public init(privatePath: String) {
        self.privatePath = privatePath
    }

    /// The default location: `log-signing.key` beside the database.
    public init(databasePath: String) {
        privatePath = URL(fileURLWithPath: databasePath).deletingLastPathComponent().appendingPathComponent("log-signing.key").path
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: privatePath) }

    /// Creates a new key: the private key 0600 and the verifier key 0644, both new files (never through a symbolic
    /// link), in a directory created 0700 if missing. Refuses to overwrite either file, since checkpoints signed by an
    /// earlier key could no longer be checked.
    @discardableResult
    public func create(name: String) throws -> LogSigningKey {
        guard !exists else { throw StoreError("\(privatePath) already exists; a log keeps its key for life") }
        try PrivateFile.checkTarget(privatePath, existing: .refuse)
        try PrivateFile.checkTarget(publicPath, existing: .refuse)
        let key = LogSigningKey(name: name)
        try PrivateFile.makeDirectory(URL(fileURLWithPath: privatePath).deletingLastPathComponent().path)
        try PrivateFile.write(Data(key.encoded.utf8), to: privatePath, mode: 0o600, existing: .refuse)
        do {
            try PrivateFile.write(Data(key.verifier.encoded.utf8), to: publicPath, mode: 0o644, existing: .refuse)
        } catch {
            try? FileManager.default.removeItem(atPath: privatePath)  // ours, just made: keep no key without its verifier key
            throw error
        }
        return key
    }

    public func signingKey() throws -> LogSigningKey {
        guard let text = try? String(contentsOfFile: privatePath, encoding: .utf8) else {
            throw StoreError("no log signing key at \(privatePath) (create one with `warrant-gate log init-key`)")
        }
        do { return try LogSigningKey(encoded: text) } catch { throw StoreError("\(privatePath): \(error)") }
    }

    public func verifierKey() throws -> LogVerifierKey {
        if let text = try? String(contentsOfFile: publicPath, encoding: .utf8) {
            do { return try LogVerifierKey(encoded: text) } catch { throw StoreError("\(publicPath): \(error)") }
        }
        return try signingKey().verifier
    }
}

/// A stored checkpoint.
public struct StoredCheckpoint: Sendable {
    public let id: Int64
    public let size: UInt64
    public let root: Merkle.Hash
    public let note: String
    public let time: String
}

/// Signs checkpoints of the log, never two that are inconsistent with each other.
public struct Checkpointer: Sendable {
    let writer: any DatabaseWriter
    public let key: LogSigningKey
    /// The origin line, which names this log (for example `denver-county-jail.example/warrant-gate`).
    public let origin: String

    init(writer: any DatabaseWriter, key: LogSigningKey, origin: String) {
        self.writer = writer
        self.key = key
        self.origin = origin
    }

    /// Signs a checkpoint of the whole log if it has grown since the last one (or if `always`). Before signing, it
    /// recomputes the root at the last checkpoint's size from the stored tree and refuses if it differs.
    @discardableResult
    public func sign(always: Bool = false, at time: Date = Date()) throws -> StoredCheckpoint? {
        try writer.write { db in
            let frontier = try LogAppender.frontier(db, reusing: nil)
            let last = try Self.latest(db)
            let rootAtLast = try last.map { try LogAppender.root(db, size: min($0.size, frontier.size)) }
            guard let checkpoint = try Self.next(origin: origin, frontier: frontier, last: last, rootAtLast: rootAtLast, always: always) else {
                return nil
            }
            let note = try checkpoint.signed(by: key)
            try db.execute(
                sql: "INSERT INTO checkpoints (size, root, note, time) VALUES (?, ?, ?, ?)",
                arguments: [Int64(checkpoint.size), Data(checkpoint.root), note, Timestamp.format(time)]
            )
            return StoredCheckpoint(id: db.lastInsertedRowID, size: checkpoint.size, root: checkpoint.root, note: note, time: Timestamp.format(time))
        }
    }

    /// The checkpoint to sign over the log's tree `frontier`, given the last one signed and the tree's root at that one's
    /// size now: nil when nothing is new (unless `always`); an error when the log is shorter than the last checkpoint or
    /// no longer matches it, since a checkpoint inconsistent with an earlier one must never be signed.
    static func next(
        origin: String, frontier: MerkleFrontier, last: StoredCheckpoint?, rootAtLast: Merkle.Hash?, always: Bool
    ) throws -> Checkpoint? {
        if let last {
            guard frontier.size >= last.size else {
                throw StoreError("the log has \(frontier.size) entries but checkpoint \(last.id) covers \(last.size): refusing to sign")
            }
            guard rootAtLast == last.root else {
                throw StoreError("the log no longer matches checkpoint \(last.id): refusing to sign an inconsistent checkpoint")
            }
            if frontier.size == last.size && !always { return nil }
        } else if frontier.size == 0 && !always {
            return nil
        }
        return Checkpoint(origin: origin, size: frontier.size, root: frontier.root)
    }

    /// How many entries the latest signed checkpoint covers; 0 before the first.
    public func signedSize() throws -> UInt64 {
        try Self.latest(writer)?.size ?? 0
    }

    /// How many entries the log holds now.
    public func logSize() async throws -> UInt64 {
        try await writer.read { db in try LogAppender.size(db) }
    }

    static func latest(_ reader: any DatabaseReader) throws -> StoredCheckpoint? {
        try reader.read { db in try latest(db) }
    }

    static func latest(_ db: Database) throws -> StoredCheckpoint? {
        try Row.fetchOne(db, sql: "SELECT * FROM checkpoints ORDER BY id DESC LIMIT 1").map(checkpoint)
    }

    static func all(_ db: Database) throws -> [StoredCheckpoint] {
        try Row.fetchAll(db, sql: "SELECT * FROM checkpoints ORDER BY id").map(checkpoint)
    }

    private static func checkpoint(_ row: Row) -> StoredCheckpoint {
        StoredCheckpoint(id: row["id"], size: UInt64(row["size"] as Int64), root: Array(row["root"] as Data), note: row["note"], time: row["time"])
    }
}
