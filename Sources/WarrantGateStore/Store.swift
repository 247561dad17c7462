import Foundation
import GRDB
import Logging
import WarrantGateCore

/// How to open a store's database.
public struct StoreOptions: Sendable {
    /// How long a statement may wait for another writer (SQLite's busy timeout; PostgreSQL's statement and lock
    /// timeouts) before failing.
    public var busyTimeout: Duration = .seconds(5)
    /// How long the gateway's decision log may take over one commit on PostgreSQL before its requests are refused.
    public var commitTimeout: Duration = .seconds(5)
    /// For PostgreSQL: a file whose first line is the password (else `PGPASSWORD`, else none).
    public var passwordFile: String?
    /// For PostgreSQL: the password itself, read by the caller (the CLI reads a file on an operator's behalf); it
    /// takes the place of `passwordFile`.
    public var password: String?
    /// For PostgreSQL off this host: the CA that signed the server's certificate (else the system's trust store).
    public var caFile: String?
    /// Opens without creating or migrating anything (SQLite), and a PostgreSQL store whose definitions are not this
    /// release's, with a warning, so that it can be verified and exported as it is.
    public var readonly = false

    public init(
        busyTimeout: Duration = .seconds(5), commitTimeout: Duration = .seconds(5), passwordFile: String? = nil, caFile: String? = nil,
        readonly: Bool = false
    ) {
        self.busyTimeout = busyTimeout
        self.commitTimeout = commitTimeout
        self.passwordFile = passwordFile
        self.caFile = caFile
        self.readonly = readonly
    }

    /// The PostgreSQL password: ``password`` if given, else the first line of ``passwordFile``, else `PGPASSWORD`.
    func resolvedPassword() throws(StoreError) -> String? {
        if let password { return password }
        return try PostgresLocation.password(file: passwordFile)
    }
}

/// An open WarrantGate store: the one handle on its database that the gateway and the admin CLI hold, on SQLite or on
/// PostgreSQL. Its schema and its SQL stay inside this module; everything above it works the same on either.
///
/// A SQLite file is created if needed (owner-only) and migrated, in WAL mode with `synchronous = FULL` and a busy
/// timeout, so the CLI and the gateway can write at the same time. A PostgreSQL database must hold the store's
/// tables already (`warrant-gate store init`, run as their owner): opening checks that it does.
public final class Store: Sendable {
    public let location: StoreLocation
    let database: any SQLDatabase
    private let backend: Backend
    /// The admin listener's connection (see ``probeRegistry(timeZone:)``): on PostgreSQL one of its own, opened on first
    /// use; on SQLite the store's pool, whose reads run side by side.
    private let probes: any SQLDatabase

    private enum Backend: Sendable {
        case sqlite(DatabasePool, path: String)
        /// The store's connection, and the checkpointer's (see ``Store/checkpointer(key:lastSigned:)``): each opened on first use.
        case postgres(PostgresLocation, PostgresStoreDatabase, signer: PostgresStoreDatabase, password: String?)
    }

    private let options: StoreOptions
    private static let logger = Logger(label: "warrant-gate.store")

    private init(location: StoreLocation, database: any SQLDatabase, backend: Backend, options: StoreOptions) {
        self.location = location
        self.database = database
        self.backend = backend
        self.options = options
        if case .postgres(_, let database, _, _) = backend { probes = database.sibling() } else { probes = database }
    }

    /// Opens (creating and migrating if needed) the SQLite database at `path`; `readonly` neither creates nor migrates.
    public static func open(path: String, readonly: Bool = false, busyTimeout: TimeInterval = StoreDatabase.busyTimeout) throws -> Store {
        let location = try StoreLocation(path)
        return try open(location, options: StoreOptions(busyTimeout: .milliseconds(Int64(busyTimeout * 1000)), readonly: readonly))
    }

    /// Opens the store at `location`.
    public static func open(_ location: StoreLocation, options: StoreOptions = StoreOptions()) throws -> Store {
        try open(location, options: options, extraTables: [])
    }

    /// Opens the store at `location`, a SQLite file of which may also hold the tables `extraTables` create (a backup's,
    /// while it is restored).
    static func open(_ location: StoreLocation, options: StoreOptions = StoreOptions(), extraTables: [String]) throws -> Store {
        _ = ProcessAccount.current  // read now: the password database may be slow, and no transaction may wait on it
        switch location.database {
        case .sqlite(let path):
            let seconds = TimeInterval(options.busyTimeout / .milliseconds(1)) / 1000
            let pool = try StoreDatabase.openPool(path: path, readonly: options.readonly, busyTimeout: seconds, extraTables: extraTables)
            let database = SQLiteDatabase(pool: pool)
            try StoreMigration.checkNotPending(database, at: location)
            return Store(location: location, database: database, backend: .sqlite(pool, path: path), options: options)
        case .postgres(let server):
            let password = try options.resolvedPassword()
            let database = PostgresStoreDatabase(
                configuration: try server.connectionConfiguration(password: password, caFile: options.caFile),
                statementTimeout: options.busyTimeout, logger: logger
            )
            let store = Store(
                location: location, database: database, backend: .postgres(server, database, signer: database.sibling(), password: password),
                options: options
            )
            do {
                try store.checkSchema()
                try StoreMigration.checkNotPending(database, at: location)
            } catch {
                database.close()
                throw error
            }
            return store
        }
    }

    /// Creates or upgrades a PostgreSQL store's tables, connected as their owner, and grants `roles` what each needs.
    public static func initialize(_ location: StoreLocation, roles: PostgresRoles, options: StoreOptions = StoreOptions()) throws {
        guard case .postgres(let server) = location.database else {
            throw StoreError("store init is for PostgreSQL: a SQLite database is created when it is first opened")
        }
        let database = PostgresStoreDatabase(
            configuration: try server.connectionConfiguration(password: try options.resolvedPassword(), caFile: options.caFile),
            statementTimeout: options.busyTimeout, logger: logger
        )
        defer { database.close() }
        do {
            try PostgresSchema.install(on: database, roles: roles)
        } catch {
            throw StoreError("cannot install the store's tables in \(server): \(StoreDatabase.describe(error))")
        }
    }

    /// Refuses to serve as a role other than the gateways' (see `PostgresSchema.checkServingRole`); SQLite has no
    /// roles.
    public func checkServingRole() throws {
        guard case .postgres(_, let database, _, _) = backend else { return }
        do {
            try PostgresSchema.checkServingRole(on: database)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("cannot read the role this gateway connects as in \(location): \(StoreDatabase.describe(error))")
        }
    }

    /// Refuses a PostgreSQL store without its tables, or whose definitions are an earlier release's or were changed
    /// since `store init` (``PostgresSchema/Installed``); opened ``StoreOptions/readonly`` (to verify or export it as it
    /// is), only warns of those. Warns of a store a later release installed, which this release reads.
    private func checkSchema() throws {
        let installed: PostgresSchema.Installed
        do {
            installed = try database.read { session in
                _ = try session.scalarInt64("SELECT version FROM registry_state WHERE id = 1")
                return try PostgresSchema.installed(session)
            }
        } catch {
            // The hint only where the tables are missing: not for a wrong password or a refused TLS handshake.
            let hint = PostgresErrors.isUndefinedTable(error) ? " (create the tables with `warrant-gate store init`)" : ""
            throw StoreError("cannot open \(location): \(StoreDatabase.describe(error))\(hint)")
        }
        if let problem = installed.problem {
            guard options.readonly else { throw StoreError("cannot open \(location): \(problem)") }
            Self.logger.warning("opened read-only: \(problem)")
        } else if case .later(let recorded) = installed {
            Self.logger.warning(
                "a later release of warrant-gate installed this store's tables: upgrade this host's warrant-gate too",
                metadata: ["recorded": "\(recorded)", "this release": "\(PostgresSchema.release)"]
            )
        }
    }

    /// The SQLite connection pool, for tests that break the gateway's own connection; nil for PostgreSQL.
    var sqlitePool: DatabasePool? {
        if case .sqlite(let pool, _) = backend { return pool }
        return nil
    }

    /// Closes a PostgreSQL store's connections (a later call opens another). A SQLite store closes when released.
    public func close() {
        if case .postgres(_, let database, let signer, _) = backend {
            database.close()
            signer.close()
            (probes as? PostgresStoreDatabase)?.close()
        }
    }

    /// The registry of documents, agencies and records in this database; document expiry dates end in `timeZone`.
    public func registry(timeZone: TimeZone) -> Registry {
        Registry(database: database, timeZone: timeZone)
    }

    /// The same registry for the admin listener's probes (readiness, metrics), on a connection of their own: on
    /// PostgreSQL a store's connection serves one call at a time, and a scrape waiting for a lock must not hold up the
    /// registry's refresh, whose delay past its bound refuses every request.
    public func probeRegistry(timeZone: TimeZone) -> Registry {
        Registry(database: probes, timeZone: timeZone)
    }

    /// The time zone in which document expiry dates end, as the gateway last recorded it from its policy.
    public func recordedTimeZone() throws -> TimeZone? {
        try Registry.recordedTimeZone(database)
    }

    /// The zone the latest admin record among the log's first `size` entries that records one names, if any: a
    /// `settings.time-zone` record's, or a `report.generate` record's, which states the zone the store recorded then.
    /// The store's recorded zone as the signed log vouches for it (the `settings` table itself is signed by nothing).
    public func loggedTimeZone(through size: UInt64) throws -> String? {
        try database.read { session in
            // Canonical JSON escapes every quote inside a value: the patterns find the key, and the record is read whole.
            for row in try session.fetchAll(
                "SELECT entry FROM log WHERE kind = 'admin' AND seq <= ? AND (entry LIKE ? OR entry LIKE ?) ORDER BY seq DESC",
                Int64(clamping: size), Registry.entries(of: "settings.time-zone"), Registry.entries(of: "report.generate")
            ) {
                guard let record = try? AdminRecord(entry: try row.text("entry")) else { continue }
                switch record.action {
                case "settings.time-zone": return record.details["value"]
                case "report.generate": if let zone = record.details["timeZone"] { return zone }
                default: continue
                }
            }
            return nil
        }
    }

    /// The append-only log's writer for the gateway (group commit; see ``DecisionLog`` and ``PostgresDecisionLog``).
    public func decisionLog(outcomeDelay: Duration = .milliseconds(20)) throws -> any DecisionLogWriter {
        switch backend {
        case .sqlite(let pool, let path):
            return DecisionLog(writer: pool, path: path, outcomeDelay: outcomeDelay)
        case .postgres(let server, _, _, let password):
            return PostgresDecisionLog(
                configuration: try server.clientConfiguration(password: password, caFile: options.caFile), logger: Self.logger,
                commitTimeout: options.commitTimeout
            )
        }
    }

    /// Signs checkpoints of this database's log with `key`. On PostgreSQL checkpointers have a connection of their own,
    /// closed with the store's (``close()``): preparing a checkpoint reads and hashes every entry since the last one,
    /// and the store's connection, which the registry's reads take turns on, must not wait behind that.
    /// `lastSigned` records the last checkpoint signed outside the database (see ``LastSignedCheckpoint``).
    public func checkpointer(key: LogSigningKey, lastSigned: LastSignedCheckpoint?) -> Checkpointer {
        switch backend {
        case .sqlite: Checkpointer(database: database, key: key, origin: key.name, lastSigned: lastSigned)
        case .postgres(_, _, let signer, _): Checkpointer(database: signer, key: key, origin: key.name, lastSigned: lastSigned)
        }
    }

    /// The latest signed checkpoint, if any.
    public func latestCheckpoint() throws -> StoredCheckpoint? {
        try database.read { session in try Checkpointer.latest(session) }
    }

    /// Streams the log's decisions with their outcomes (see ``LogExporter``).
    public func exporter() -> LogExporter {
        LogExporter(database: database)
    }

    /// Checks the log, with any archives of its older entries, against its checkpoints and `external`.
    public func verify(key: LogVerifierKey, archives: [String] = [], against external: String?, lastSigned: String? = nil) throws -> VerificationReport {
        try LogVerifier(key: key).verify(database: database, archives: archives, against: external, lastSigned: lastSigned)
    }

    /// A decision's entry, its inclusion proof and the latest checkpoint, for a court.
    public func inclusionProof(decisionId: String) throws -> InclusionProofFile {
        try InclusionProofFile.make(database: database, decisionId: decisionId)
    }

    /// Writes the auditor bundle (every entry and checkpoint, and the verifier key) line by line; returns the entry count.
    public func writeBundle(verifierKey: LogVerifierKey, write: (String) throws -> Void) throws -> Int {
        try AuditBundle.write(database: database, verifierKey: verifierKey, write: write)
    }

    /// Moves entries older than `before` into a new archive file at `path` (see ``LogArchive``); returns their count.
    public func archive(before: Date, key: LogSigningKey, path: String, operator: String, at time: Date = Date()) throws -> Int {
        try LogArchive.archive(database: database, before: before, key: key, path: path, operator: `operator`, at: time)
    }

    /// Signs the record of the archived entries from their archives (see ``LogArchive``); returns what it states.
    public func vouchForArchives(_ archives: [String], key: LogSigningKey, operator: String) throws -> ArchiveStatement {
        try LogArchive.vouch(database: database, key: key, archives: archives, operator: `operator`)
    }

    /// The entries `log archive` has moved out of the database; nil if none.
    public func archivedEntries() throws -> ArchivedEntries? {
        try database.read { session in try LogArchive.archived(session) }
    }

    /// The time of the log's latest entry a gateway stamped (see ``SQLSession/latestGatewayTime()``).
    public func latestGatewayTime() throws -> Date? {
        try database.read { session in try session.latestGatewayTime() }
    }

    /// How many entries the log has had, archived ones included.
    public func logSize() throws -> UInt64 {
        try database.read { session in try session.logSize() }
    }

    /// The immigration-enforcement requests of `period` and the immigration forms registered in it, as of the tree of
    /// `treeSize` entries; archived ones only from `archives`, every archive of the log oldest first, which must match
    /// the stored tree (see ``ArchiveCount``). A log table found damaged or altered is refused
    /// (``SQLSession/requireIntactLog()``); ``verifiedReportEntries(key:archives:against:lastSigned:period:timeZone:treeSize:)``
    /// counts within a verification instead.
    public func reportEntries(period: ReportPeriod, timeZone: TimeZone, treeSize: UInt64, archives: [String] = []) throws -> ReportEntries {
        try ReportBuilder.entries(database: database, period: period, timeZone: timeZone, treeSize: treeSize, archives: archives)
    }

    /// The log verified (``verify(key:archives:against:lastSigned:)``), and a report's entries
    /// (``reportEntries(period:timeZone:treeSize:archives:)``) counted in the same read transaction,
    /// so that what is counted is what verified: a row changed and put back meanwhile, or one that a later read would
    /// not see, cannot be counted unverified.
    public func verifiedReportEntries(
        key: LogVerifierKey, archives: [String], against external: String?, lastSigned: String?, period: ReportPeriod, timeZone: TimeZone,
        treeSize: UInt64
    ) throws -> (VerificationReport, ReportEntries) {
        var entries = ReportEntries()
        let report = try LogVerifier(key: key).verify(database: database, archives: archives, against: external, lastSigned: lastSigned) { session in
            entries = try ReportBuilder.entries(session, period: period, timeZone: timeZone, treeSize: treeSize, archives: archives)
        }
        return (report, entries)
    }

    /// The tree's size and root now, and the log's origin, for a report to name.
    public func treeHead() throws -> TreeHead {
        try ReportBuilder.treeHead(database: database)
    }

    /// The tree head of the signed checkpoint of `size` entries, for a report computed again as it was; nil if none.
    public func treeHead(signedAt size: UInt64) throws -> TreeHead? {
        try ReportBuilder.treeHead(database: database, signedAt: size)
    }
}
