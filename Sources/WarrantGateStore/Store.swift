import Foundation
import GRDB
import WarrantGateCore

/// An open WarrantGate database: the one handle on the store that the gateway and the admin CLI hold. Its schema,
/// its SQL and GRDB stay inside this module.
///
/// Opening creates the file if needed (owner-only), applies the schema migrations it is missing, and sets WAL mode
/// with `synchronous = FULL` and a busy timeout, so the CLI and the gateway can write at the same time.
public final class Store: Sendable {
    public let path: String
    let pool: DatabasePool

    init(pool: DatabasePool, path: String) {
        self.pool = pool
        self.path = path
    }

    /// Opens (creating and migrating if needed) the database at `path`; `readonly` neither creates nor migrates.
    public static func open(path: String, readonly: Bool = false, busyTimeout: TimeInterval = StoreDatabase.busyTimeout) throws -> Store {
        Store(pool: try StoreDatabase.openPool(path: path, readonly: readonly, busyTimeout: busyTimeout), path: path)
    }

    /// The registry of documents, agencies and records in this database; document expiry dates end in `timeZone`.
    public func registry(timeZone: TimeZone) -> Registry {
        Registry(writer: pool, timeZone: timeZone)
    }

    /// The time zone in which document expiry dates end, as the gateway last recorded it from its policy.
    public func recordedTimeZone() throws -> TimeZone? {
        try Registry.recordedTimeZone(pool)
    }

    /// The append-only log's writer for the gateway (group commit; see ``DecisionLog``).
    public func decisionLog(outcomeDelay: Duration = .milliseconds(20)) -> DecisionLog {
        DecisionLog(writer: pool, path: path, outcomeDelay: outcomeDelay)
    }

    /// Signs checkpoints of this database's log with `key`.
    public func checkpointer(key: LogSigningKey) -> Checkpointer {
        Checkpointer(writer: pool, key: key, origin: key.name)
    }

    /// The latest signed checkpoint, if any.
    public func latestCheckpoint() throws -> StoredCheckpoint? {
        try Checkpointer.latest(pool)
    }

    /// Streams the log's decisions with their outcomes (see ``LogExporter``).
    public func exporter() -> LogExporter {
        LogExporter(reader: pool)
    }

    /// Checks the log, with any archives of its older entries, against its checkpoints and `external`.
    public func verify(key: LogVerifierKey, archives: [String] = [], against external: String?) throws -> VerificationReport {
        try LogVerifier(key: key).verify(database: pool, archives: archives, against: external)
    }

    /// A decision's entry, its inclusion proof and the latest checkpoint, for a court.
    public func inclusionProof(decisionId: String) throws -> InclusionProofFile {
        try InclusionProofFile.make(reader: pool, decisionId: decisionId)
    }

    /// Writes the auditor bundle (every entry and checkpoint, and the verifier key) line by line; returns the entry count.
    public func writeBundle(verifierKey: LogVerifierKey, write: (String) throws -> Void) throws -> Int {
        try AuditBundle.write(reader: pool, verifierKey: verifierKey, write: write)
    }

    /// Moves entries older than `before` into a new archive file at `path` (see ``LogArchive``); returns their count.
    public func archive(before: Date, verifierKey: LogVerifierKey, path: String, operator: String, at time: Date = Date()) throws -> Int {
        try LogArchive.archive(writer: pool, before: before, verifierKey: verifierKey, path: path, operator: `operator`, at: time)
    }

    /// The immigration-enforcement requests of `period`, as of the tree of `treeSize` entries.
    public func reportRequests(period: ReportPeriod, timeZone: TimeZone, treeSize: UInt64) throws -> [ReportData.Request] {
        try ReportBuilder.requests(reader: pool, period: period, timeZone: timeZone, treeSize: treeSize)
    }

    /// The tree's size and root now, and the log's origin, for a report to name.
    public func treeHead() throws -> (size: UInt64, root: Merkle.Hash, origin: String) {
        try ReportBuilder.treeHead(reader: pool)
    }
}
