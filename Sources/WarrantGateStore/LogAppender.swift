import Foundation
import GRDB
import WarrantGateCore

/// Appends entries to the log and to its Merkle tree, in the caller's transaction.
///
/// Every writer — the gateway's group commit and the CLI's admin records — goes through here, so sequence numbers
/// stay contiguous and every entry is a leaf of the one tree. The tree's right edge is kept in `tree_state`; each
/// append costs O(log n) and never rescans history.
enum LogAppender {
    struct Pending {
        let kind: String
        let time: String
        let decisionId: String?
        let entry: String
    }

    static func append(_ db: Database, _ entries: [Pending]) throws {
        guard !entries.isEmpty else { return }
        var frontier = try loadFrontier(db)
        let insert = try db.cachedStatement(sql: "INSERT INTO log (seq, kind, time, decision_id, entry, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)")
        let insertNode = try db.cachedStatement(sql: "INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)")
        for entry in entries {
            let leaf = Merkle.leafHash(LogLeaf.bytes(kind: entry.kind, entry: entry.entry))
            let seq = Int64(frontier.size) + 1
            try insert.execute(arguments: [seq, entry.kind, entry.time, entry.decisionId, entry.entry, Data(leaf)])
            for node in frontier.append(leaf: leaf) {
                try insertNode.execute(arguments: [node.level, Int64(node.index), Data(node.hash)])
            }
        }
        try db.execute(sql: "UPDATE tree_state SET frontier = ? WHERE id = 1", arguments: [Data(frontier.encoded)])
    }

    static func loadFrontier(_ db: Database) throws -> MerkleFrontier {
        guard let data = try Data.fetchOne(db, sql: "SELECT frontier FROM tree_state WHERE id = 1"),
              let frontier = MerkleFrontier(encoded: Array(data))
        else { throw StoreError("the log's tree state is missing or damaged: run `warrant-gate log verify`") }
        return frontier
    }

    /// The hash of the complete subtree at (level, index), read from the stored leaves and nodes.
    static func subtree(_ db: Database, level: Int, index: UInt64) throws -> Merkle.Hash {
        let data: Data?
        if level == 0 {
            data = try Data.fetchOne(db, sql: "SELECT leaf_hash FROM log WHERE seq = ?", arguments: [Int64(index) + 1])
                ?? Data.fetchOne(db, sql: "SELECT leaf_hash FROM archived_leaves WHERE seq = ?", arguments: [Int64(index) + 1])
        } else {
            data = try Data.fetchOne(db, sql: "SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?", arguments: [level, Int64(index)])
        }
        guard let data else { throw StoreError("the log's tree is missing a node (level \(level), index \(index))") }
        return Array(data)
    }

    /// The right edge of the tree over the first `size` entries, from stored nodes.
    static func frontier(_ db: Database, size: UInt64) throws -> MerkleFrontier {
        var subtrees: [(level: Int, hash: Merkle.Hash)] = []
        var start: UInt64 = 0
        for level in stride(from: 63, through: 0, by: -1) where size & (1 << UInt64(level)) != 0 {
            subtrees.append((level, try subtree(db, level: level, index: start >> UInt64(level))))
            start += 1 << UInt64(level)
        }
        return MerkleFrontier(size: size, subtrees: subtrees)
    }

    /// The root of the tree over the first `size` entries, from stored nodes in O(log n).
    static func root(_ db: Database, size: UInt64) throws -> Merkle.Hash {
        guard size > 0 else { return Merkle.emptyRoot }
        return try Merkle.rangeHash(start: 0, count: size) { level, index in try subtree(db, level: level, index: index) }
    }
}
