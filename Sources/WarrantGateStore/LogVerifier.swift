import Crypto
import Foundation
import WarrantGateCore

/// What `log verify` found.
public struct VerificationReport: Sendable {
    public var entries: UInt64 = 0
    public var checkpoints = 0
    /// The problems found, the first ``maxListedProblems`` of them; the rest are counted in ``unlistedProblems``, so
    /// that a hostile file of millions of bad lines costs no more memory than a few.
    public var problems: [String] = []
    public var unlistedProblems = 0
    /// The first sequence number known to be bad, if one could be named.
    public var firstBadSeq: UInt64?
    public var root: Merkle.Hash = Merkle.emptyRoot
    /// The root of the tree rebuilt from the entries at the size the verification was asked for (`prefix`), nil when
    /// it was asked for none or the entries did not reach it.
    public var prefixRoot: Merkle.Hash?
    /// How many entries, from the first, the largest signed checkpoint that matched the log covers: the entries the
    /// key vouches for. 0 when no checkpoint matched.
    public var signedSize: UInt64 = 0
    /// The verifier key the signatures were checked with (`name+hash+base64`), for the report to name.
    public var key = ""
    /// Entries 1…N are archived and their archives were not given: they were checked only as the stored tree's
    /// leaves, not read. 0 when none.
    public var archivedUnread: UInt64 = 0
    /// The log's records of deliberate rollbacks: restores of an older backup (`store.restore-rollback`) and signers
    /// told to sign on from a restored log (`log.signer-restored`), by sequence number. Each forks the history that
    /// checkpoints published before it; an auditor holding one of those should know.
    public var rollbacks: [(seq: UInt64, action: String)] = []
    /// Entries whose time is earlier than an entry's before them by more than any request can take
    /// (``EntryTime/longestDecision`` and the clock allowance), and the first of them: a gateway's clock was wrong, or
    /// entries were backdated, which retention (judged by each entry's time) would then let be archived early.
    public var backdated: (count: UInt64, first: UInt64)?

    public var ok: Bool { problems.isEmpty }
    public var problemCount: Int { problems.count + unlistedProblems }
    public static let maxListedProblems = 100

    /// The entries after ``signedSize``: they verify only against each other, and anyone who could write the
    /// database could have written them. A live log has a few (until the next checkpoint); a bundle or a backup
    /// should have none.
    public var unsignedEntries: UInt64 { entries > signedSize ? entries - signedSize : 0 }

    /// Records a problem. Values it quotes come from the entries, hostile in a bundle or an archive: they are
    /// escaped for a terminal (``TerminalText``).
    mutating func fail(_ problem: String, seq: UInt64? = nil) {
        if problems.count < Self.maxListedProblems { problems.append(TerminalText.escaped(problem)) } else { unlistedProblems += 1 }
        if let seq, firstBadSeq.map({ seq < $0 }) ?? true { firstBadSeq = seq }
    }

    /// Fails the report if any entry is beyond the largest signed checkpoint.
    public mutating func requireSigned(_ remedy: String) {
        guard unsignedEntries > 0 else { return }
        fail("entries \(signedSize + 1)…\(entries) are covered by no signed checkpoint (the latest that matches covers \(signedSize)): \(remedy)", seq: signedSize + 1)
    }
}

/// A line of a bundle or an archive that is no entry: not UTF-8, or not an entry's JSON. Verification records it as a
/// problem and reads no further.
struct UnreadableEntry: Error, CustomStringConvertible {
    let detail: String
    var description: String { detail }
}

/// Recomputes the Merkle tree from the entries themselves — trusting no stored hash — and checks it against every
/// signed checkpoint, and against a checkpoint held off the machine. Detects edited, deleted, reordered and
/// truncated entries, a log replaced by another one, and the columns stored beside an entry (its time and decision
/// id, which reports, exports and proofs select on) disagreeing with what the hashed entry states.
public struct LogVerifier {
    public let key: LogVerifierKey

    public init(key: LogVerifierKey) {
        self.key = key
    }

    /// One entry as read from the database, a bundle or an archive.
    public struct Entry {
        public let seq: UInt64
        public let kind: String
        /// The `time` and `decision_id` columns stored beside the entry, outside its hash.
        public let time: String
        public let decisionId: String?
        public let entry: String
        /// The leaf hash stored beside the entry (database only), to name an edited entry.
        public let storedLeaf: Merkle.Hash?
    }

    /// Verifies a stream of entries in sequence order against signed checkpoint notes. `start` is the tree before the
    /// first streamed entry (empty unless older entries are archived and not streamed); a checkpoint smaller than it is
    /// checked against `rootOfPrefix`, the root the stored tree has at that size, and fails without it. `seal` is a
    /// backup's seal (``BackupSeal``), and `lastSigned` the signing key's record of its last checkpoint
    /// (``LastSignedCheckpoint``), are each checked as one more checkpoint: a log cut back below either fails. The
    /// report gives the rebuilt tree's root at size `prefix`, if one is asked for (``VerificationReport/prefixRoot``).
    /// `storedNode`, if given, is the stored tree's node at a level and index (nil when it holds none): each node the
    /// entries complete at a level the store keeps (``LogAppender/storedLevel`` and up) must be the stored one. (A node
    /// within the entries before `start` is not checked: they are not read.) `entries` hands each entry to `visit`,
    /// which returns the entry's leaf hash as computed from the entry.
    public func verify(
        startingFrom start: MerkleFrontier = MerkleFrontier(), rootOfPrefix: ((UInt64) throws -> Merkle.Hash)? = nil, prefix: UInt64? = nil,
        storedNode: ((_ level: Int, _ index: UInt64) throws -> Merkle.Hash?)? = nil,
        entries: (_ visit: (Entry) throws -> Merkle.Hash) throws -> Void, checkpointNotes: [String], against external: String?, lastSigned: String? = nil,
        seal: String? = nil
    ) throws -> VerificationReport {
        var report = VerificationReport()
        report.key = key.encoded.trimmingCharacters(in: .newlines)
        var checkpoints: [(index: Int, checkpoint: Checkpoint)] = []
        var lastSize: UInt64 = 0
        for (index, note) in checkpointNotes.enumerated() {
            do {
                let checkpoint = try Checkpoint.verify(note: note, key: key)
                if checkpoint.size < lastSize { report.fail("checkpoint \(index + 1) shrinks the log from \(lastSize) to \(checkpoint.size) entries") }
                lastSize = max(lastSize, checkpoint.size)
                checkpoints.append((index + 1, checkpoint))
            } catch {
                report.fail("checkpoint \(index + 1): \(error)")
            }
        }
        report.checkpoints = checkpointNotes.count
        var targets = checkpoints.map { (label: "checkpoint \($0.index)", checkpoint: $0.checkpoint) }
        let others = [
            ("the checkpoint held elsewhere", external), ("the signing key's record of the last checkpoint it signed", lastSigned), ("the backup's seal", seal),
        ]
        for (label, note) in others {
            guard let note else { continue }
            do { targets.append((label, try Checkpoint.verify(note: note, key: key))) } catch { report.fail("\(label): \(error)") }
        }
        targets.sort { $0.checkpoint.size < $1.checkpoint.size }

        func check(_ target: (label: String, checkpoint: Checkpoint), root: Merkle.Hash) {
            if root == target.checkpoint.root {
                report.signedSize = max(report.signedSize, target.checkpoint.size)
            } else {
                report.fail("\(target.label) (size \(target.checkpoint.size)) does not match the log: an entry at or before seq \(target.checkpoint.size) was changed, removed or reordered", seq: report.firstBadSeq ?? target.checkpoint.size)
            }
        }
        var frontier = start
        var next = 0
        var mismatchedNodes = Occurrences<(level: Int, index: UInt64)>()
        // Checkpoints inside the archived prefix: the stored tree must have their root there.
        while next < targets.count && targets[next].checkpoint.size < start.size {
            let target = targets[next]
            if let rootOfPrefix {
                check(target, root: (try? rootOfPrefix(target.checkpoint.size)) ?? Merkle.emptyRoot)
            } else {
                report.fail("\(target.label) (size \(target.checkpoint.size)) covers archived entries that cannot be checked here")
            }
            next += 1
        }
        func checkTargets() {
            if frontier.size == prefix { report.prefixRoot = frontier.root }
            while next < targets.count && targets[next].checkpoint.size == frontier.size {
                check(targets[next], root: frontier.root)
                next += 1
            }
        }
        checkTargets()
        var latestTime: Date?
        var outcomes = OutcomeLedger()
        do {
            try entries { entry in
                let columnProblem = Self.columnProblem(entry)
                // A row whose decision id column was edited is reported as such, not as a second decision or outcome.
                if columnProblem?.decisionId != true { outcomes.note(entry) }
                if let time = Timestamp.parse(entry.time) {
                    if let latest = latestTime, latest.timeIntervalSince(time) > EntryTime.longestDecision + EntryTime.clockAllowance {
                        report.backdated = (count: (report.backdated?.count ?? 0) + 1, first: report.backdated?.first ?? entry.seq)
                    }
                    latestTime = max(latestTime ?? time, time)
                }
                let expected = frontier.size + 1
                if entry.seq != expected {
                    report.fail(entry.seq > expected ? "seq \(expected) is missing (the next entry is seq \(entry.seq))" : "seq \(entry.seq) is out of order", seq: min(expected, entry.seq))
                }
                let leaf = LogLeaf.hash(kind: entry.kind, entry: Array(entry.entry.utf8))
                if let stored = entry.storedLeaf, stored != leaf {
                    report.fail("seq \(entry.seq) does not match its leaf hash: the entry was edited", seq: entry.seq)
                }
                if let columnProblem { report.fail("seq \(entry.seq): \(columnProblem.message)", seq: entry.seq) }
                if entry.kind == LogKind.admin.rawValue, (try? AdminRecord(entry: entry.entry)) == nil {
                    report.fail("seq \(entry.seq): an admin record not written as the CLI writes one (a key repeated, or written otherwise): it reads differently to different readers", seq: entry.seq)
                }
                if entry.kind == LogKind.admin.rawValue, let action = Self.rollbackActions.first(where: { entry.entry.contains(#""action":"\#($0)""#) }) {
                    report.rollbacks.append((entry.seq, action))
                }
                let completed = frontier.append(leaf: leaf)
                if let storedNode {
                    for node in completed where node.level >= LogAppender.storedLevel {
                        guard try storedNode(node.level, node.index) != node.hash else { continue }
                        mismatchedNodes.note((node.level, node.index))
                    }
                }
                checkTargets()
                return leaf
            }
        } catch let unreadable as UnreadableEntry {
            // A file's line that is no entry: the entries after it cannot be placed in the tree.
            report.fail("\(unreadable.detail): the entries after it were not read", seq: frontier.size + 1)
        }
        if let first = outcomes.again.first {
            report.fail(
                "seq \(first) is a second outcome of one decision (\(outcomes.again.count) such in all): the gateway writes one, so it was appended outside it",
                seq: first
            )
        }
        if let first = outcomes.repeatedDecisions.first {
            report.fail(
                "seq \(first) is a second decision with an earlier one's decision id (\(outcomes.repeatedDecisions.count) such in all): the gateway gives each its own, so it was appended outside it, and a proof or an export by that id could show either",
                seq: first
            )
        }
        if let first = outcomes.early.first {
            report.fail(
                "seq \(first) is an outcome written before its decision (\(outcomes.early.count) such in all): it was appended outside the gateway",
                seq: first
            )
        }
        // One line: after an entry missing or out of place, every node after it differs.
        if let (level, index) = mismatchedNodes.first {
            report.fail(
                "the stored tree's node at level \(level), index \(index) is not the one the entries make (\(mismatchedNodes.count) such in all): proofs through them would not verify",
                seq: index << UInt64(level) + 1
            )
        }
        report.entries = frontier.size
        report.root = frontier.root
        for target in targets[next...] {
            report.fail("\(target.label) covers \(target.checkpoint.size) entries but the log has only \(frontier.size): the tail was truncated", seq: frontier.size + 1)
        }
        if checkpointNotes.isEmpty && others.allSatisfy({ $0.1 == nil }) { report.fail("there is no signed checkpoint to verify against") }
        return report
    }

    /// The admin actions that record a deliberate rollback (see ``VerificationReport/rollbacks``).
    static let rollbackActions = ["store.restore-rollback", "log.signer-restored"]

    /// What an entry states about itself, for the columns stored beside it.
    struct Stated: Decodable {
        let time: String
        let decisionId: String?
    }

    /// Why the entry's `time` or `decision_id` column disagrees with the hashed entry, and whether it is the decision
    /// id's; nil when they agree. The decision id must be the one the entry states (none for an admin record); the
    /// time must be the entry's own for an admin record, and otherwise within ``EntryTime``'s bounds of it.
    static func columnProblem(_ entry: Entry) -> (message: String, decisionId: Bool)? {
        guard let stated = try? JSONDecoder().decode(Stated.self, from: Data(entry.entry.utf8)) else {
            return ("the entry states no time: it is not a record the gateway writes", false)
        }
        guard stated.decisionId == entry.decisionId else {
            return ("its decision_id column (\(entry.decisionId ?? "none")) is not the entry's (\(stated.decisionId ?? "none")): the column was edited", true)
        }
        guard stated.time != entry.time else { return nil }
        let edited = ("its time column (\(entry.time)) is not the entry's (\(stated.time)): the column was edited", false)
        // The column is compared as text where exports and reports select a range: it must be written as the store
        // writes it, or an equal instant written otherwise would sort outside its range.
        guard entry.kind != LogKind.admin.rawValue, let column = Timestamp.parse(entry.time), Timestamp.format(column) == entry.time,
              let time = Timestamp.parse(stated.time)
        else { return edited }
        let after = column.timeIntervalSince(time)
        let latest = entry.kind == LogKind.outcome.rawValue ? EntryTime.clockAllowance : EntryTime.longestDecision + EntryTime.clockAllowance
        return after >= -EntryTime.clockAllowance && after <= latest ? nil : edited
    }

    /// Verifies the log in a database, together with the archives of its older entries (oldest first). Without the
    /// archives, the tree over archived entries is taken from the stored nodes, and checkpoints inside it are checked
    /// against the stored tree's root at their size.
    ///
    /// It also checks the tree the database keeps beside the entries: the stored nodes (from which checkpoints and
    /// proofs are computed) and the tree's right edge (from which the next append continues) must be the tree of the
    /// entries, at its right edge and at every node it keeps; with archives, the hash it keeps of each archived entry
    /// must be that entry's too. `pass`, if given, is told what was read of the archives. `alsoReading`, if given, reads
    /// the database in the same transaction, after the verification: what it reads is what was verified.
    func verify(
        database: any SQLDatabase, archives: [String] = [], against external: String?, lastSigned: String? = nil, seal: String? = nil,
        pass: LogArchive.ArchivePass? = nil, alsoReading: ((any SQLSession) throws -> Void)? = nil
    ) throws -> VerificationReport {
        try database.read { session in
            // Read as rows, not through the checkpointer, which refuses a row whose columns are not its note's: here
            // that is one problem among the others the report names.
            let rows = try session.fetchAll("SELECT * FROM checkpoints ORDER BY id").map(Checkpointer.unchecked)
            let notes = rows.map(\.note)
            let archivedThrough = try LogArchive.archivedThrough(session)
            pass?.archivedThrough = archivedThrough
            var start = MerkleFrontier()
            if archives.isEmpty && archivedThrough > 0 { start = try LogAppender.frontier(session, size: archivedThrough) }
            let recorded = archivedThrough > 0 ? try LogArchive.recordedThrough(session) : nil
            var kept = KeptLeaves(session: session, through: archivedThrough)
            var nodes = StoredNodes(session: session)
            var report = try verify(
                startingFrom: start, rootOfPrefix: { size in try LogAppender.root(session, size: size) },
                prefix: archives.isEmpty ? nil : archivedThrough,
                storedNode: { level, index in try nodes.hash(level: level, index: index) },
                entries: { visit in
                    for archive in archives {
                        _ = try LogArchive.entries(path: archive, pass: pass) { entry in
                            try kept.compare(entry, leaf: try visit(entry))
                        }
                    }
                    try session.forEach("SELECT seq, kind, time, decision_id, entry, leaf_hash FROM log ORDER BY seq") { row in
                        _ = try visit(Entry(
                            seq: UInt64(max(try row.int64("seq"), 0)), kind: try row.text("kind"), time: try row.text("time"),
                            decisionId: try row.optionalText("decision_id"), entry: try row.text("entry"), storedLeaf: try row.bytes("leaf_hash")
                        ))
                    }
                },
                checkpointNotes: notes, against: external, lastSigned: lastSigned, seal: seal
            )
            for problem in rows.compactMap(Checkpointer.columnProblem) { report.fail(problem) }
            for problem in try session.integrityProblems(logOnly: false).prefix(10) {
                report.fail("SQLite's integrity check finds the file damaged or altered outside the gateway: \(problem)")
            }
            if let stray = try LogAppender.strayRows(session, size: report.entries, archivedThrough: archivedThrough) {
                report.fail("the stored tree holds \(stray): rows written outside the log's appends, which would stop its next appends or checkpoints")
            }
            if (try? LogAppender.root(session, size: report.entries)) != report.root {
                report.fail("the stored tree does not match the entries")
            }
            if (try? session.logFrontier())?.root != report.root {
                report.fail("the tree's right edge, from which the next append continues, does not match the entries")
            }
            if let first = kept.altered.first {
                report.fail("the hash the database keeps of archived seq \(first) is not its entry's (\(kept.altered.count) such in all): proofs of them would not verify", seq: first)
            }
            if let first = kept.missing.first {
                report.fail("the database keeps no hash of archived seq \(first) (\(kept.missing.count) such in all)", seq: first)
            }
            if archivedThrough > 0 && recorded != archivedThrough {
                report.fail(
                    "entries 1…\(archivedThrough) are marked archived, but the log's latest archive record says \(recorded.map { "1…\($0)" } ?? "none were"): entries were deleted outside `log archive`",
                    seq: (recorded ?? 0) + 1
                )
            } else if archivedThrough > 0, archives.isEmpty,  // the archives given were read and checked against the tree
                      let problem = try LogArchive.recordProblem(session, archivedThrough: archivedThrough, key: key, rootAt: { try LogAppender.root(session, size: $0) }) {
                report.fail("entries 1…\(archivedThrough) are marked archived, but \(problem)", seq: 1)
            }
            if archives.isEmpty { report.archivedUnread = archivedThrough }
            try alsoReading?(session)
            return report
        }
    }
}

/// The hashes the database keeps of archived entries (`archived_leaves`), compared with the entries read from their
/// archives: read in runs of ``runLength`` as the entries come, in order. A kept hash that is no blob (SQLite's column
/// takes text too) is no entry's hash: it counts as altered, not as an error that would leave the log unreported.
private struct KeptLeaves {
    let session: any SQLSession
    /// Entries 1…this are archived.
    let through: UInt64
    /// Archived entries whose kept hash is not theirs, and those with none: how many, and the first.
    private(set) var altered = Occurrences<UInt64>()
    private(set) var missing = Occurrences<UInt64>()
    private var run: [UInt64: Merkle.Hash] = [:]
    private var runRange: ClosedRange<UInt64>?
    static let runLength: UInt64 = 4096

    init(session: any SQLSession, through: UInt64) {
        self.session = session
        self.through = through
    }

    /// Compares the kept hash of `entry`, if it is archived, with `leaf`, the entry's own. Runs are read forward only:
    /// an entry behind the run read last is out of place, which the verifier reports, and is not compared, so that a
    /// hostile archive's order cannot make every line read a run again.
    mutating func compare(_ entry: LogVerifier.Entry, leaf: Merkle.Hash) throws {
        guard entry.seq >= 1, entry.seq <= through, entry.seq >= runRange?.lowerBound ?? 1 else { return }
        if runRange?.contains(entry.seq) != true {
            let range = entry.seq...min(entry.seq + Self.runLength - 1, through)
            var run: [UInt64: Merkle.Hash] = [:]
            try session.forEach("SELECT seq, leaf_hash FROM archived_leaves WHERE seq BETWEEN ? AND ?", Int64(range.lowerBound), Int64(range.upperBound)) { row in
                run[UInt64(max(try row.int64("seq"), 0))] = (try? row.bytes("leaf_hash")) ?? []
            }
            (self.run, runRange) = (run, range)
        }
        guard let hash = run[entry.seq] else {
            missing.note(entry.seq)
            return
        }
        if hash != leaf {
            altered.note(entry.seq)
        }
    }
}

/// The stored tree's nodes, read a run of ``runLength`` indices of a level at a time, all within one read of the
/// database (a run read once answers until another replaces it). The verifier asks for each level's nodes in increasing
/// index, so a log of a million entries takes a read or two a level, not one a node (on PostgreSQL, each a round trip).
/// A node outside its level's run is read in a new run. A run holds at most ``runLength`` rows. A row that is no node
/// (an index that is no whole number, a hash that is no blob) is left out: a node it stands for reads as none, and
/// ``LogAppender/strayRows(_:size:archivedThrough:)`` names such rows.
struct StoredNodes {
    let session: any SQLSession
    let runLength: UInt64
    private var runs: [Int: (range: ClosedRange<UInt64>, hashes: [UInt64: Merkle.Hash])] = [:]

    init(session: any SQLSession, runLength: UInt64 = 4096) {
        self.session = session
        self.runLength = min(max(runLength, 1), 1 << 20)
    }

    /// The node stored at (level, index), a level of ``LogAppender/storedLevel`` or above; nil when none is.
    mutating func hash(level: Int, index: UInt64) throws -> Merkle.Hash? {
        if let run = runs[level], run.range.contains(index) { return run.hashes[index] }
        let last = UInt64(Int64.max)
        guard index <= last else { return nil }
        let range = index...(index > last - (runLength - 1) ? last : index + runLength - 1)
        // Not a cursor: the verifier reads the log's entries through one while it asks for nodes.
        let rows = try session.fetchAll(
            "SELECT idx, hash FROM merkle_nodes WHERE level = ? AND idx BETWEEN ? AND ? AND CAST(idx AS BIGINT) = idx ORDER BY idx LIMIT ?",
            level, Int64(range.lowerBound), Int64(range.upperBound), Int64(runLength)
        )
        var hashes: [UInt64: Merkle.Hash] = [:]
        for row in rows {
            guard let stored = try? row.int64("idx"), let hash = try? row.bytes("hash") else { continue }
            hashes[UInt64(max(stored, 0))] = hash
        }
        runs[level] = (range, hashes)
        return hashes[index]
    }
}

/// The decisions and outcomes read, to find the entries the gateway would not have written: a second outcome of a
/// decision, one before its decision, or a second decision with one id. The gateway appends one outcome a decision,
/// after it; another, appended by anyone who can append to the log, would give reports and exports a status the
/// decision never had (they read the first outcome after a decision, ``LogExporter/firstOutcome(of:through:)``), and a
/// second decision under an id would be counted twice and could be shown in its place. Read over every entry streamed
/// (the archives', the database's, a bundle's), it also finds an outcome in the database of a decision an archive
/// holds. It keeps 16 bytes of each decision id (a SHA-256 prefix), with each outcome's sequence number: ~80 MB a
/// million requests.
private struct OutcomeLedger {
    private struct DecisionKey: Hashable {
        let high: UInt64, low: UInt64

        init(_ decisionId: String) {
            let digest = Array(SHA256.hash(data: Array(decisionId.utf8)))
            (high, low) = digest.withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        }
    }

    /// Each outcome's sequence number, by its decision.
    private var outcomes: [DecisionKey: UInt64] = [:]
    /// The decisions read.
    private var decisions: Set<DecisionKey> = []
    /// Outcomes of a decision whose outcome was read already.
    private(set) var again = Occurrences<UInt64>()
    /// Outcomes read before their decision.
    private(set) var early = Occurrences<UInt64>()
    /// Decisions whose id an earlier decision has.
    private(set) var repeatedDecisions = Occurrences<UInt64>()

    mutating func note(_ entry: LogVerifier.Entry) {
        guard let decisionId = entry.decisionId else { return }
        switch entry.kind {
        case LogKind.outcome.rawValue:
            let key = DecisionKey(decisionId)
            if outcomes[key] == nil { outcomes[key] = entry.seq } else { again.note(entry.seq) }
        case LogKind.decision.rawValue:
            let key = DecisionKey(decisionId)
            if !decisions.insert(key).inserted { repeatedDecisions.note(entry.seq) }
            if let outcome = outcomes[key] { early.note(outcome) }
        default:
            break
        }
    }
}

/// How many of a kind of problem were found, and the first: one line for all of them, in bounded memory.
private struct Occurrences<Place> {
    private(set) var count = 0
    private(set) var first: Place?

    mutating func note(_ place: Place) {
        count += 1
        if first == nil { first = place }
    }
}
