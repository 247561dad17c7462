import GRDB
import Synchronization

/// The schema a SQLite store must have: exactly the tables, indexes, triggers and views that this version's migrations
/// create, up to the last migration the file says it applied. A file's own schema objects are code that SQLite runs
/// on the reader's behalf (a trigger on the migrations table rewrites the log when a command migrates the file; a view
/// named like a table answers in its place), so any other object refuses the file before anything reads or migrates
/// it.
enum StoreSchema {
    /// One row of `sqlite_schema`.
    struct Object: Hashable {
        let type: String
        let name: String
        let table: String
        let sql: String?

        static func all(_ db: Database) throws -> Set<Object> {
            // SQLite's own statistics tables (`ANALYZE`, `PRAGMA optimize`) hold no code; anything else of such a name
            // (a trigger written into the schema by hand) is compared as every object is.
            Set(try Row.fetchAll(db, sql: """
                SELECT type, name, tbl_name, sql FROM sqlite_schema
                WHERE NOT (type = 'table' AND name = tbl_name AND name IN ('sqlite_stat1', 'sqlite_stat4') AND (
                    sql = 'CREATE TABLE sqlite_stat1(tbl,idx,stat)' OR sql = 'CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)'))
                """).map {
                Object(
                    type: try $0.decode(forColumn: "type"), name: try $0.decode(forColumn: "name"), table: try $0.decode(forColumn: "tbl_name"),
                    sql: try $0.decode(forColumn: "sql")
                )
            })
        }
    }

    /// Why `db`'s schema is not a store's as of the migrations it applied (with `extraTables`' statements run after
    /// them), or nil. An empty file is a store not yet created.
    static func problem(_ db: Database, extraTables: [String] = []) throws -> String? {
        let objects = try Object.all(db)
        if objects.isEmpty && extraTables.isEmpty { return nil }
        guard objects.contains(where: { $0.type == "table" && $0.name == "grdb_migrations" }) else { return "it holds no store" }
        let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
        let known = StoreDatabase.migrator.migrations
        guard let last = applied.last, known.starts(with: applied) else {
            return "its migrations (\(applied.joined(separator: ", "))) are not a prefix of this version's; a newer version may have written it"
        }
        let expected = try expected(upTo: last, extraTables: extraTables)
        let unexpected = objects.subtracting(expected).map { "\($0.type) \($0.name)" }.sorted()
        let missing = expected.subtracting(objects).map { "\($0.type) \($0.name)" }.sorted()
        guard unexpected.isEmpty && missing.isEmpty else {
            let found = unexpected.isEmpty ? "" : "unexpected or changed: \(unexpected.joined(separator: ", "))"
            let lacking = missing.isEmpty ? "" : "missing or changed: \(missing.joined(separator: ", "))"
            return "its schema is not a store's (\([found, lacking].filter { !$0.isEmpty }.joined(separator: "; ")))"
        }
        return nil
    }

    /// The schemas made so far, by the last migration and the extra tables' statements: one is built once a process.
    private static let references = Mutex<[[String]: Set<Object>]>([:])

    /// The objects this version's migrations up to `last`, then `extraTables`' statements, make in an empty database.
    private static func expected(upTo last: String, extraTables: [String]) throws -> Set<Object> {
        let key = [last] + extraTables
        if let known = references.withLock({ $0[key] }) { return known }
        let reference = try DatabaseQueue()
        try StoreDatabase.migrator.migrate(reference, upTo: last)
        let objects = try reference.write { db in
            for table in extraTables { try db.execute(sql: table) }
            return try Object.all(db)
        }
        references.withLock { $0[key] = objects }
        return objects
    }
}
