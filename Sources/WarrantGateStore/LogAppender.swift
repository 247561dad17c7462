import Foundation
import GRDB
import GRDBSQLite
import WarrantGateCore

/// Appends entries to the SQLite log and to its Merkle tree, in the caller's transaction, and reads the tree back
/// from what either database stores.
///
/// Every SQLite writer — the gateway's group commit and the CLI's admin records — appends through here, so sequence
/// numbers stay contiguous and every entry is a leaf of the one tree (PostgreSQL's appends are in
/// ``PostgresLogAppend``). A row's `leaf_hash` is its leaf; interior nodes are stored from level ``storedLevel`` up
/// (one row per 256 entries) in both databases, and a lower node is hashed up from its at most 128 leaves. In SQLite
/// the tree's right edge (its frontier) is not stored: it is derived from the stored nodes and the last leaves, and
/// the gateway's writer keeps it between batches while the log's size shows that no one else appended.
enum LogAppender {
    static let storedLevel = 8

    /// An entry ready to append, its leaf hash computed by whoever makes it rather than in the critical section.
    struct Pending: Sendable {
        let kind: String
        let time: String
        let decisionId: String?
        /// The entry's canonical JSON.
        let entry: [UInt8]
        let leaf: Merkle.Hash

        init(kind: String, time: String, decisionId: String?, entry: [UInt8]) {
            self.kind = kind
            self.time = time
            self.decisionId = decisionId
            self.entry = entry
            self.leaf = LogLeaf.hash(kind: kind, entry: entry)
        }

        init(_ entry: LogEntry) {
            self.init(kind: entry.kind.rawValue, time: Timestamp.format(entry.time), decisionId: entry.decisionId, entry: entry.canonical)
        }
    }

    /// The multi-row INSERTs a batch goes in as, largest chunk first: SQLite's per-statement work (step, reset,
    /// clearing the bindings) is then paid once per chunk rather than once per entry. Their text is built once:
    /// joining a 32-row statement's text on every batch cost more than binding the batch.
    private static let insertSQL = [32, 8, 1].map { rows in
        (rows: rows, sql: "INSERT INTO log (seq, kind, time, decision_id, entry, leaf_hash) VALUES "
            + repeatElement("(?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", "))
    }

    /// Appends entries to the log whose tree is `frontier` (from ``frontier(_:reusing:)`` in this SQLite transaction), and
    /// returns the tree with them.
    static func append(_ db: Database, _ entries: [Pending], to frontier: MerkleFrontier) throws -> MerkleFrontier {
        var frontier = frontier
        guard !entries.isEmpty else { return frontier }
        // Cached statements, bound directly: this loop is the group commit's critical section.
        let inserts = try insertSQL.map { try (rows: $0.rows, statement: BoundStatement(db, sql: $0.sql)) }
        var start = entries.startIndex
        while start < entries.endIndex {
            let (rows, insert) = inserts.first { $0.rows <= entries.endIndex - start }!
            for (row, entry) in entries[start..<(start + rows)].enumerated() {
                let leaf = entry.leaf
                let first = Int32(row * 6)
                try insert.bind(first + 1, Int64(frontier.size) + 1)
                try insert.bind(first + 2, text: entry.kind)
                try insert.bind(first + 3, text: entry.time)
                try insert.bind(first + 4, text: entry.decisionId)
                try insert.bind(first + 5, utf8: entry.entry)
                try insert.bind(first + 6, blob: leaf)
                for node in frontier.append(leaf: leaf) where node.level >= storedLevel {
                    let insertNode = try BoundStatement(db, sql: "INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)")
                    try insertNode.bind(1, Int64(node.level))
                    try insertNode.bind(2, Int64(node.index))
                    try insertNode.bind(3, blob: node.hash)
                    try insertNode.run()
                }
            }
            try insert.run()
            start += rows
        }
        return frontier
    }

    /// How many entries the log has had, archived ones included. Read through SQLite's interface directly: the
    /// group commit reads it for every batch.
    static func size(_ session: SQLiteSession) throws -> UInt64 {
        let query = try BoundStatement(session.db, sql: """
            SELECT coalesce((SELECT max(seq) FROM log), (SELECT archived_through FROM archive_state WHERE id = 1))
            """)
        let value = try query.firstInt64() ?? 0
        guard let size = UInt64(exactly: value) else { throw StoreError("the log's size reads as \(value)") }
        return size
    }

    /// The tree's right edge now: `cached` if it is still the log's size (the log is append-only, so a tree of the
    /// same size is the same tree), else derived from the stored nodes and leaves.
    static func frontier(_ session: SQLiteSession, reusing cached: MerkleFrontier?) throws -> MerkleFrontier {
        let size = try size(session)
        if let cached, cached.size == size { return cached }
        return try frontier(session, size: size)
    }

    /// What the stored tree holds beyond a log of `size` entries whose first `archivedThrough` are archived, or nil:
    /// a node of a level not stored, of a subtree not complete or at an index that is no whole number (SQLite keeps
    /// what it is given), an archived leaf past `archivedThrough`, or a live entry at or below it. Such rows pass every
    /// root check, and then collide with the next append's rows.
    static func strayRows(_ session: any SQLSession, size: UInt64, archivedThrough: UInt64) throws -> String? {
        let levels = try session.scalarInt64("SELECT count(*) FROM merkle_nodes WHERE level < ? OR level > 63 OR idx < 0", storedLevel) ?? 0
        if levels > 0 { return "\(levels) nodes of levels it does not store" }
        let unnumbered = try session.scalarInt64("SELECT count(*) FROM merkle_nodes WHERE CAST(idx AS BIGINT) <> idx") ?? 0
        if unnumbered > 0 { return unnumbered == 1 ? "a node whose index is no whole number" : "\(unnumbered) nodes whose index is no whole number" }
        for level in storedLevel...63 {
            let complete = Int64(size >> UInt64(level))
            if let index = try session.scalarInt64("SELECT min(idx) FROM merkle_nodes WHERE level = ? AND idx >= ?", level, complete) {
                return "a node (level \(level), index \(index)) of a subtree the log has not completed"
            }
        }
        let archived = Int64(archivedThrough)
        if let seq = try session.scalarInt64("SELECT min(seq) FROM archived_leaves WHERE seq < 1 OR seq > ?", archived) {
            return "an archived leaf (seq \(seq)) outside the archived entries 1…\(archived)"
        }
        if let seq = try session.scalarInt64("SELECT min(seq) FROM log WHERE seq <= ?", archived) {
            return "entry \(seq), which is marked archived"
        }
        return nil
    }

    /// The hash of the complete subtree at (level, index), read from the stored leaves and nodes.
    static func subtree(_ session: any SQLSession, level: Int, index: UInt64) throws -> Merkle.Hash {
        if level > 0 && level < storedLevel { return try recomputed(session, level: level, index: index) }
        let row: SQLRow?
        if level == 0 {
            row = try session.fetchOne("SELECT leaf_hash AS hash FROM log WHERE seq = ?", Int64(index) + 1)
                ?? session.fetchOne("SELECT leaf_hash AS hash FROM archived_leaves WHERE seq = ?", Int64(index) + 1)
        } else {
            row = try session.fetchOne("SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?", level, Int64(index))
        }
        guard let row else { throw StoreError("the log's tree is missing a node (level \(level), index \(index))") }
        return try row.bytes("hash")
    }

    /// A low interior node, hashed up from the leaves it covers (live or archived).
    private static func recomputed(_ session: any SQLSession, level: Int, index: UInt64) throws -> Merkle.Hash {
        let first = Int64(index << UInt64(level)) + 1
        let last = first + Int64(1 << level) - 1
        let rows = try session.fetchAll("""
            SELECT seq, leaf_hash FROM log WHERE seq BETWEEN ? AND ?
            UNION ALL SELECT seq, leaf_hash FROM archived_leaves WHERE seq BETWEEN ? AND ?
            ORDER BY seq
            """, first, last, first, last)
        guard rows.count == 1 << level, try zip(rows, first...).allSatisfy({ row, seq in try row.int64("seq") == seq }) else {
            throw StoreError("the log's tree is missing a node (level \(level), index \(index))")
        }
        var hashes: [Merkle.Hash] = try rows.map { try $0.bytes("leaf_hash") }
        while hashes.count > 1 {
            hashes = stride(from: 0, to: hashes.count, by: 2).map { Merkle.nodeHash(hashes[$0], hashes[$0 + 1]) }
        }
        return hashes[0]
    }

    /// The right edge of the tree over the first `size` entries, from stored nodes.
    static func frontier(_ session: any SQLSession, size: UInt64) throws -> MerkleFrontier {
        var subtrees: [(level: Int, hash: Merkle.Hash)] = []
        var start: UInt64 = 0
        for level in stride(from: 63, through: 0, by: -1) where size & (1 << UInt64(level)) != 0 {
            subtrees.append((level, try subtree(session, level: level, index: start >> UInt64(level))))
            start += 1 << UInt64(level)
        }
        return MerkleFrontier(size: size, subtrees: subtrees)
    }

    /// The root of the tree over the first `size` entries, from stored nodes in O(log n).
    static func root(_ session: any SQLSession, size: UInt64) throws -> Merkle.Hash {
        guard size > 0 else { return Merkle.emptyRoot }
        return try Merkle.rangeHash(start: 0, count: size) { level, index in try subtree(session, level: level, index: index) }
    }
}

/// A cached statement bound and stepped through SQLite's C interface, without boxing each value: the parameters are
/// still bound, never spliced into the SQL, and a value SQLite refuses to bind fails the statement.
struct BoundStatement {
    private let db: Database
    private let statement: Statement
    private var handle: SQLiteStatement { statement.sqliteStatement }
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ db: Database, sql: String) throws {
        self.db = db
        self.statement = try db.cachedStatement(sql: sql)
    }

    func bind(_ index: Int32, _ value: Int64) throws {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    func bind(_ index: Int32, text: String?) throws {
        guard let text else { return try check(sqlite3_bind_null(handle, index)) }
        try check(sqlite3_bind_text(handle, index, text, -1, Self.transient))
    }

    func bind(_ index: Int32, utf8: [UInt8]) throws {
        try check(utf8.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                sqlite3_bind_text(handle, index, chars.baseAddress, Int32(chars.count), Self.transient)
            }
        })
    }

    func bind(_ index: Int32, blob: [UInt8]) throws {
        try check(blob.withUnsafeBytes { bytes in
            sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), Self.transient)
        })
    }

    /// Steps the statement once and returns its first row's first column: nil when there is no row or it is NULL, and
    /// an error when it holds anything but an integer (SQLite would convert it).
    func firstInt64() throws -> Int64? {
        let code = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        switch (code, code == SQLITE_ROW ? sqlite3_column_type(handle, 0) : SQLITE_NULL) {
        case (SQLITE_ROW, SQLITE_INTEGER): return sqlite3_column_int64(handle, 0)
        case (SQLITE_ROW, SQLITE_NULL), (SQLITE_DONE, _): return nil
        case (SQLITE_ROW, _): throw StoreError("\(statement.sql) gave a value that is not an integer")
        default: throw failure(code)
        }
    }

    /// Steps through the statement's rows with the bound values, handing each to `visit` (whose columns are readable
    /// there and only there), then resets the statement and clears the values.
    func forEachRow(_ visit: (SQLiteStatement) throws -> Void) throws {
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        while true {
            let code = sqlite3_step(handle)
            guard code == SQLITE_ROW else {
                guard code == SQLITE_DONE else { throw failure(code) }
                return
            }
            try visit(handle)
        }
    }

    /// Executes the statement once with the bound values, then clears them.
    func run() throws {
        let code = sqlite3_step(handle)
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        guard code == SQLITE_DONE else { throw failure(code) }
    }

    private func check(_ code: Int32) throws {
        guard code == SQLITE_OK else { throw failure(code) }
    }

    private func failure(_ code: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: statement.sql)
    }
}
