import Foundation
import GRDB
import Glibc
import WarrantGateCore
import PostgresNIO

#if !os(Linux)
#error("WarrantGate builds and runs on Linux only (Glibc, fdatasync, fstatfs, /proc).")
#endif

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

    /// How many pages the WAL may hold before the committing connection checkpoints it (SQLite's 1,000 by default):
    /// the log's hot pages (the right edges of its table and indexes) are rewritten by every commit, and a checkpoint
    /// copies only their last version, so fewer, larger checkpoints copy less. The log's writer copies most of the
    /// WAL in the background before then (``WALBackfill``).
    static let checkpointPages = 4096

    /// Opens (creating if needed) a connection pool: one writer, concurrent readers. Refuses a file whose schema is not
    /// exactly a store's (``StoreSchema``), with the tables `extraTables` create.
    static func openPool(path: String, readonly: Bool = false, busyTimeout: TimeInterval = busyTimeout, extraTables: [String] = []) throws -> DatabasePool {
        try createPrivateFiles(for: path, readonly: readonly)
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.readonly = readonly
        configuration.label = "warrant-gate"
        // Functions with side effects stay out of the file's own schema (defence in depth: the schema is checked next).
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA trusted_schema = OFF") }
        // Read only, a file with no write-ahead log beside it (a copy: an auditor's, a court's) is opened immutable, so
        // that SQLite writes no -wal or -shm file beside it; with one, the log's frames are part of what is read.
        let opened = readonly && !FileManager.default.fileExists(atPath: path + "-wal") ? immutableURI(path) : path
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: opened, configuration: configuration)
            // Before anything reads or migrates the file: a migration fires the file's own triggers.
            if let problem = try pool.read({ db in try StoreSchema.problem(db, extraTables: extraTables) }) {
                throw StoreError("\(path) is not a WarrantGate store, or was altered: \(TerminalText.escaped(problem))")
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("cannot open database \(path): \(describe(error))")
        }
        if !readonly {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                let mode = try Int.fetchOne(db, sql: "PRAGMA synchronous")
                guard mode == 2 else { throw StoreError("SQLite refused synchronous = FULL") }
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(checkpointPages)")
            }
            try migrator.migrate(pool)
        }
        return pool
    }

    /// The URI filename that opens `path` immutable (SQLite, built with URI filenames, as Debian's is).
    private static func immutableURI(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return "file:" + (absolute.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? absolute) + "?immutable=1"
    }

    /// Turns a database error into one line without internals (and without the values a statement carried).
    public static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return error.message ?? "SQLite error \(error.resultCode.rawValue)"
        }
        if let error = error as? StoreError { return error.message }
        if let error = error as? PSQLError { return PostgresErrors.describe(error) }
        return String(describing: error)
    }

    /// Creates the data directory (0700) if missing, and a new database file owner-only: SQLite would create it 0644,
    /// and gives its -wal and -shm files the database file's mode.
    private static func createPrivateFiles(for path: String, readonly: Bool) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try PrivateFile.makeDirectory(directory.path)
        } catch {
            throw StoreError("cannot create directory \(directory.path) (\(error))")
        }
        guard !readonly else { return }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if descriptor >= 0 { close(descriptor) }  // EEXIST (or a link) is SQLite's to open or refuse, as before
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE log (
                    seq INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('decision', 'outcome', 'admin', 'shadow')),
                    time TEXT NOT NULL,
                    decision_id TEXT,
                    entry TEXT NOT NULL,
                    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
                );
                -- Interior nodes (level ≥ 1) of complete subtrees of the RFC 6962 tree over the log.
                CREATE TABLE merkle_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
                -- The tree's right edge, so that an append costs O(log n).
                CREATE TABLE tree_state (id INTEGER PRIMARY KEY CHECK (id = 1), frontier BLOB NOT NULL);
                INSERT INTO tree_state (id, frontier) VALUES (1, x'0000000000000000');
                CREATE TABLE checkpoints (
                    id INTEGER PRIMARY KEY,
                    size INTEGER NOT NULL,
                    root BLOB NOT NULL,
                    note TEXT NOT NULL,
                    time TEXT NOT NULL
                );
                CREATE TRIGGER merkle_nodes_append_only_update BEFORE UPDATE ON merkle_nodes
                    BEGIN SELECT RAISE(ABORT, 'the Merkle tree is append-only'); END;
                CREATE TRIGGER merkle_nodes_append_only_delete BEFORE DELETE ON merkle_nodes
                    BEGIN SELECT RAISE(ABORT, 'the Merkle tree is append-only'); END;
                CREATE TRIGGER checkpoints_append_only_update BEFORE UPDATE ON checkpoints
                    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
                CREATE TRIGGER checkpoints_append_only_delete BEFORE DELETE ON checkpoints
                    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
                CREATE INDEX log_decision ON log(decision_id, kind);
                CREATE INDEX log_kind_time ON log(kind, time);
                CREATE TRIGGER log_is_append_only_update BEFORE UPDATE ON log
                    BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
                -- Rows leave the log only by `log archive`, which first raises archived_through past them.
                CREATE TABLE archive_state (id INTEGER PRIMARY KEY CHECK (id = 1), archived_through INTEGER NOT NULL);
                INSERT INTO archive_state (id, archived_through) VALUES (1, 0);
                CREATE TABLE archived_leaves (seq INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL);
                CREATE TRIGGER log_is_append_only_delete BEFORE DELETE ON log
                    WHEN OLD.seq > (SELECT archived_through FROM archive_state WHERE id = 1)
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
                    no_document_reason TEXT,
                    registered_by TEXT NOT NULL,
                    registered_at TEXT NOT NULL,
                    two_person_rule INTEGER NOT NULL,
                    approved_by TEXT,
                    approved_at TEXT,
                    status_reason TEXT,
                    superseded_by TEXT
                );
                CREATE TABLE subject_records (
                    id INTEGER PRIMARY KEY,
                    subject TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    given_by TEXT NOT NULL,
                    given_at REAL NOT NULL,
                    language TEXT,
                    attorney_required INTEGER NOT NULL DEFAULT 0,
                    scope TEXT NOT NULL DEFAULT '[]',
                    recorded_by TEXT NOT NULL,
                    recorded_at TEXT NOT NULL
                );
                CREATE INDEX subject_records_subject ON subject_records(subject);
                CREATE TABLE subject_facts (
                    subject TEXT NOT NULL,
                    name TEXT NOT NULL,
                    value TEXT NOT NULL,
                    set_by TEXT NOT NULL,
                    set_at TEXT NOT NULL,
                    PRIMARY KEY (subject, name)
                );
                CREATE TABLE agencies (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    category TEXT NOT NULL,
                    spki_pins TEXT NOT NULL,
                    added_by TEXT NOT NULL,
                    added_at TEXT NOT NULL
                );
                CREATE TABLE certificate_revocations (
                    id INTEGER PRIMARY KEY,
                    agency TEXT NOT NULL,
                    spki TEXT,
                    serial TEXT,
                    reason TEXT NOT NULL,
                    revoked_by TEXT NOT NULL,
                    revoked_at TEXT NOT NULL,
                    CHECK (spki IS NOT NULL OR serial IS NOT NULL)
                );

                CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE registry_state (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
                INSERT INTO registry_state (id, version) VALUES (1, 1);
                """)
            // Any change to what the gateway reads from the registry bumps the version it polls.
            for table in ["documents", "subject_records", "subject_facts", "agencies", "certificate_revocations", "settings"] {
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    try db.execute(sql: """
                        CREATE TRIGGER \(table)_changed_\(event.lowercased()) AFTER \(event) ON \(table)
                        BEGIN UPDATE registry_state SET version = version + 1 WHERE id = 1; END
                        """)
                }
            }
        }
        migrator.registerMigration("v2: log kind check without an IN list") { db in
            try LogKindCheck.rewrite(db)
        }
        // The tree's right edge is derived from the stored nodes and leaves (see LogAppender), not kept up to date in
        // a row that every commit rewrote.
        migrator.registerMigration("v3: the tree's frontier is derived") { db in
            try db.execute(sql: "DROP TABLE tree_state")
        }
        // One growing edge instead of two: under (kind, time), decisions and outcomes each grew the index at a place
        // of their own, and a commit rewrote the leaves around both. Building the new index reads the log once.
        migrator.registerMigration("v4: the log's time index leads with time") { db in
            try db.execute(sql: "DROP INDEX log_kind_time; CREATE INDEX log_time_kind ON log(time, kind)")
        }
        // Issue 23: the scan's digital signature, checked at registration. Documents registered before are `unchecked`.
        migrator.registerMigration("v5: documents record their signature") { db in
            for column in DocumentSignatureColumns.definitions { try db.execute(sql: "ALTER TABLE documents ADD COLUMN \(column)") }
        }
        // Under the two-person rule an agency, or a certificate pinned to one, waits for a second operator.
        migrator.registerMigration("v6: agency requests") { db in
            try db.execute(sql: "CREATE TABLE agency_requests (id INTEGER PRIMARY KEY, \(AgencyRequestColumns.definitions.joined(separator: ", ")))")
            // A CLI of an earlier release, which knows no requests, would still write agencies directly: while the
            // rule is on, an agency is written only while a request for it is pending (its approval's transaction),
            // or by `store migrate`'s copy, which marks its transaction.
            try db.execute(sql: agencyWriteGuard(event: "INSERT", columns: ""))
            try db.execute(sql: agencyWriteGuard(event: "UPDATE", columns: " OF id, name, category, spki_pins"))
            // Nor is one renamed (its keys would move to the agency the new id names) or deleted.
            try db.execute(sql: agencyIdKept)
            try db.execute(sql: """
                CREATE TRIGGER agencies_kept BEFORE DELETE ON agencies
                WHEN NOT EXISTS (SELECT 1 FROM settings WHERE key = '\(StoreMigration.pendingKey)')
                BEGIN SELECT RAISE(ABORT, 'an agency is never deleted: revoke its certificates'); END
                """)
        }
        // One document, one registration: a copy of a signed scan changed only where its signature does not reach is
        // known by what was signed (DocumentIdentity). Documents registered before are identified from their stored
        // scans by the CLI (Registry.identifyScans).
        migrator.registerMigration("v7: documents record their identity") { db in
            try db.execute(sql: "ALTER TABLE documents ADD COLUMN identity_sha256 TEXT")
        }
        // Certificates added to an agency the directory file lists end with that agency's listing (AgencyDirectory.
        // amended). Entries from before are not marked, and stand alone as they did.
        migrator.registerMigration("v8: agencies record whether they extend a listed one") { db in
            try db.execute(sql: "ALTER TABLE agencies ADD COLUMN \(AgencyExtensionColumn.definition)")
            // Made again after the guard, so that SQLite, which fires the latest trigger first, still names a rename.
            try db.execute(sql: "DROP TRIGGER agencies_by_request_update; DROP TRIGGER agencies_id_kept")
            try db.execute(sql: agencyWriteGuard(event: "UPDATE", columns: " OF id, name, category, spki_pins, \(AgencyExtensionColumn.name)"))
            try db.execute(sql: agencyIdKept)
            try db.execute(sql: """
                CREATE TRIGGER agencies_extension_kept BEFORE UPDATE OF \(AgencyExtensionColumn.name) ON agencies
                WHEN OLD.\(AgencyExtensionColumn.name) = 1 AND NEW.\(AgencyExtensionColumn.name) IS NOT 1
                BEGIN SELECT RAISE(ABORT, '\(AgencyExtensionColumn.kept)'); END
                """)
        }
        return migrator
    }

    /// The trigger that refuses renaming an agency.
    private static let agencyIdKept = """
        CREATE TRIGGER agencies_id_kept BEFORE UPDATE OF id ON agencies WHEN NEW.id <> OLD.id
        BEGIN SELECT RAISE(ABORT, 'an agency''s id never changes'); END
        """

    /// The trigger that refuses an agency write on `event` (of `columns`) while the two-person rule is on, unless a
    /// request for it is pending (its approval's transaction) or `store migrate`'s copy marks its transaction.
    private static func agencyWriteGuard(event: String, columns: String) -> String {
        """
        CREATE TRIGGER agencies_by_request_\(event.lowercased()) BEFORE \(event)\(columns) ON agencies
        WHEN coalesce((SELECT value FROM settings WHERE key = 'two-person-rule'), 'on') <> 'off'
            AND NOT EXISTS (SELECT 1 FROM agency_requests WHERE agency = NEW.id AND status = 'pending')
            AND NOT EXISTS (SELECT 1 FROM settings WHERE key = '\(StoreMigration.pendingKey)')
        BEGIN SELECT RAISE(ABORT, 'while the two-person rule is on, an agency changes only by an approved request'); END
        """
    }
}

/// The `agency_requests` columns after its id (numbered by each database its own way), as SQLite and PostgreSQL create
/// them: an agency change waiting, under the two-person rule, for a second operator.
enum AgencyRequestColumns {
    static let definitions = [
        "agency TEXT NOT NULL", "name TEXT NOT NULL", "category TEXT NOT NULL", "spki_pins TEXT NOT NULL", "requested_by TEXT NOT NULL",
        "requested_at TEXT NOT NULL", "status TEXT NOT NULL CHECK (status = 'pending' OR status = 'approved' OR status = 'withdrawn')", "decided_by TEXT", "decided_at TEXT",
    ]
    /// The columns' names.
    static let names = definitions.map { String($0.prefix { $0 != " " }) }
}

/// The `agencies` column that marks an entry made of certificates added to an agency the directory file listed when
/// they were added (1), or an agency of its own (0); NULL for entries written before it, or by a CLI of an earlier
/// release. As SQLite and PostgreSQL add it.
enum AgencyExtensionColumn {
    static let name = "extends_listed"
    static let definition = "\(name) INTEGER CHECK (\(name) IN (0, 1))"
    /// Why a write that unmarks an entry is refused: it would let the entry outlive its agency's listing.
    static let kept = "an agency entry that extends a listed agency stays so"
}

/// The `documents` columns that record a scan's signature (``RecordedSignature``), as SQLite and PostgreSQL add them.
/// They are terms of the document: set at registration, never updated.
enum DocumentSignatureColumns {
    static let definitions = [
        "signature_status TEXT NOT NULL DEFAULT 'unchecked'", "signature_reason TEXT", "signer_subject TEXT", "signer_sha256 TEXT",
        "signature_court TEXT", "signing_time_claimed TEXT", "signing_time_proven TEXT", "signing_time_authority TEXT",
        "signature_checked_at TEXT",
    ]
    /// The columns' names.
    static let names = definitions.map { String($0.prefix { $0 != " " }) }
}

/// The `log` table's check on `kind`, rewritten from v1's `kind IN (…)` to a chain of comparisons.
///
/// SQLite evaluates a CHECK's `IN (list)` by building a temporary b-tree of the list for every row inserted, which
/// was a large share of each group commit's work; comparisons allow exactly the same values for free. SQLite cannot
/// alter a constraint, and rebuilding the table would copy the whole log, so the table's definition is edited in
/// place by the procedure SQLite documents for changing a CHECK constraint (lang_altertable.html, section 7): no page
/// of the table changes, and every existing row satisfies the new check, which accepts exactly what the old one did.
/// The new definition is first parsed in a scratch in-memory database, in place of the documented integrity check,
/// which would read the whole log (about 15 s per million entries here) for a change that touches none of it.
enum LogKindCheck {
    static let v1 = "CHECK (kind IN ('decision', 'outcome', 'admin', 'shadow'))"
    static let current = "CHECK (kind = 'decision' OR kind = 'outcome' OR kind = 'admin' OR kind = 'shadow')"

    static func rewrite(_ db: Database) throws {
        let definition = "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'log'"
        guard let old = try String.fetchOne(db, sql: definition), old.contains(v1) else {
            throw StoreError("the log table's definition is not the one this version expects: restore it from a backup")
        }
        let new = old.replacingOccurrences(of: v1, with: current)
        try DatabaseQueue().write { scratch in try scratch.execute(sql: new) }
        let version = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
        try db.execute(sql: "PRAGMA writable_schema = ON")
        do {
            try db.execute(sql: "UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = 'log'", arguments: [new])
            // The version is a pragma's value, not a bindable parameter; it is an integer read just above.
            try db.execute(sql: "PRAGMA schema_version = \(version + 1)")
        } catch {
            try? db.execute(sql: "PRAGMA writable_schema = OFF")
            throw error
        }
        try db.execute(sql: "PRAGMA writable_schema = OFF")
    }
}
