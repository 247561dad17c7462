import Foundation
import WarrantGateCore

/// A value bound to, or read from, a statement. Both databases store the same five kinds; PostgreSQL's booleans read
/// as integers 0 and 1, as SQLite stores them.
enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// One result row, its values by column name.
struct SQLRow: Sendable {
    let columns: [String: SQLValue]

    func value(_ name: String) throws -> SQLValue {
        guard let value = columns[name] else { throw StoreError("the database returned no column \(name)") }
        return value
    }

    func text(_ name: String) throws -> String {
        guard case .text(let text) = try value(name) else { throw mismatch(name, "text") }
        return text
    }

    func optionalText(_ name: String) throws -> String? {
        switch try value(name) {
        case .null: return nil
        case .text(let text): return text
        default: throw mismatch(name, "text")
        }
    }

    func int64(_ name: String) throws -> Int64 {
        guard let value = try optionalInt64(name) else { throw mismatch(name, "an integer") }
        return value
    }

    func optionalInt64(_ name: String) throws -> Int64? {
        switch try value(name) {
        case .null: return nil
        case .integer(let value): return value
        default: throw mismatch(name, "an integer")
        }
    }

    func bool(_ name: String) throws -> Bool { try int64(name) != 0 }

    func double(_ name: String) throws -> Double {
        switch try value(name) {
        case .real(let value): return value
        case .integer(let value): return Double(value)
        default: throw mismatch(name, "a number")
        }
    }

    func bytes(_ name: String) throws -> [UInt8] {
        guard case .blob(let bytes) = try value(name) else { throw mismatch(name, "bytes") }
        return bytes
    }

    private func mismatch(_ name: String, _ expected: String) -> StoreError {
        StoreError("the database's column \(name) does not hold \(expected)")
    }
}

/// Which database a session speaks to, for the few statements whose SQL differs.
enum SQLDialect: Sendable {
    case sqlite
    case postgres
}

/// A transaction on the store's database, SQLite or PostgreSQL: the store's logic is written once against it.
///
/// Statements use `?` placeholders, bound in order; their values are never spliced into the SQL. A session is used
/// only inside the `read` or `write` call that opened it, on that call's thread.
protocol SQLSession {
    var dialect: SQLDialect { get }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws
    func fetchAll(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
    /// Visits the rows one at a time, holding few in memory, for reads of the whole log.
    func forEach(_ sql: String, _ arguments: [SQLValue], _ visit: (SQLRow) throws -> Void) throws

    /// How many entries the log has had, archived ones included.
    func logSize() throws -> UInt64
    /// The log's tree now, its right edge, from what is stored.
    func logFrontier() throws -> MerkleFrontier
    /// Appends entries after the log's last, in this transaction (which must be a write).
    func appendLog(_ entries: [LogAppender.Pending]) throws
    /// Takes the lease to sign checkpoints until this transaction ends; false if another signer holds it.
    func takeSignerLease() throws -> Bool
    /// Visits the log's entries numbered `range` that are present, in order: each one's sequence number, its leaf hashed
    /// anew from its kind and entry, and whether its stored leaf hash is that leaf. An entry whose kind or entry is not
    /// text, or whose stored leaf hash is not a blob, is an error; so is text that is not UTF-8 or holds a NUL, which
    /// the log's readers (`log verify`, export) would not read as it is stored.
    func forEachLogLeaf(_ range: ClosedRange<Int64>, _ visit: (_ seq: Int64, _ leaf: Merkle.Hash, _ storedMatches: Bool) throws -> Void) throws
}

/// The statement that reads entries to hash their leaves anew (see ``SQLSession/forEachLogLeaf(_:_:)``).
let logLeavesSQL = "SELECT seq, kind, entry, leaf_hash FROM log WHERE seq BETWEEN ? AND ? ORDER BY seq"

extension SQLSession {
    func forEachLogLeaf(_ range: ClosedRange<Int64>, _ visit: (_ seq: Int64, _ leaf: Merkle.Hash, _ storedMatches: Bool) throws -> Void) throws {
        try forEach(logLeavesSQL, range.lowerBound, range.upperBound) { row in
            let leaf = LogLeaf.hash(kind: try row.text("kind"), entry: Array(try row.text("entry").utf8))
            try visit(try row.int64("seq"), leaf, try row.bytes("leaf_hash") == leaf)
        }
    }

    /// What SQLite's integrity check finds wrong with the log table and its indexes (`logOnly`), or with the whole
    /// file. An index that lacks a row hides that entry from every read through it, such as a report's or a ranged
    /// export's, while the table, read in order, verifies. On PostgreSQL, whose files only its server writes, the
    /// store's tables with row-level security, policies or rules (``PostgresSchema/readingProblems(_:)``).
    func integrityProblems(logOnly: Bool) throws -> [String] {
        guard dialect == .sqlite else { return try PostgresSchema.readingProblems(self) }
        let found = try fetchAll(logOnly ? "PRAGMA integrity_check(log)" : "PRAGMA integrity_check").map { try $0.text("integrity_check") }
        return found == ["ok"] ? [] : found
    }

    /// Refuses a log whose table or indexes SQLite finds damaged or altered (``integrityProblems(logOnly:)``): what is
    /// read through them would not be the log that verifies.
    func requireIntactLog() throws {
        guard let problem = try integrityProblems(logOnly: true).first else { return }
        throw StoreError("the log's file is damaged or was altered outside the gateway (SQLite finds: \(problem)); run `warrant-gate log verify`")
    }

    /// On PostgreSQL, for the rest of this transaction, gives up waiting for a lock another session holds after
    /// `milliseconds`, when given (the statement then fails); SQLite's single writer waits as its busy timeout says.
    func waitForLocks(atMost milliseconds: Int?) throws {
        guard let milliseconds, dialect == .postgres else { return }
        try execute("SELECT pg_catalog.set_config('lock_timeout', ?, true)", String(milliseconds))
    }

    func execute(_ sql: String, _ arguments: any SQLBindable...) throws { try execute(sql, arguments.map { $0.sqlValue }) }
    func fetchAll(_ sql: String, _ arguments: any SQLBindable...) throws -> [SQLRow] { try fetchAll(sql, arguments.map { $0.sqlValue }) }
    func fetchOne(_ sql: String, _ arguments: any SQLBindable...) throws -> SQLRow? { try fetchAll(sql, arguments.map { $0.sqlValue }).first }
    func forEach(_ sql: String, _ arguments: any SQLBindable..., visit: (SQLRow) throws -> Void) throws {
        try forEach(sql, arguments.map { $0.sqlValue }, visit)
    }

    func scalarText(_ sql: String, _ arguments: any SQLBindable...) throws -> String? {
        switch try scalar(sql, arguments.map { $0.sqlValue }) {
        case nil: return nil
        case .text(let text)?: return text
        default: throw StoreError("the database returned a value that is not text")
        }
    }

    func scalarInt64(_ sql: String, _ arguments: any SQLBindable...) throws -> Int64? {
        switch try scalar(sql, arguments.map { $0.sqlValue }) {
        case nil: return nil
        case .integer(let value)?: return value
        default: throw StoreError("the database returned a value that is not an integer")
        }
    }

    /// The first column of the first row, if there is a row and the value is not NULL.
    private func scalar(_ sql: String, _ arguments: [SQLValue]) throws -> SQLValue? {
        guard let row = try fetchAll(sql, arguments).first, row.columns.count == 1, let value = row.columns.values.first, value != .null else {
            return nil
        }
        return value
    }
}

/// The store's database: one SQLite file, or one PostgreSQL database shared by several gateways.
///
/// `read` sees one consistent snapshot; `write` is one transaction that commits if its body returns and rolls back if
/// it throws. Both block the calling thread, so they are called from the CLI's thread or a thread pool, never from
/// an event loop.
protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T
}

/// A Swift value a statement binds.
protocol SQLBindable {
    var sqlValue: SQLValue { get }
}

extension SQLValue: SQLBindable {
    var sqlValue: SQLValue { self }
}

extension String: SQLBindable {
    var sqlValue: SQLValue { .text(self) }
}

extension Int64: SQLBindable {
    var sqlValue: SQLValue { .integer(self) }
}

extension Int: SQLBindable {
    var sqlValue: SQLValue { .integer(Int64(self)) }
}

extension Double: SQLBindable {
    var sqlValue: SQLValue { .real(self) }
}

extension Bool: SQLBindable {
    var sqlValue: SQLValue { .integer(self ? 1 : 0) }
}

extension Array: SQLBindable where Element == UInt8 {
    var sqlValue: SQLValue { .blob(self) }
}

extension Optional: SQLBindable where Wrapped: SQLBindable {
    var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

extension SQLSession {
    /// The time of the log's latest entry that a gateway stamped (a decision or an outcome), or nil if there is none.
    /// Ages measured against it do not follow the clock of the host a command runs on, nor an admin record's, which
    /// bears the clock of whoever wrote it.
    func latestGatewayTime() throws -> Date? {
        try scalarText("SELECT time FROM log WHERE kind = 'decision' OR kind = 'outcome' ORDER BY seq DESC LIMIT 1").flatMap(Timestamp.parse)
    }
}
