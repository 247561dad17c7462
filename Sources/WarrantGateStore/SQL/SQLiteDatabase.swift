import Foundation
import GRDB
import GRDBSQLite
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
        var rows: [SQLRow] = []
        let cursor = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: Self.arguments(arguments))
        while let row = try cursor.next() { rows.append(try Self.row(row)) }
        return rows
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

    /// Reads each entry where SQLite holds it: the checkpoint signer hashes every entry anew, and building each row as
    /// values (a dictionary, a String and an array of the entry) cost more than the hashing.
    func forEachLogLeaf(_ range: ClosedRange<Int64>, _ visit: (_ seq: Int64, _ leaf: Merkle.Hash, _ storedMatches: Bool) throws -> Void) throws {
        let query = try BoundStatement(db, sql: logLeavesSQL)
        try query.bind(1, range.lowerBound)
        try query.bind(2, range.upperBound)
        try query.forEachRow { row in
            // Each column's type is read before its value: reading a value may convert it, and the type after that.
            guard sqlite3_column_type(row, 0) == SQLITE_INTEGER else { throw StoreError("an entry's sequence number is not an integer") }
            let seq = sqlite3_column_int64(row, 0)
            guard let kind = Self.text(row, 1), let entry = Self.text(row, 2), sqlite3_column_type(row, 3) == SQLITE_BLOB else {
                throw StoreError("entry \(seq) is not text with a leaf hash")
            }
            let leaf = LogLeaf.hash(kind: kind, entry: entry)
            let stored = UnsafeRawBufferPointer(start: sqlite3_column_blob(row, 3), count: Int(sqlite3_column_bytes(row, 3)))
            try visit(seq, leaf, stored.elementsEqual(leaf))
        }
    }

    /// Column `index` of the current row, in place, if it is UTF-8 text without NUL (what GRDB's String of it would
    /// hold byte for byte).
    private static func text(_ row: SQLiteStatement, _ index: Int32) -> UnsafeRawBufferPointer? {
        guard sqlite3_column_type(row, index) == SQLITE_TEXT, let start = sqlite3_column_text(row, index) else { return nil }
        let bytes = UnsafeRawBufferPointer(start: start, count: Int(sqlite3_column_bytes(row, index)))
        return UTF8Text.isValid(bytes) ? bytes : nil
    }

    /// Text is bound up to its first NUL (GRDB binds a C string), so text holding one is refused, not stored cut short.
    private static func arguments(_ values: [SQLValue]) throws -> StatementArguments {
        StatementArguments(try values.map { value -> DatabaseValue in
            switch value {
            case .null: return .null
            case .integer(let integer): return integer.databaseValue
            case .real(let real): return real.databaseValue
            case .text(let text):
                guard !text.utf8.contains(0) else { throw StoreError("a value holds a NUL character, which the store does not keep") }
                return text.databaseValue
            case .blob(let bytes): return Data(bytes).databaseValue
            }
        })
    }

    private static func row(_ row: Row) throws -> SQLRow {
        var columns: [String: SQLValue] = [:]
        for (index, name) in row.columnNames.enumerated() { columns[name] = try value(row, at: index) }
        return SQLRow(columns: columns)
    }

    /// Column `index` of `row`, a row of a cursor over a statement (whose bytes it still reads in place). Text must be
    /// UTF-8 without NUL: GRDB's String of it ends at a NUL and repairs bytes that are not UTF-8, while SQLite's own
    /// comparisons and indexes read every byte, so such text would read as another value than the one it is.
    static func value(_ row: Row, at index: Int) throws -> SQLValue {
        let value: DatabaseValue = row[index]
        switch value.storage {
        case .null: return .null
        case .int64(let integer): return .integer(integer)
        case .double(let real): return .real(real)
        case .blob(let data): return .blob(Array(data))
        case .string:
            return .text(try row.withUnsafeData(atIndex: index) { data in
                try (data ?? Data()).withUnsafeBytes { try UTF8Text.storedText($0, column: Array(row.columnNames)[index]) }
            })
        }
    }
}

/// UTF-8 checks over bytes in place.
enum UTF8Text {
    /// `bytes`, a text value of `column` as the database holds it, as a String; throws unless they are UTF-8 without
    /// NUL, which a String of them would repair or end at, reading as another value than the one the database compares.
    static func storedText(_ bytes: UnsafeRawBufferPointer, column: String) throws -> String {
        guard isValid(bytes) else {
            throw StoreError("the database's column \(column) holds text that is not UTF-8 or holds a NUL byte, which the store never writes")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `bytes` are UTF-8 without a NUL: eight ASCII bytes at a time, and Swift's own decoding past the first
    /// byte that is not.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            let highBits: UInt64 = 0x8080_8080_8080_8080
            // A byte is zero exactly when it has no high bit and subtracting one borrows into its high bit.
            guard word & highBits == 0, (word &- 0x0101_0101_0101_0101) & ~word & highBits == 0 else { break }
            offset += 8
        }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
        return !rest.contains(0) && String(validating: rest, as: UTF8.self) != nil
    }
}
