import Crypto
import Foundation
import WarrantGateCore

/// Retention: old entries move out of the database into a verifiable archive file, while the Merkle tree stays whole
/// (its nodes and the archived leaves' hashes remain), so checkpoints, proofs of newer entries and verification
/// across archive and database keep working.
public enum LogArchive {
    /// The shortest retention the CLI allows without an explicit override.
    public static let defaultRetentionDays = 365

    struct Header: Codable {
        var format: String
        var verifierKey: String
        var fromSeq: UInt64
        var throughSeq: UInt64
        var checkpoints: [String]
    }

    public static let formatName = "warrant-gate-archive/v1"

    /// The entries archived so far, nil if none. The latest time they state is the one the last archive recorded
    /// (`latestTime`), else its cutoff (every entry archived then had an earlier `time` column) plus the clock
    /// allowance; unknown if its record is not found.
    static func archived(_ session: any SQLSession) throws -> ArchivedEntries? {
        let through = try archivedThrough(session)
        guard through > 0 else { return nil }
        guard let record = try latestRecord(session), record.details["throughSeq"] == String(through) else {
            return ArchivedEntries(throughSeq: UInt64(through), latestTime: nil)
        }
        let latest = record.details["latestTime"].flatMap(Timestamp.parse)
            ?? record.details["before"].flatMap(Timestamp.parse).map { $0.addingTimeInterval(EntryTime.clockAllowance) }
        return ArchivedEntries(throughSeq: UInt64(through), latestTime: latest)
    }

    /// How many entries, from the first, are archived (`archive_state`); 0 when none.
    static func archivedThrough(_ session: any SQLSession) throws -> UInt64 {
        UInt64(max(try session.scalarInt64("SELECT archived_through FROM archive_state WHERE id = 1") ?? 0, 0))
    }

    /// The latest time that `latest` and the entry `entry` state, or nil once an entry states none (unknown).
    static func laterStatedTime(_ latest: Date?, entry: String) -> Date? {
        let stated = (try? JSONDecoder().decode(LogVerifier.Stated.self, from: Data(entry.utf8))).flatMap { Timestamp.parse($0.time) }
        guard let latest, let stated else { return nil }
        return max(latest, stated)
    }

    /// The last entry the log's latest `log.archive` record says was archived; nil when the log holds no such record.
    /// That record is an entry of the log, hashed and signed like the others, so entries marked archived beyond it
    /// were deleted outside `log archive`.
    static func recordedThrough(_ session: any SQLSession) throws -> UInt64? {
        try latestRecord(session)?.details["throughSeq"].flatMap { UInt64($0) }
    }

    /// Why the log's latest `log.archive` record does not vouch for its entries 1…`archivedThrough` being archived by
    /// `log archive` under `key` (``ArchiveStatement``), or nil if it does. `rootAt` is the stored tree's root at a size.
    static func recordProblem(_ session: any SQLSession, archivedThrough: UInt64, key: LogVerifierKey, rootAt: (UInt64) throws -> Merkle.Hash) throws -> String? {
        guard let record = try latestRecord(session) else { return "no log.archive record says they were archived" }
        guard let statement = ArchiveStatement(details: record.details), statement.throughSeq == archivedThrough else {
            return "the latest log.archive record does not state their archive (its entries, root and file digest)"
        }
        guard let signature = record.details["signature"], statement.isSigned(signature, by: key) else {
            return "the log.archive record that says so is not signed by the log's key: entries may have been deleted by whoever could write the database"
        }
        guard (try? rootAt(archivedThrough)) == statement.root else {
            return "the signed log.archive record is not of this log: the tree's root at \(archivedThrough) entries is not the one it states"
        }
        return nil
    }

    /// The log's latest `log.archive` record, if any.
    private static func latestRecord(_ session: any SQLSession) throws -> AdminRecord? {
        let row = try session.fetchOne(
            "SELECT entry FROM log WHERE kind = 'admin' AND entry LIKE ? ORDER BY seq DESC LIMIT 1", #"%"action":"log.archive"%"#
        )
        let record = try row.map { try AdminRecord(entry: $0.text("entry")) }
        return record?.action == "log.archive" ? record : nil
    }

    /// Moves every entry older than `before` (a prefix of the log) into `path`, a new file (mode 0600) that is complete
    /// and synced before any entry leaves the database. Refuses an existing file or link at `path`, which may hold
    /// archived entries. Records the archive in the log as an ``ArchiveStatement`` signed by `key`, with the latest time
    /// any entry archived so far states (`latestTime`, when known), for reports to say whether their period lost
    /// entries. Returns the number archived.
    @discardableResult
    static func archive(database: any SQLDatabase, before: Date, key: LogSigningKey, path: String, operator: String, at time: Date = Date()) throws -> Int {
        let (earlier, through, notes) = try database.read { session -> (ArchivedEntries?, UInt64, [String]) in
            let firstKept = try session.scalarInt64("SELECT min(seq) FROM log WHERE time >= ?", Timestamp.format(before))
            let last = try session.scalarInt64("SELECT max(seq) FROM log") ?? 0
            let through = UInt64(max(firstKept.map { $0 - 1 } ?? last, 0))
            return (try archived(session), through, try Checkpointer.all(session).map(\.note))
        }
        let from = (earlier?.throughSeq ?? 0) + 1
        guard through >= from else { return 0 }
        guard let latest = notes.last, let size = UInt64(latest.split(separator: "\n")[1]), size >= through else {
            throw StoreError("sign a checkpoint covering seq \(through) first (`warrant-gate log checkpoint`): archived entries must stay provable")
        }
        let output = try PrivateFile.Output(path: path, existing: .refuse, keepingFree: .copies)
        var digest = SHA256()
        func write(_ data: Data) throws {
            digest.update(data: data)
            try output.write(data)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let header = Header(format: formatName, verifierKey: key.verifier.encoded.trimmingCharacters(in: .newlines), fromSeq: from, throughSeq: through, checkpoints: notes)
        try write(try encoder.encode(header) + Data("\n".utf8))
        // Unknown if an earlier archive's is, or if an entry states no time.
        var latestTime: Date? = earlier == nil ? .distantPast : earlier?.latestTime
        let root = try database.read { session in
            try session.forEach("SELECT seq, kind, time, decision_id, entry FROM log WHERE seq BETWEEN ? AND ? ORDER BY seq", Int64(from), Int64(through)) { row in
                let line = try AuditBundle.Line(row)
                try write(try encoder.encode(line) + Data("\n".utf8))
                latestTime = laterStatedTime(latestTime, entry: line.entry)
            }
            return try LogAppender.root(session, size: through)
        }
        try output.commit()
        let statement = ArchiveStatement(
            fromSeq: from, throughSeq: through, root: root, latestTime: latestTime.map(Timestamp.format), before: Timestamp.format(before),
            archiveSHA256: Hex.encode(digest.finalize())
        )
        var details = statement.details
        details["file"] = path
        details["signature"] = try statement.signature(by: key)
        return try database.write { session in
            try session.execute("INSERT INTO archived_leaves (seq, leaf_hash) SELECT seq, leaf_hash FROM log WHERE seq BETWEEN ? AND ?", Int64(from), Int64(through))
            try session.execute("UPDATE archive_state SET archived_through = ? WHERE id = 1", Int64(through))
            try session.execute("DELETE FROM log WHERE seq BETWEEN ? AND ?", Int64(from), Int64(through))
            try Registry.appendAdmin(session, AdminRecord(
                time: Timestamp.format(time), operator: `operator`, action: "log.archive", target: "log",
                details: details
            ))
            return Int(through - from + 1)
        }
    }

    /// Signs the record of the entries archived so far from their archives (`log vouch-archives`): for a log archived
    /// before `log archive` signed its records, whose latest record `log verify` refuses without the archives. The log
    /// must verify with `archives` (every archived entry read from them and matching the tree); the statement covers
    /// entries 1…`archived_through`, with their tree's root rebuilt from the files, the latest time they state and the
    /// SHA-256 of the files' bytes in order. Each file is read once, so the bytes digested and hashed into the root are
    /// the bytes verified; refused if the log is archived further meanwhile.
    static func vouch(database: any SQLDatabase, key: LogSigningKey, archives: [String], operator: String, at time: Date = Date()) throws -> ArchiveStatement {
        guard !archives.isEmpty else { throw StoreError("give the archive files of every archived entry, oldest first") }
        let pass = ArchivePass()
        let report = try LogVerifier(key: key.verifier).verify(database: database, archives: archives, against: nil, pass: pass)
        guard report.ok else {
            throw StoreError("the log does not verify with these archives, so they cannot vouch for it: " + report.problems.prefix(3).joined(separator: "; "))
        }
        let through = pass.archivedThrough
        guard through > 0 else { throw StoreError("no entries are archived: there is nothing to vouch for") }
        // The root of the entries read from the archives, which the verification found the stored tree to have too.
        guard let root = report.prefixRoot else { throw StoreError("the archives do not hold entries 1…\(through)") }
        return try database.write { session in
            // On PostgreSQL a `log archive` takes the frontier to record itself, and holds it until it commits. Locked
            // first, the check below comes before that archive's record, or waits for its commit and reads what it
            // committed. (SQLite's write transactions are serial already.)
            if session.dialect == .postgres { _ = try session.fetchAll(PostgresLogAppend.lockFrontier, []) }
            guard try archivedThrough(session) == through else {
                throw StoreError("the log was archived further while its archives were read: run `log vouch-archives` again with every archive")
            }
            let statement = ArchiveStatement(
                fromSeq: 1, throughSeq: through, root: root, latestTime: pass.latestTime.map(Timestamp.format),
                before: nil, archiveSHA256: Hex.encode(pass.digest.finalize())
            )
            var details = statement.details
            details["signature"] = try statement.signature(by: key)
            details["vouchedBy"] = archives.joined(separator: ", ")
            try Registry.appendAdmin(session, AdminRecord(time: Timestamp.format(time), operator: `operator`, action: "log.archive", target: "log", details: details))
            return statement
        }
    }

    /// What one verification read from archive files (``LogVerifier/verify(database:archives:against:lastSigned:seal:pass:)``),
    /// for a statement that must describe the bytes verified rather than a second read of files that may have changed.
    final class ArchivePass {
        /// The SHA-256 of the archives' bytes, in the order given.
        private(set) var digest = SHA256()
        /// The latest time stated by an archived entry; nil once one states none (unknown).
        private(set) var latestTime: Date? = .distantPast
        /// Entries 1…this were archived when the verification read the database.
        var archivedThrough: UInt64 = 0

        func read(_ chunk: Data) { digest.update(data: chunk) }

        func visit(_ entry: LogVerifier.Entry) {
            if entry.seq <= archivedThrough { latestTime = LogArchive.laterStatedTime(latestTime, entry: entry.entry) }
        }
    }

    /// Reads an archive's entries, for verification spanning archives and the database.
    static func entries(path: String, pass: ArchivePass? = nil, visit: (LogVerifier.Entry) throws -> Void) throws -> (from: UInt64, through: UInt64) {
        var lines = try LineReader(path: path)
        lines.onRead = pass?.read
        let decoder = UniqueKeyJSONDecoder()
        guard let first = (try? lines.next()) ?? nil, let header = try? decoder.decode(Header.self, from: Data(first.utf8)), header.format == formatName else {
            throw StoreError("\(path) is not a \(formatName) file")
        }
        while let text = try lines.next() {
            guard !text.isEmpty else { continue }
            let entry = try lines.entry(text, decoder: decoder)
            pass?.visit(entry)
            try visit(entry)
        }
        return (header.fromSeq, header.throughSeq)
    }
}
