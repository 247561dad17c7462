import Foundation
import WarrantGateCore

/// What `log verify` found.
public struct VerificationReport: Sendable {
    public var entries: UInt64 = 0
    public var checkpoints = 0
    public var problems: [String] = []
    /// The first sequence number known to be bad, if one could be named.
    public var firstBadSeq: UInt64?
    public var root: Merkle.Hash = Merkle.emptyRoot

    public var ok: Bool { problems.isEmpty }

    mutating func fail(_ problem: String, seq: UInt64? = nil) {
        problems.append(problem)
        if let seq, firstBadSeq.map({ seq < $0 }) ?? true { firstBadSeq = seq }
    }
}

/// Recomputes the Merkle tree from the entries themselves — trusting no stored hash — and checks it against every
/// signed checkpoint, and against a checkpoint held off the machine. Detects edited, deleted, reordered and
/// truncated entries, and a log replaced by another one.
public struct LogVerifier {
    public let key: LogVerifierKey

    public init(key: LogVerifierKey) {
        self.key = key
    }

    /// One entry as read from the database or a bundle.
    public struct Entry {
        public let seq: UInt64
        public let kind: String
        public let entry: String
        /// The leaf hash stored beside the entry (database only), to name an edited entry.
        public let storedLeaf: Merkle.Hash?
    }

    /// Verifies a stream of entries in sequence order against signed checkpoint notes. `start` is the tree before the
    /// first streamed entry (empty unless older entries are archived and not streamed).
    public func verify(
        startingFrom start: MerkleFrontier = MerkleFrontier(), entries: (_ visit: (Entry) throws -> Void) throws -> Void, checkpointNotes: [String],
        against external: String?
    ) throws -> VerificationReport {
        var report = VerificationReport()
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
        var externalCheckpoint: Checkpoint?
        if let external {
            do { externalCheckpoint = try Checkpoint.verify(note: external, key: key) } catch { report.fail("the checkpoint held elsewhere: \(error)") }
        }
        var targets = checkpoints.map { (label: "checkpoint \($0.index)", checkpoint: $0.checkpoint) }
        if let externalCheckpoint { targets.append((label: "the checkpoint held elsewhere", checkpoint: externalCheckpoint)) }
        targets.sort { $0.checkpoint.size < $1.checkpoint.size }

        var frontier = start
        var next = 0
        if start.size > 0 {
            // Checkpoints inside the archived prefix cannot be recomputed from entries here; they are checked when
            // the archives are given.
            while next < targets.count && targets[next].checkpoint.size < start.size { next += 1 }
        }
        func checkTargets() {
            while next < targets.count && targets[next].checkpoint.size == frontier.size {
                let target = targets[next]
                if frontier.root != target.checkpoint.root {
                    report.fail("\(target.label) (size \(target.checkpoint.size)) does not match the log: an entry at or before seq \(target.checkpoint.size) was changed, removed or reordered", seq: report.firstBadSeq ?? target.checkpoint.size)
                }
                next += 1
            }
        }
        checkTargets()
        try entries { entry in
            let expected = frontier.size + 1
            if entry.seq != expected {
                report.fail(entry.seq > expected ? "seq \(expected) is missing (the next entry is seq \(entry.seq))" : "seq \(entry.seq) is out of order", seq: min(expected, entry.seq))
            }
            let leaf = LogLeaf.hash(kind: entry.kind, entry: Array(entry.entry.utf8))
            if let stored = entry.storedLeaf, stored != leaf {
                report.fail("seq \(entry.seq) does not match its leaf hash: the entry was edited", seq: entry.seq)
            }
            frontier.append(leaf: leaf)
            checkTargets()
        }
        report.entries = frontier.size
        report.root = frontier.root
        for target in targets[next...] {
            report.fail("\(target.label) covers \(target.checkpoint.size) entries but the log has only \(frontier.size): the tail was truncated", seq: frontier.size + 1)
        }
        if checkpointNotes.isEmpty && external == nil { report.fail("there is no signed checkpoint to verify against") }
        return report
    }

    /// Verifies the log in a database, together with the archives of its older entries (oldest first). Without the
    /// archives, the tree over archived entries is taken from the stored nodes, and checkpoints inside it are only
    /// checked for consistency with those nodes.
    ///
    /// It also checks the tree the database keeps beside the entries: the stored nodes (from which checkpoints and
    /// proofs are computed) and the tree's right edge (from which the next append continues) must be the tree of the
    /// entries.
    func verify(database: any SQLDatabase, archives: [String] = [], against external: String?) throws -> VerificationReport {
        try database.read { session in
            let notes = try Checkpointer.all(session).map(\.note)
            let archivedThrough = UInt64(max(try session.scalarInt64("SELECT archived_through FROM archive_state WHERE id = 1") ?? 0, 0))
            var start = MerkleFrontier()
            if archives.isEmpty && archivedThrough > 0 { start = try LogAppender.frontier(session, size: archivedThrough) }
            var report = try verify(startingFrom: start, entries: { visit in
                for archive in archives { _ = try LogArchive.entries(path: archive, visit: visit) }
                try session.forEach("SELECT seq, kind, entry, leaf_hash FROM log ORDER BY seq") { row in
                    try visit(Entry(
                        seq: UInt64(max(try row.int64("seq"), 0)), kind: try row.text("kind"), entry: try row.text("entry"),
                        storedLeaf: try row.bytes("leaf_hash")
                    ))
                }
            }, checkpointNotes: notes, against: external)
            if (try? LogAppender.root(session, size: report.entries)) != report.root {
                report.fail("the stored tree does not match the entries")
            }
            if (try? session.logFrontier())?.root != report.root {
                report.fail("the tree's right edge, from which the next append continues, does not match the entries")
            }
            return report
        }
    }
}
