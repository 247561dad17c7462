import NIOCore
import PostgresNIO
import WarrantGateCore

/// How an append to the PostgreSQL log is written, for the gateway's group commit and the CLI's admin records alike.
///
/// In one transaction: the one frontier row is locked (``lockFrontier``), the entries are inserted after it with the
/// next sequence numbers, the tree's new stored nodes with them, and the frontier is moved past them. Every appender,
/// on every gateway, queues on that row lock, so sequence numbers stay contiguous and the tree stays one tree.
enum PostgresLogAppend {
    /// Locks the frontier row until the transaction ends, and reads it.
    static let lockFrontier = "SELECT size, subtrees FROM tree_frontier WHERE id = 1 FOR UPDATE"
    /// Reads the frontier row as the last committed append left it.
    static let readFrontier = "SELECT size, subtrees FROM tree_frontier WHERE id = 1"

    /// The most rows one INSERT takes: six bound parameters each, within PostgreSQL's 65,535.
    static let maxRowsPerInsert = 1_000

    /// The frontier a `tree_frontier` row describes.
    static func frontier(size: Int64, subtrees: ByteBuffer) throws -> MerkleFrontier {
        guard size >= 0, let frontier = MerkleFrontier(size: UInt64(size), encoded: subtrees) else {
            throw StoreError("the log's tree frontier is malformed")
        }
        return frontier
    }

    /// The statements that append `entries` to the log whose tree is `frontier` (read with ``lockFrontier`` in the
    /// same transaction), and the tree with them.
    static func statements(_ entries: [LogAppender.Pending], after frontier: MerkleFrontier) -> (queries: [PostgresQuery], frontier: MerkleFrontier) {
        var frontier = frontier
        var queries: [PostgresQuery] = []
        var nodes: [(level: Int, index: UInt64, hash: Merkle.Hash)] = []
        var start = entries.startIndex
        while start < entries.endIndex {
            let chunk = entries[start..<min(start + maxRowsPerInsert, entries.endIndex)]
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
                nodes += frontier.append(leaf: entry.leaf).filter { $0.level >= LogAppender.storedLevel }
            }
            queries.append(PostgresQuery(unsafeSQL: sql, binds: binds))
            start = chunk.endIndex
        }
        for node in nodes {
            queries.append("INSERT INTO merkle_nodes (level, idx, hash) VALUES (\(node.level), \(Int64(node.index)), \(ByteBuffer(bytes: node.hash)))")
        }
        if !entries.isEmpty {
            queries.append("UPDATE tree_frontier SET size = \(Int64(frontier.size)), subtrees = \(frontier.encodedSubtrees) WHERE id = 1")
        }
        return (queries, frontier)
    }
}
