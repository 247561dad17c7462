import Foundation
import WarrantGateCore

/// One entry of the log as stored, for a reader that follows the log by sequence number.
public struct TailEntry: Sendable, Equatable {
    public let seq: Int64
    public let kind: String
    public let time: String
    public let entry: [UInt8]
    /// Its leaf hash, for a cursor to name the entry it stopped at.
    public let leaf: Merkle.Hash
}

/// Why the entries after a cursor cannot be read in order.
public struct TailGap: Error, CustomStringConvertible, Sendable, Equatable {
    /// The first sequence number the reader still needed.
    public let needed: Int64
    /// The first one the database still holds.
    public let firstHeld: Int64

    public init(needed: Int64, firstHeld: Int64) {
        self.needed = needed
        self.firstHeld = firstHeld
    }

    public var description: String {
        "entries \(needed)…\(firstHeld - 1) were archived (moved out of the database) before they were read here; "
            + "they are in the archive file that `log archive` wrote"
    }
}

/// Why a reader's position is no longer in the log: the log is shorter than it, or holds another entry there (a
/// PostgreSQL failover to a standby behind, or a restore, under a running reader).
public struct TailRolledBack: Error, CustomStringConvertible, Sendable, Equatable {
    /// The entry the reader read last.
    public let seq: Int64
    /// The log's size, when it is shorter than `seq`; nil when it holds another entry at `seq`.
    public let size: Int64?

    public var description: String {
        let found = size.map { "the log now has only \($0) entries" } ?? "the log now holds another entry at that seq"
        return "entry \(seq) was read here, but \(found): it was rolled back (a failover to a standby behind it, or a restore) and may be written again"
    }
}

extension Store {
    /// Up to `limit` entries with a sequence number above `seq`, in order, from one read transaction. Throws
    /// ``TailGap`` if the next entry, `seq + 1`, has been archived (including when every later entry has): the reader
    /// would otherwise skip it unnoticed. Throws ``TailRolledBack`` if the log is shorter than `seq`, or, given `leaf`
    /// (entry `seq`'s, as the reader read it), holds another entry there: reading on would skip the entries the log
    /// writes again at the seqs between.
    public func logEntries(after seq: Int64, leaf: Merkle.Hash? = nil, limit: Int) throws -> [TailEntry] {
        try database.read { session in
            let size = Int64(try session.logSize())
            if size < seq { throw TailRolledBack(seq: seq, size: size) }
            if seq > 0, let leaf, try LogAppender.subtree(session, level: 0, index: UInt64(seq - 1)) != leaf { throw TailRolledBack(seq: seq, size: nil) }
            var entries: [TailEntry] = []
            try session.forEach("SELECT seq, kind, time, entry, leaf_hash FROM log WHERE seq > ? ORDER BY seq LIMIT ?", seq, limit) { row in
                entries.append(TailEntry(
                    seq: try row.int64("seq"), kind: try row.text("kind"), time: try row.text("time"), entry: Array(try row.text("entry").utf8),
                    leaf: try row.bytes("leaf_hash")
                ))
            }
            if let first = entries.first {
                if first.seq != seq + 1 { throw TailGap(needed: seq + 1, firstHeld: first.seq) }
            } else if size > seq {
                throw TailGap(needed: seq + 1, firstHeld: size + 1)
            }
            return entries
        }
    }

    /// The sequence number of the log's last entry (0 when it is empty).
    public func lastSeq() throws -> Int64 {
        try database.read { session in Int64(try session.logSize()) }
    }

    /// The cursor at entry `seq` of this log, for a reader that starts there; its leaf is nil at 0 or past the end.
    public func cursor(destination: String, seq: Int64) throws -> ForwardCursor {
        try database.read { session in
            guard seq > 0, UInt64(seq) <= (try session.logSize()) else { return ForwardCursor(destination: destination, seq: seq, leaf: nil) }
            return ForwardCursor(destination: destination, seq: seq, leaf: try LogAppender.subtree(session, level: 0, index: UInt64(seq - 1)))
        }
    }

    /// Checks that `cursor` stopped at an entry of this log: throws, naming both, if the log is shorter than the cursor
    /// or holds another entry at its seq (the log was rolled back by a restore and written again, or is another log),
    /// where following the cursor would silently skip the entries written since. A cursor that names no leaf (written
    /// by an older version) is checked only against the log's size.
    public func check(_ cursor: ForwardCursor) throws {
        guard cursor.seq > 0 else { return }
        let remedy = "check what \(cursor.destination) holds, then forward with a new --state file and --start-at the first entry it lacks"
        return try database.read { session in
            let size = try session.logSize()
            guard UInt64(cursor.seq) <= size else {
                throw StoreError("the cursor says \(cursor.destination) acknowledged entries through seq \(cursor.seq), but the log has only \(size): it was rolled back (restored from an older backup?) or is another log, and forwarding would skip the entries written since: \(remedy)")
            }
            guard let leaf = cursor.leaf else { return }
            let held = try LogAppender.subtree(session, level: 0, index: UInt64(cursor.seq - 1))
            guard held == leaf else {
                throw StoreError("entry \(cursor.seq) of the log (leaf \(Data(held).base64EncodedString())) is not the one \(cursor.destination) acknowledged (leaf \(Data(leaf).base64EncodedString())): the log was rolled back and written again, or is another log, and forwarding would skip the entries written since: \(remedy)")
            }
        }
    }
}

/// Where a forwarder stopped: the last sequence number its destination acknowledged and that entry's leaf hash, kept
/// in a small file that is replaced atomically (written, fsynced, renamed), so a crash leaves the previous position or
/// the new one.
///
/// The file names its destination, so that one destination's position is never taken for another's, and the leaf,
/// so that a log rolled back or replaced under the cursor is noticed (``Store/check(_:)``). A file written by an
/// older version has no leaf line: it is read, and cannot be checked.
public struct ForwardCursor: Sendable, Equatable {
    public let destination: String
    public let seq: Int64
    /// The leaf hash of entry `seq`; nil at 0, or when read from an older cursor file.
    public let leaf: Merkle.Hash?

    public init(destination: String, seq: Int64, leaf: Merkle.Hash?) {
        self.destination = destination
        self.seq = seq
        self.leaf = leaf
    }

    /// The cursor at `path`, nil if there is no file. Throws for a file that is not a cursor or that names another
    /// destination.
    public static func load(path: String, destination: String) throws -> ForwardCursor? {
        let data: Data
        do {
            data = try PrivateFile.read(path, limit: 4096)
        } catch let error as PrivateFileError where error.kind == .notFound {
            return nil
        }
        let fields = String(decoding: data, as: UTF8.self).split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1) }
        let notACursor = StoreError("\(path) is not a forwarding cursor (expected the lines `destination HOST:PORT`, `seq N` and `leaf BASE64`)")
        guard (2...3).contains(fields.count), fields.allSatisfy({ $0.count == 2 }), fields[0][0] == "destination", fields[1][0] == "seq",
              let seq = Int64(fields[1][1]), seq >= 0
        else { throw notACursor }
        var leaf: Merkle.Hash?
        if fields.count == 3 {
            guard fields[2][0] == "leaf", let hash = Data(base64Encoded: String(fields[2][1])), hash.count == 32 else { throw notACursor }
            leaf = Array(hash)
        }
        guard fields[0][1] == destination else {
            throw StoreError("\(path) is the cursor of \(fields[0][1]), not of \(destination): give each destination its own --state file")
        }
        return ForwardCursor(destination: destination, seq: seq, leaf: leaf)
    }

    /// Replaces the file at `path` with this cursor (mode 0600), durably.
    public func save(path: String) throws {
        let leafLine = leaf.map { "leaf \(Data($0).base64EncodedString())\n" } ?? ""
        try PrivateFile.write(Data("destination \(destination)\nseq \(seq)\n\(leafLine)".utf8), to: path, existing: .replaceRegularFile)
    }
}
