import Foundation
import Glibc
import WarrantGateCore

/// The log's signing key files: the private key (owner-only) and, beside it, the public verifier key (`.pub`).
public struct LogKeyFiles: Sendable {
    public let privatePath: String
    public var publicPath: String { privatePath + ".pub" }

    public init(privatePath: String) {
        self.privatePath = privatePath
    }

    /// The default location: `log-signing.key` in the store's files directory (see ``StoreLocation``).
    public init(filesDirectory: String) {
        privatePath = URL(fileURLWithPath: filesDirectory).appendingPathComponent("log-signing.key").path
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: privatePath) }

    /// The record of the last checkpoint this key signed, beside it.
    public var lastSigned: LastSignedCheckpoint { LastSignedCheckpoint(path: privatePath + ".last-signed") }

    /// Creates a new key: the private key 0600 and the verifier key 0644, both new files (never through a symbolic
    /// link), in a directory created 0700 if missing. Refuses to overwrite either file, since checkpoints signed by an
    /// earlier key could no longer be checked.
    @discardableResult
    public func create(name: String) throws -> LogSigningKey {
        if let problem = LogSigningKey.nameProblem(name) { throw StoreError(problem) }
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
        guard let text = try? YAMLNode.readText(path: privatePath) else {
            throw StoreError("no log signing key at \(privatePath) (create one with `warrant-gate log init-key`)")
        }
        do { return try LogSigningKey(encoded: text) } catch { throw StoreError("\(privatePath): \(error)") }
    }

    /// The log's verifier key: the signing key's own where it can be read (the `.pub` beside it may be writable by more
    /// accounts than the key), else the `.pub`.
    public func verifierKey() throws -> LogVerifierKey {
        if let key = try? signingKey() { return key.verifier }
        guard let text = try? YAMLNode.readText(path: publicPath) else {
            throw StoreError("no log verifier key at \(publicPath), nor a signing key at \(privatePath) (create one with `warrant-gate log init-key`)")
        }
        do { return try LogVerifierKey(encoded: text) } catch { throw StoreError("\(publicPath): \(error)") }
    }
}

/// The last checkpoint a key signed, kept in a file beside the key (mode 0644: a checkpoint is public), outside the
/// database. Whoever can write the database can delete checkpoints and cut the log back; a signer that trusted only
/// the database would then sign a fork of what it signed before. A signer refuses to sign while the log does not hold
/// the checkpoint recorded here (``Checkpointer/prepare(_:origin:always:remembered:recordedAt:)``).
public struct LastSignedCheckpoint: Sendable {
    public let path: String

    /// The recorded checkpoint, checked with `key`; nil when none was recorded. Throws when the file cannot be read or
    /// is not a checkpoint signed by `key`: a signer must not guess.
    func read(key: LogVerifierKey) throws -> Checkpoint? {
        guard FileManager.default.fileExists(atPath: path) || (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil else {
            return nil
        }
        let text = String(decoding: try PrivateFile.read(path, limit: 1 << 16), as: UTF8.self)
        do { return try Checkpoint.verify(note: text, key: key) } catch {
            throw StoreError("\(path) is not a checkpoint signed by this key (\(error)): refusing to sign")
        }
    }

    /// The recorded note as it is written, unchecked; nil when the file does not exist.
    public func recordedNote() throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return String(decoding: try PrivateFile.read(path, limit: 1 << 16), as: UTF8.self)
    }

    /// Records `note` as the last checkpoint signed, replacing the record before it unless that one is larger (two
    /// signers, a gateway and the CLI, may finish in either order), or whatever it is when `replacingLarger` (a
    /// deliberate rollback).
    /// The comparison and the write hold an exclusive `flock` on the record's directory where the filesystem takes
    /// one (not NFS), so that a smaller record written by a process that compared first does not replace a larger one.
    public func record(_ note: String, replacingLarger: Bool = false) throws {
        let directory = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if directory >= 0 { close(directory) } }
        while directory >= 0, flock(directory, LOCK_EX) != 0, errno == EINTR {}
        if !replacingLarger, let size = Self.size(of: note),
           let recorded = try? PrivateFile.read(path, limit: 1 << 16), let recordedSize = Self.size(of: String(decoding: recorded, as: UTF8.self)),
           recordedSize > size {
            return
        }
        try PrivateFile.write(Data(note.utf8), to: path, mode: 0o644, existing: .replaceRegularFile)
    }

    /// The tree size a note's second line states.
    private static func size(of note: String) -> UInt64? {
        note.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().first.flatMap { UInt64($0) }
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

/// Signs checkpoints of the log, never two that are inconsistent with each other, one signer at a time.
///
/// A signing first prepares, in a read transaction, the checkpoint of the log as it stands: it rebuilds the tree's
/// right edge from what it can trust, the stored tree at the last checkpoint's size (which must give that
/// checkpoint's root) extended by the leaves of every entry since, hashed anew from the entries. The stored right edge
/// and the stored tree must both match it: the frontier, the nodes appenders derive from it and the stored leaf
/// hashes are written by the gateways' database role, so a forgery there must not reach a signature. Reading and
/// hashing happen outside the write transaction, which on SQLite would hold every appender for their length; what
/// they cover is never rewritten (the log is append-only), so the result stands.
///
/// It then signs in one write transaction: it takes the signer's lease (on PostgreSQL, a transaction-scoped advisory
/// lock shared by every gateway and CLI; on SQLite, the write transaction itself), signs only if the last checkpoint
/// is still the one the preparation extended (another signer may have signed meanwhile), and inserts the new
/// checkpoint with the id after the last one's, so that even a signer that bypassed the lease could not add a second
/// checkpoint after the same predecessor (compare-and-swap on the primary key).
public struct Checkpointer: Sendable {
    let database: any SQLDatabase
    public let key: LogSigningKey
    /// The origin line, which names this log (for example `denver-county-jail.example/warrant-gate`).
    public let origin: String
    /// Where the last checkpoint signed is recorded outside the database; nil for a signer that keeps no record.
    let lastSigned: LastSignedCheckpoint?

    init(database: any SQLDatabase, key: LogSigningKey, origin: String, lastSigned: LastSignedCheckpoint? = nil) {
        self.database = database
        self.key = key
        self.origin = origin
        self.lastSigned = lastSigned
    }

    /// Signs a checkpoint of the whole log if it has grown since the last one (or if `always`); nil when there was
    /// nothing new to sign, or another signer holds the lease or signed meanwhile.
    @discardableResult
    public func sign(always: Bool = false, at time: Date = Date()) throws -> StoredCheckpoint? {
        let origin = origin
        var remembered = try lastSigned?.read(key: key.verifier)
        // Another signer (another gateway) may sign a smaller checkpoint meanwhile: then this one prepares again over
        // what is left, so that its entries are not left unsigned (at shutdown, for good).
        for attempt in 1...Self.signingAttempts {
            let prepared = try database.read { session in
                try Self.prepare(session, origin: origin, always: always, remembered: remembered, recordedAt: lastSigned?.path ?? "")
            }
            let lastChecked = prepared.last.flatMap { try? Checkpoint.verify(note: $0.note, key: key.verifier) }
            // Another host's signing with this key, which extends what this one recorded: recorded too, so that a
            // database later cut back below it is refused here as well, not signed into a second history.
            if let last = prepared.last, prepared.lastExtendsRemembered, let lastChecked {
                try lastSigned?.record(last.note)
                remembered = lastChecked
            }
            guard let checkpoint = prepared.checkpoint else { return nil }
            // A chain of checkpoints is one key's: a gateway given another key would add checkpoints no verifier of
            // the log could check.
            if let last = prepared.last, lastChecked == nil {
                throw StoreError("""
                    the latest checkpoint (\(last.id)) was not signed by this key (\(key.name)): another key signs this log (every \
                    gateway and the CLI must sign with the log's one key), or the row was written by hand. Refusing to sign; \
                    `warrant-gate log verify` says which
                    """)
            }
            let signed: StoredCheckpoint? = try database.write { session in
                guard try session.takeSignerLease(), try Self.latest(session)?.id == prepared.last?.id else { return nil }
                let note = try checkpoint.signed(by: key)
                let (id, overflow) = (prepared.last?.id ?? 0).addingReportingOverflow(1)
                guard !overflow else { throw StoreError("the checkpoints' ids are exhausted") }
                let stamp = Timestamp.format(time)
                try session.execute(
                    "INSERT INTO checkpoints (id, size, root, note, time) VALUES (?, ?, ?, ?, ?)",
                    id, Int64(checkpoint.size), checkpoint.root, note, stamp
                )
                return StoredCheckpoint(id: id, size: checkpoint.size, root: checkpoint.root, note: note, time: stamp)
            }
            if let signed {
                try lastSigned?.record(signed.note)
                return signed
            }
            if attempt < Self.signingAttempts { usleep(20_000) }
        }
        return nil
    }

    /// How many times ``sign(always:at:)`` prepares a checkpoint when another signer holds the lease or signs first.
    static let signingAttempts = 3

    /// ``sign(always:at:)`` on a thread of its own at a lower priority (see ``NamedThread/Scheduling/background``):
    /// reading and hashing the entries since the last checkpoint then gives way to the event loops under load.
    public func signInBackground(always: Bool = false) async throws -> StoredCheckpoint? {
        try await withCheckedThrowingContinuation { continuation in
            // Exactly one of the two resumes: a thread that did not start runs nothing.
            let started = NamedThread.start("wg-checkpoint", scheduling: .background) {
                continuation.resume(with: Result { try sign(always: always) })
            }
            if !started { continuation.resume(throwing: StoreError("cannot start a thread to sign a checkpoint")) }
        }
    }

    /// The checkpoint to sign over the log as `session` sees it, checked against its entries (nil when nothing is new,
    /// unless `always`), and the last checkpoint it follows.
    ///
    /// `remembered`, the checkpoint this key last signed (``LastSignedCheckpoint``), must be one the log holds: the log
    /// has at least its entries, and where the entries are hashed anew (those after the latest checkpoint row), the
    /// tree at its size has its root. A latest row as large as `remembered` or larger (another host's signing with the
    /// same key, after a database cut back below `remembered` perhaps) must extend it: the same root at the same size,
    /// or a consistency proof between the two roots, built from the stored tree (a proof is sound whoever supplied its
    /// hashes); `lastExtendsRemembered` says the row is larger and does (or that nothing is remembered). Stored nodes
    /// are otherwise asked only for what the entries hashed anew confirm (``extend(_:to:in:rootAt:)``), since whoever
    /// could cut the log back could rewrite them too.
    static func prepare(
        _ session: any SQLSession, origin: String, always: Bool, remembered: Checkpoint? = nil, recordedAt: String = ""
    ) throws -> (checkpoint: Checkpoint?, last: StoredCheckpoint?, lastExtendsRemembered: Bool) {
        let stored = try session.logFrontier()
        if let remembered, stored.size < remembered.size { throw forked(remembered, recordedAt: recordedAt) }
        let last = try latest(session)
        var lastExtendsRemembered = remembered == nil
        if let remembered, let last, last.size >= remembered.size, last.size <= stored.size {
            let proof = remembered.size == 0 ? [] : try Merkle.consistencyProof(oldSize: remembered.size, newSize: last.size) { level, index in
                try LogAppender.subtree(session, level: level, index: index)
            }
            guard Merkle.isConsistent(oldSize: remembered.size, oldRoot: remembered.root, newSize: last.size, newRoot: last.root, proof: proof)
            else { throw forked(remembered, recordedAt: recordedAt) }
            lastExtendsRemembered = last.size > remembered.size
        }
        let atLast = try LogAppender.frontier(session, size: min(last?.size ?? 0, stored.size))
        guard let checkpoint = try next(origin: origin, frontier: stored, last: last, rootAtLast: last.map { _ in atLast.root }, always: always) else {
            return (nil, last, lastExtendsRemembered)
        }
        let watched = remembered.flatMap { $0.size > atLast.size ? $0.size : nil }
        let (rebuilt, rootAtWatched) = try extend(atLast, to: stored.size, in: session, rootAt: watched)
        if let remembered, watched != nil, rootAtWatched != remembered.root { throw forked(remembered, recordedAt: recordedAt) }
        guard rebuilt == stored, try LogAppender.root(session, size: stored.size) == rebuilt.root else {
            throw StoreError("the tree's stored right edge or nodes do not match the log's entries: refusing to sign")
        }
        return (checkpoint, last, lastExtendsRemembered)
    }

    /// Why a signer refuses a log that lacks the checkpoint its key last signed.
    private static func forked(_ remembered: Checkpoint, recordedAt path: String) -> StoreError {
        StoreError("""
            this key last signed a checkpoint of \(remembered.size) entries (\(path)), which the log no longer holds: it was cut \
            back or changed; refusing to sign a fork. After a deliberate restore of an older backup, `warrant-gate restore \
            --allow-rollback` records the restored checkpoint there (after pg_restore or a base backup, `warrant-gate log \
            checkpoint --after-restore REASON`, on each host whose record this is)
            """)
    }

    /// How many entries ``extend(_:to:in:rootAt:)`` reads at a time: each read is one statement, under the statement timeout,
    /// and the memory it takes is bounded whatever the gap since the last checkpoint.
    static let extensionBatch: Int64 = 4_096

    /// `frontier` extended by the entries after it up to `size`, each one's leaf hashed anew from its kind and entry
    /// (the stored `leaf_hash` must agree): the gateways' role inserts rows, and a row whose stored hash is not its
    /// entry's must not reach a signature. Each stored node the entries complete must be the one they make, or proofs
    /// through it (of these entries and of those beside them) would not lead to the signed root. The entries after
    /// the last checkpoint are never archived. Also returns the root of the tree at `rootAt` on the way, when the
    /// extension passes that size.
    static func extend(
        _ frontier: MerkleFrontier, to size: UInt64, in session: any SQLSession, rootAt watched: UInt64? = nil
    ) throws -> (frontier: MerkleFrontier, rootAtWatched: Merkle.Hash?) {
        var frontier = frontier
        var rootAtWatched: Merkle.Hash?
        var next = Int64(frontier.size) + 1
        let last = Int64(size)
        while next <= last {
            let through = min(last, next + extensionBatch - 1)
            var seq = next
            try session.forEachLogLeaf(next...through) { found, leaf, storedMatches in
                guard found == seq else { throw StoreError("the log lacks entry \(seq): refusing to sign") }
                guard storedMatches else {
                    throw StoreError("entry \(seq) does not match its stored leaf hash: refusing to sign (run `warrant-gate log verify`)")
                }
                for node in frontier.append(leaf: leaf) where node.level >= LogAppender.storedLevel {
                    guard try LogAppender.subtree(session, level: node.level, index: node.index) == node.hash else {
                        throw StoreError("""
                            the tree's stored node at level \(node.level), index \(node.index) is not the one the entries make: refusing to \
                            sign (run `warrant-gate log verify`)
                            """)
                    }
                }
                if frontier.size == watched { rootAtWatched = frontier.root }
                seq += 1
            }
            guard seq == through + 1 else { throw StoreError("the log lacks entries up to \(through): refusing to sign") }
            next = through + 1
        }
        return (frontier, rootAtWatched)
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
        try database.read { session in try Self.latest(session)?.size ?? 0 }
    }

    /// How many entries the log holds now.
    public func logSize() throws -> UInt64 {
        try database.read { session in try session.logSize() }
    }

    static func latest(_ session: any SQLSession) throws -> StoredCheckpoint? {
        try session.fetchOne("SELECT * FROM checkpoints ORDER BY id DESC LIMIT 1").map(checkpoint)
    }

    static func all(_ session: any SQLSession) throws -> [StoredCheckpoint] {
        try session.fetchAll("SELECT * FROM checkpoints ORDER BY id").map(checkpoint)
    }

    /// A checkpoint row, whose size and root must be those its note states: the columns are read in its place (for
    /// reports, proofs and the next signing), and nothing signs them.
    private static func checkpoint(_ row: SQLRow) throws -> StoredCheckpoint {
        let stored = try unchecked(row)
        if let problem = columnProblem(stored) { throw StoreError(problem) }
        return stored
    }

    /// A checkpoint row as it is stored, its columns unchecked (``columnProblem(_:)``).
    static func unchecked(_ row: SQLRow) throws -> StoredCheckpoint {
        StoredCheckpoint(
            id: try row.int64("id"), size: UInt64(max(try row.int64("size"), 0)), root: try row.bytes("root"), note: try row.text("note"),
            time: try row.text("time")
        )
    }

    /// Why a checkpoint row's columns are not what its note states, or nil if they are.
    static func columnProblem(_ stored: StoredCheckpoint) -> String? {
        guard let stated = try? Checkpoint.stated(note: stored.note) else { return "checkpoint \(stored.id)'s note is not a signed note" }
        guard stated.size == stored.size, stated.root == stored.root else {
            return "checkpoint \(stored.id)'s size and root columns are not those its signed note states (\(stated.size) entries): the row was written by hand"
        }
        return nil
    }
}
