import Foundation
import GRDB
import WarrantGateCore

/// The store's database in one SQLite file, through GRDB's pool: one writer, concurrent readers.
struct SQLiteDatabase: SQLDatabase {
    let pool: DatabasePool
    var dialect: SQLDialect { .sqlite }

    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try pool.read { db in try body(SQLiteSession(db: db)) }
    }

    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try pool.write { db in try body(SQLiteSession(db: db)) }
    }
}

/// A transaction on the SQLite file. Statements are prepared once per connection and cached.
struct SQLiteSession: SQLSession {
    let db: Database
    var dialect: SQLDialect { .sqlite }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
    }

    func fetchAll(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        try Row.fetchAll(db.cachedStatement(sql: sql), arguments: Self.arguments(arguments)).map(Self.row)
    }

    func forEach(_ sql: String, _ arguments: [SQLValue], _ visit: (SQLRow) throws -> Void) throws {
        let rows = try Row.fetchCursor(db, sql: sql, arguments: Self.arguments(arguments))
        while let row = try rows.next() { try visit(Self.row(row)) }
    }

    func logSize() throws -> UInt64 { try LogAppender.size(self) }

    func logFrontier() throws -> MerkleFrontier { try LogAppender.frontier(self, reusing: nil) }

    func appendLog(_ entries: [LogAppender.Pending]) throws {
        _ = try LogAppender.append(db, entries, to: LogAppender.frontier(self, reusing: nil))
    }

    /// A write transaction on SQLite already excludes every other writer, in this process and in others.
    func takeSignerLease() throws -> Bool { true }

    private static func arguments(_ values: [SQLValue]) -> StatementArguments {
        StatementArguments(values.map { value -> DatabaseValue in
            switch value {
            case .null: return .null
            case .integer(let integer): return integer.databaseValue
            case .real(let real): return real.databaseValue
            case .text(let text): return text.databaseValue
            case .blob(let bytes): return Data(bytes).databaseValue
            }
        })
    }

    private static func row(_ row: Row) -> SQLRow {
        var columns: [String: SQLValue] = [:]
        for (name, value) in row {
            switch value.storage {
            case .null: columns[name] = .null
            case .int64(let integer): columns[name] = .integer(integer)
            case .double(let real): columns[name] = .real(real)
            case .string(let text): columns[name] = .text(text)
            case .blob(let data): columns[name] = .blob(Array(data))
            }
        }
        return SQLRow(columns: columns)
    }
}
