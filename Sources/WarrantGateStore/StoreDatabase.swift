import Foundation
import GRDB

/// Why the store refused or failed an operation. Messages are safe to show an operator.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Opens the SQLite database shared by the gateway and the admin CLI, and keeps its schema current.
///
/// The database runs in WAL mode with `synchronous = FULL`, so a committed transaction survives power loss,
/// and with a busy timeout, so the CLI and the gateway can write at the same time.
public enum StoreDatabase {
    /// How long a connection waits for another writer before failing.
    public static let busyTimeout: TimeInterval = 5

    /// Opens (creating if needed) a connection pool: one writer, concurrent readers.
    public static func openPool(path: String, readonly: Bool = false, busyTimeout: TimeInterval = busyTimeout) throws -> DatabasePool {
        try createParentDirectory(of: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.readonly = readonly
        configuration.label = "warrant-gate"
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError("cannot open database \(path): \(describe(error))")
        }
        if !readonly {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                let mode = try Int.fetchOne(db, sql: "PRAGMA synchronous")
                guard mode == 2 else { throw StoreError("SQLite refused synchronous = FULL") }
            }
            try migrator.migrate(pool)
        }
        return pool
    }

    /// Turns an SQLite error into one line without internals.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return error.message ?? "SQLite error \(error.resultCode.rawValue)"
        }
        if let error = error as? StoreError { return error.message }
        return String(describing: error)
    }

    private static func createParentDirectory(of path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError("cannot create directory \(directory.path)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE log (
                    seq INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('decision', 'outcome', 'admin')),
                    time TEXT NOT NULL,
                    decision_id TEXT,
                    entry TEXT NOT NULL
                );
                CREATE INDEX log_decision ON log(decision_id, kind);
                CREATE INDEX log_kind_time ON log(kind, time);
                CREATE TRIGGER log_is_append_only_update BEFORE UPDATE ON log
                    BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
                CREATE TRIGGER log_is_append_only_delete BEFORE DELETE ON log
                    BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;

                CREATE TABLE documents (
                    reference TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    status TEXT NOT NULL,
                    agency TEXT NOT NULL,
                    subjects TEXT NOT NULL,
                    scope TEXT NOT NULL,
                    expires TEXT NOT NULL,
                    expires_at REAL NOT NULL,
                    court TEXT,
                    judge TEXT,
                    case_number TEXT,
                    document_sha256 TEXT,
                    registered_by TEXT NOT NULL,
                    registered_at TEXT NOT NULL,
                    status_reason TEXT
                );
                CREATE TABLE advisements (
                    id INTEGER PRIMARY KEY,
                    subject TEXT NOT NULL,
                    language TEXT NOT NULL,
                    given_by TEXT NOT NULL,
                    given_at REAL NOT NULL,
                    recorded_by TEXT NOT NULL
                );
                CREATE INDEX advisements_subject ON advisements(subject);

                CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE registry_state (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
                INSERT INTO registry_state (id, version) VALUES (1, 1);
                CREATE TRIGGER documents_changed_insert AFTER INSERT ON documents
                    BEGIN UPDATE registry_state SET version = version + 1 WHERE id = 1; END;
                CREATE TRIGGER documents_changed_update AFTER UPDATE ON documents
                    BEGIN UPDATE registry_state SET version = version + 1 WHERE id = 1; END;
                CREATE TRIGGER documents_changed_delete AFTER DELETE ON documents
                    BEGIN UPDATE registry_state SET version = version + 1 WHERE id = 1; END;
                CREATE TRIGGER advisements_changed_insert AFTER INSERT ON advisements
                    BEGIN UPDATE registry_state SET version = version + 1 WHERE id = 1; END;
                """)
        }
        return migrator
    }
}
