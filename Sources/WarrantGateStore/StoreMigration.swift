import Foundation
import WarrantGateCore

/// What `store migrate` copied.
public struct MigrationReport: Sendable {
    public var entries: UInt64 = 0
    public var checkpoints = 0
    public var registryRows = 0
    /// The root of the copied log's tree, equal in both databases.
    public var root: Merkle.Hash = Merkle.emptyRoot
}

/// Copies a site's store — its log, its checkpoints and its registry — from one database into an empty one (from
/// SQLite to PostgreSQL, when a site grows to several gateways), then checks that the Merkle root at every checkpoint
/// is the same in both.
///
/// The entries are appended to the target in their order, and each one's leaf hash, computed anew, must equal the
/// one stored in the source; the checkpoints are copied as signed, after the entries they cover. Their signatures are
/// not checked here: the caller verifies the source's log with its key first (`store migrate` does). The target must be
/// empty. A log whose older entries were archived cannot be copied, since those entries are no longer in it.
///
/// Until the copy is checked, the target carries the setting ``pendingKey``, and ``Store/open(_:options:)`` refuses
/// it: a gateway on a copy cut short would sign checkpoints over part of the log, forking it from the source's.
public enum StoreMigration {
    /// The setting that marks a target whose copy has not finished.
    static let pendingKey = "migration-pending"

    /// The registry's tables, each with its columns, in an order that copies every row of the same schema both ways.
    static let registryTables: [(table: String, columns: [String], identity: Bool)] = [
        ("documents", [
            "reference", "kind", "status", "agency", "subjects", "scope", "expires", "expires_at", "court", "judge", "case_number",
            "document_sha256", "no_document_reason", "registered_by", "registered_at", "two_person_rule", "approved_by", "approved_at",
            "status_reason", "superseded_by", "identity_sha256",
        ] + DocumentSignatureColumns.names, false),
        ("subject_records", [
            "id", "subject", "kind", "given_by", "given_at", "language", "attorney_required", "scope", "recorded_by", "recorded_at",
        ], true),
        ("subject_facts", ["subject", "name", "value", "set_by", "set_at"], false),
        ("agencies", ["id", "name", "category", "spki_pins", "added_by", "added_at", AgencyExtensionColumn.name], false),
        ("certificate_revocations", ["id", "agency", "spki", "serial", "reason", "revoked_by", "revoked_at"], true),
        ("agency_requests", ["id"] + AgencyRequestColumns.names, true),
        ("settings", ["key", "value"], false),
    ]

    /// How many entries go in one transaction of the target.
    static let batch = 1_000

    /// Copies `source` into `target` and checks the copy; `progress` hears the number of entries copied so far.
    public static func copy(from source: Store, to target: Store, progress: (UInt64) -> Void = { _ in }) throws -> MigrationReport {
        let from = source.database, to = target.database
        try checkEmpty(to)
        let (archived, checkpoints) = try from.read { session in
            (try session.scalarInt64("SELECT archived_through FROM archive_state WHERE id = 1") ?? 0, try Checkpointer.all(session))
        }
        guard archived == 0 else {
            throw StoreError("the source's log has archived entries (through seq \(archived)), which it no longer holds: they cannot be copied")
        }
        var report = MigrationReport()
        // The registry, in one transaction, with the mark that the copy is under way; an identity column's sequence
        // then continues after the copied ids.
        try to.write { target in
            try target.execute("INSERT INTO settings (key, value) VALUES (?, ?)", pendingKey, "since \(Timestamp.format(Date()))")
            try from.read { source in
                for (table, columns, identity) in registryTables {
                    let list = columns.joined(separator: ", ")
                    var insert = "INSERT INTO \(table) (\(list)) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))"
                    // A gateway that opened the target has recorded its time zone there already.
                    if table == "settings" { insert += " ON CONFLICT (key) DO UPDATE SET value = excluded.value" }
                    try source.forEach("SELECT \(list) FROM \(table)") { row in
                        try target.execute(insert, try columns.map { try row.value($0) })
                        report.registryRows += 1
                    }
                    if identity && target.dialect == .postgres {
                        try target.execute(
                            "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), coalesce((SELECT max(id) FROM \(table)), 0) + 1, false)", [SQLValue]()
                        )
                    }
                }
            }
        }
        // The log, in order, a batch per transaction of the target.
        var pending: [LogAppender.Pending] = []
        func flush() throws {
            guard !pending.isEmpty else { return }
            let entries = pending
            try to.write { session in try session.appendLog(entries) }
            report.entries += UInt64(entries.count)
            pending.removeAll(keepingCapacity: true)
            progress(report.entries)
        }
        try from.read { session in
            try session.forEach("SELECT seq, kind, time, decision_id, entry, leaf_hash FROM log ORDER BY seq") { row in
                let seq = try row.int64("seq")
                guard seq == Int64(report.entries) + Int64(pending.count) + 1 else { throw StoreError("the source's log has a gap before seq \(seq)") }
                let entry = LogAppender.Pending(
                    kind: try row.text("kind"), time: try row.text("time"), decisionId: try row.optionalText("decision_id"),
                    entry: Array(try row.text("entry").utf8)
                )
                guard entry.leaf == (try row.bytes("leaf_hash")) else {
                    throw StoreError("the source's entry \(seq) does not match its leaf hash: run `warrant-gate log verify` on it")
                }
                pending.append(entry)
                if pending.count == batch { try flush() }
            }
        }
        try flush()
        // The checkpoints, as signed, and the tree checked at each of them in both databases.
        for checkpoint in checkpoints {
            let (sourceRoot, targetRoot) = (
                try from.read { try LogAppender.root($0, size: checkpoint.size) }, try to.read { try LogAppender.root($0, size: checkpoint.size) }
            )
            guard sourceRoot == checkpoint.root, targetRoot == checkpoint.root else {
                throw StoreError("the copied log's root at checkpoint \(checkpoint.id) (\(checkpoint.size) entries) does not match the checkpoint")
            }
            try to.write { session in
                try session.execute(
                    "INSERT INTO checkpoints (id, size, root, note, time) VALUES (?, ?, ?, ?, ?)",
                    checkpoint.id, Int64(checkpoint.size), checkpoint.root, checkpoint.note, checkpoint.time
                )
            }
            report.checkpoints += 1
        }
        let (sourceFrontier, targetFrontier) = (try from.read { try $0.logFrontier() }, try to.read { try $0.logFrontier() })
        guard sourceFrontier == targetFrontier else { throw StoreError("the copied log's tree does not match the source's") }
        try to.write { session in try session.execute("DELETE FROM settings WHERE key = ?", pendingKey) }
        report.root = targetFrontier.root
        return report
    }

    /// Throws if `database` is the target of a copy that has not finished.
    static func checkNotPending(_ database: any SQLDatabase, at location: StoreLocation) throws {
        guard let since = try database.read({ try $0.scalarText("SELECT value FROM settings WHERE key = ?", pendingKey) }) else { return }
        throw StoreError(
            "\(location) is the target of a `store migrate` that has not finished (\(since)): drop that database, create it "
                + "again with `warrant-gate store init`, and migrate again"
        )
    }

    private static func checkEmpty(_ database: any SQLDatabase) throws {
        try database.read { session in
            let tables = ["log", "checkpoints"] + registryTables.map(\.table).filter { $0 != "settings" }
            for table in tables where try session.fetchOne("SELECT 1 AS present FROM \(table) LIMIT 1") != nil {
                throw StoreError("the target already holds rows in \(table): migrate only into an empty store")
            }
        }
    }
}
