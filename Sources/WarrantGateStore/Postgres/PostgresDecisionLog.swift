import Logging
import NIOCore
import PostgresNIO
import Synchronization
import WarrantGateCore

/// The append-only decision log on PostgreSQL, shared by every gateway, with group commit.
///
/// An append is a transaction that locks the one frontier row (`SELECT … FOR UPDATE`), takes the next sequence
/// numbers after it, inserts the entries and moves the frontier past them. Appenders on every gateway queue on that
/// row lock, so sequence numbers stay contiguous and the tree stays one tree. Within one gateway, concurrent callers
/// share a transaction: while one batch commits, new entries queue and go out together in the next.
///
/// ``append(_:)`` returns, and ``append(_:on:completion:)`` completes, only once the commit has returned, which with
/// PostgreSQL's default `synchronous_commit = on` means the commit record is flushed, and with a synchronous standby
/// configured, that the standby has it too. If the commit fails or its outcome is unknown (the connection dropped),
/// every caller of the batch gets the error: the gateway refuses rather than forwards.
public final class PostgresDecisionLog: Sendable {
    private struct Waiter {
        let entries: [LogAppender.Pending]
        let reply: AppendReply
    }

    private struct State {
        var queue: [Waiter] = []
        var writing = false
        var commits = 0
    }

    /// The most bound parameters one INSERT takes (PostgreSQL allows 65,535).
    private static let maxRowsPerInsert = 1_000
    /// The most entries one transaction takes, so that a queue grown during a stall drains in commits that each fit
    /// the deadline.
    private static let maxBatch = 10_000

    private let client: PostgresClient
    private let logger: Logger
    private let commitTimeout: Duration
    private let state = Mutex(State())

    /// - Parameters:
    ///   - client: a client connected as the gateways' role, which the caller runs. It reconnects by itself when the
    ///     server comes back.
    ///   - commitTimeout: how long a batch may take, from its first query to its commit's return; past it, the batch's
    ///     callers get an error (the commit may still land, which logs a decision that was refused: never the reverse),
    ///     and the server ends any statement, or wait for the frontier's lock, that lasts longer. A network that
    ///     drops packets is noticed only by TCP keepalives: configure them on the server and the host.
    public init(client: PostgresClient, logger: Logger, commitTimeout: Duration = .seconds(5)) {
        self.client = client
        self.logger = logger
        self.commitTimeout = commitTimeout
    }

    /// How many transactions have committed appends so far: fewer than the appends, under load.
    public var commits: Int { state.withLock { $0.commits } }

    /// Appends entries and waits until their commit has returned.
    public func append(_ entries: [LogEntry]) async throws {
        let pending = entries.map(LogAppender.Pending.init)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            submit(Waiter(entries: pending, reply: .resume(continuation)))
        }
    }

    /// Appends entries and calls `completion` on `executor` once their commit has returned, or with the error.
    public func append(
        _ entries: [LogEntry], on executor: any LogCompletionExecutor, completion: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) {
        submit(Waiter(entries: entries.map(LogAppender.Pending.init), reply: .complete(on: executor, completion)))
    }

    private func submit(_ waiter: Waiter) {
        let startWriter = state.withLock { state in
            state.queue.append(waiter)
            guard !state.writing else { return false }
            state.writing = true
            return true
        }
        if startWriter { Task { await writeQueued() } }
    }

    /// Commits queued batches until the queue is empty, at most ``maxBatch`` entries at a time.
    private func writeQueued() async {
        while true {
            let batch = state.withLock { state -> [Waiter] in
                var count = 0
                let taken = state.queue.prefix { waiter in
                    defer { count += waiter.entries.count }
                    return count == 0 || count + waiter.entries.count <= Self.maxBatch
                }
                state.queue.removeFirst(taken.count)
                if taken.isEmpty { state.writing = false }
                return Array(taken)
            }
            guard !batch.isEmpty else { return }
            let replies = AppendReplies(batch.map(\.reply))
            // The callers are answered once: by the commit, or by the deadline if it comes first. The writer itself
            // waits for the transaction to end, which the server's statement and lock timeouts bound.
            let answered = Mutex(false)
            let answer: @Sendable (Result<Void, any Error>) -> Void = { result in
                if answered.withLock({ answered in defer { answered = true }; return !answered }) { replies.deliver(result) }
            }
            let timeout = commitTimeout
            let deadline = Task {
                try await Task.sleep(for: timeout)
                answer(.failure(StoreError("the decision log's commit took longer than \(timeout)")))
            }
            do {
                try await commit(batch.flatMap(\.entries))
                state.withLock { $0.commits += 1 }
                answer(.success(()))
            } catch {
                // Described, not reflected: a reflected query error would print the entries it carried.
                logger.error("decision log commit failed; its requests are refused", metadata: ["error": "\(error)"])
                answer(.failure(error))
            }
            deadline.cancel()
        }
    }

    /// One transaction: the frontier locked, the entries inserted after it, the frontier moved past them.
    private func commit(_ entries: [LogAppender.Pending]) async throws {
        guard !entries.isEmpty else { return }
        let logger = logger
        let milliseconds = Int64(commitTimeout / .milliseconds(1))
        try await client.transaction(logger: logger) { connection in
            // The server ends a statement that outlasts the deadline, and gives up waiting for the frontier's lock
            // before it, so that a batch that waited too long rolls back rather than landing after its callers heard.
            try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(milliseconds)"), logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL lock_timeout = \(milliseconds * 3 / 4)"), logger: logger)
            let rows = try await connection.query("SELECT size, subtrees FROM tree_frontier WHERE id = 1 FOR UPDATE", logger: logger)
            var found: (Int64, ByteBuffer)?
            for try await row in rows.decode((Int64, ByteBuffer).self) { found = row }
            guard let (size, encoded) = found, size >= 0, var frontier = MerkleFrontier(size: UInt64(size), encoded: encoded) else {
                throw StoreError("the log's tree frontier is missing or malformed")
            }
            var nodes: [(level: Int, index: UInt64, hash: Merkle.Hash)] = []
            var start = entries.startIndex
            while start < entries.endIndex {
                let chunk = entries[start..<min(start + Self.maxRowsPerInsert, entries.endIndex)]
                var sql = "INSERT INTO log (seq, kind, time, decision_id, entry, leaf_hash) VALUES "
                var binds = PostgresBindings(capacity: chunk.count * 6)
                for (row, entry) in chunk.enumerated() {
                    let first = row * 6
                    sql += row == 0 ? "" : ", "
                    sql += "($\(first + 1), $\(first + 2), $\(first + 3), $\(first + 4), $\(first + 5), $\(first + 6))"
                    binds.append(Int64(frontier.size) + 1)
                    binds.append(entry.kind)
                    binds.append(entry.time)
                    binds.append(entry.decisionId)
                    binds.append(String(decoding: entry.entry, as: UTF8.self))
                    binds.append(ByteBuffer(bytes: entry.leaf))
                    nodes += frontier.append(leaf: entry.leaf).filter { $0.level >= PostgresLogTree.storedLevel }
                }
                try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
                start = chunk.endIndex
            }
            for node in nodes {
                try await connection.query(
                    "INSERT INTO merkle_nodes (level, idx, hash) VALUES (\(node.level), \(Int64(node.index)), \(ByteBuffer(bytes: node.hash)))",
                    logger: logger
                )
            }
            try await connection.query(
                "UPDATE tree_frontier SET size = \(Int64(frontier.size)), subtrees = \(frontier.encodedSubtrees) WHERE id = 1", logger: logger
            )
        }
    }
}

/// What a walk over the PostgreSQL log finds: its size and the root of the tree over every entry; and the tree's
/// nodes read from what is stored.
public struct PostgresLogTree: Sendable, Equatable {
    public let size: UInt64
    public let root: Merkle.Hash

    /// The lowest level of the interior nodes stored in `merkle_nodes`; a lower node is hashed up from its leaves.
    static let storedLevel = 8

    /// The root of the tree over the first `size` entries, from the stored nodes and leaves in O(log n) queries.
    static func root(_ connection: PostgresConnection, size: UInt64, logger: Logger) async throws -> Merkle.Hash {
        guard size > 0 else { return Merkle.emptyRoot }
        var subtrees: [(level: Int, hash: Merkle.Hash)] = []
        var start: UInt64 = 0
        for level in stride(from: 63, through: 0, by: -1) where size & (1 << UInt64(level)) != 0 {
            subtrees.append((level, try await subtree(connection, level: level, index: start >> UInt64(level), logger: logger)))
            start += 1 << UInt64(level)
        }
        return MerkleFrontier(size: size, subtrees: subtrees).root
    }

    /// The hash of the complete subtree at (level, index).
    private static func subtree(_ connection: PostgresConnection, level: Int, index: UInt64, logger: Logger) async throws -> Merkle.Hash {
        if level >= storedLevel {
            let rows = try await connection.query(
                "SELECT hash FROM merkle_nodes WHERE level = \(level) AND idx = \(Int64(index))", logger: logger
            )
            for try await hash in rows.decode(ByteBuffer.self) { return Array(hash.readableBytesView) }
            throw StoreError("the log's tree is missing a node (level \(level), index \(index))")
        }
        let first = Int64(index << UInt64(level)) + 1, count = Int64(1) << Int64(level)
        let rows = try await connection.query(
            "SELECT seq, leaf_hash FROM log WHERE seq >= \(first) AND seq < \(first + count) ORDER BY seq", logger: logger
        )
        var hashes: [Merkle.Hash] = []
        for try await (seq, leaf) in rows.decode((Int64, ByteBuffer).self) {
            guard seq == first + Int64(hashes.count) else { break }
            hashes.append(Array(leaf.readableBytesView))
        }
        guard hashes.count == count else { throw StoreError("the log's tree is missing a node (level \(level), index \(index))") }
        while hashes.count > 1 {
            hashes = stride(from: 0, to: hashes.count, by: 2).map { Merkle.nodeHash(hashes[$0], hashes[$0 + 1]) }
        }
        return hashes[0]
    }

    /// Reads every entry in sequence order and checks that the sequence has no gap, that each stored leaf hash is the
    /// hash of its entry, that the stored nodes and the frontier row are the tree the leaves make, and that every
    /// checkpoint signed by `key` (if given) is that tree at its size; returns the tree.
    public static func verify(on client: PostgresClient, key: LogVerifierKey? = nil, logger: Logger) async throws -> PostgresLogTree {
        try await client.withConnection { connection in
            // One snapshot for every read, so that appends and signings meanwhile are not taken for tampering.
            try await connection.query("START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                let tree = try await verify(connection, key: key, logger: logger)
                try await connection.query("COMMIT", logger: logger)
                return tree
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    private static func verify(_ connection: PostgresConnection, key: LogVerifierKey?, logger: Logger) async throws -> PostgresLogTree {
        var storedNodes: [String: Merkle.Hash] = [:]
        for try await (level, index, hash) in try await connection.query("SELECT level, idx, hash FROM merkle_nodes", logger: logger)
            .decode((Int32, Int64, ByteBuffer).self) {
            storedNodes["\(level)/\(index)"] = Array(hash.readableBytesView)
        }
        var frontier = MerkleFrontier()
        var roots: [UInt64: Merkle.Hash] = [:]
        let signed = try await checkpoints(connection, logger: logger)
        let checkpointSizes = Set(signed.map(\.size))
        let rows = try await connection.query("SELECT seq, kind, entry, leaf_hash FROM log ORDER BY seq", logger: logger)
        for try await (seq, kind, entry, leaf) in rows.decode((Int64, String, String, ByteBuffer).self) {
            guard UInt64(seq) == frontier.size + 1 else { throw StoreError("the log has a gap before entry \(seq)") }
            let hash = LogLeaf.hash(kind: kind, entry: Array(entry.utf8))
            guard Array(leaf.readableBytesView) == hash else { throw StoreError("entry \(seq)'s leaf hash is not the hash of its entry") }
            for node in frontier.append(leaf: hash) where node.level >= storedLevel {
                guard storedNodes.removeValue(forKey: "\(node.level)/\(node.index)") == node.hash else {
                    throw StoreError("the stored tree node (level \(node.level), index \(node.index)) is missing or wrong")
                }
            }
            if checkpointSizes.contains(frontier.size) { roots[frontier.size] = frontier.root }
        }
        guard storedNodes.isEmpty else { throw StoreError("the stored tree has nodes beyond the log's entries") }
        let stored = try await connection.query("SELECT size, subtrees FROM tree_frontier WHERE id = 1", logger: logger)
        var found: (Int64, ByteBuffer)?
        for try await row in stored.decode((Int64, ByteBuffer).self) { found = row }
        guard let (size, encoded) = found, let recorded = MerkleFrontier(size: UInt64(max(size, 0)), encoded: encoded), recorded == frontier else {
            throw StoreError("the tree frontier does not match the log's entries")
        }
        for (index, checkpoint) in signed.enumerated() {
            guard checkpoint.id == Int64(index) + 1, index == 0 || signed[index - 1].size <= checkpoint.size else {
                throw StoreError("the checkpoints are not one chain: checkpoint \(checkpoint.id) follows \(index == 0 ? "none" : "\(signed[index - 1].id)")")
            }
            let root = checkpoint.size == 0 ? Merkle.emptyRoot : roots[checkpoint.size]
            guard root == checkpoint.root else { throw StoreError("checkpoint \(checkpoint.id) is not the log's tree at \(checkpoint.size) entries") }
            guard let key else { continue }
            let note: Checkpoint
            do { note = try Checkpoint.verify(note: checkpoint.note, key: key) } catch {
                throw StoreError("checkpoint \(checkpoint.id) does not verify: \(error)")
            }
            guard note.size == checkpoint.size, note.root == checkpoint.root else {
                throw StoreError("checkpoint \(checkpoint.id)'s signed note is not its row")
            }
        }
        return PostgresLogTree(size: frontier.size, root: frontier.root)
    }

    /// The signed checkpoints, in the order they were signed; or only the latest.
    static func checkpoints(_ connection: PostgresConnection, latestOnly: Bool = false, logger: Logger) async throws -> [StoredCheckpoint] {
        var checkpoints: [StoredCheckpoint] = []
        let rows = try await connection.query(
            latestOnly ? "SELECT id, size, root, note, time FROM checkpoints ORDER BY id DESC LIMIT 1"
                : "SELECT id, size, root, note, time FROM checkpoints ORDER BY id",
            logger: logger
        )
        for try await (id, size, root, note, time) in rows.decode((Int64, Int64, ByteBuffer, String, String).self) {
            checkpoints.append(StoredCheckpoint(id: id, size: UInt64(max(size, 0)), root: Array(root.readableBytesView), note: note, time: time))
        }
        return checkpoints
    }
}
