import Foundation
import WarrantGateCore

/// One entry of the log as stored, for a reader that follows the log by sequence number.
public struct TailEntry: Sendable, Equatable {
    public let seq: Int64
    public let kind: String
    public let time: String
    public let entry: [UInt8]
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

extension Store {
    /// Up to `limit` entries with a sequence number above `seq`, in order, from one read transaction. Throws
    /// ``TailGap`` if the next entry, `seq + 1`, has been archived (including when every later entry has): the reader
    /// would otherwise skip it unnoticed.
    public func logEntries(after seq: Int64, limit: Int) throws -> [TailEntry] {
        try database.read { session in
            var entries: [TailEntry] = []
            try session.forEach("SELECT seq, kind, time, entry FROM log WHERE seq > ? ORDER BY seq LIMIT ?", seq, limit) { row in
                entries.append(TailEntry(
                    seq: try row.int64("seq"), kind: try row.text("kind"), time: try row.text("time"), entry: Array(try row.text("entry").utf8)
                ))
            }
            if let first = entries.first {
                if first.seq != seq + 1 { throw TailGap(needed: seq + 1, firstHeld: first.seq) }
            } else {
                let size = Int64(try session.logSize())
                if size > seq { throw TailGap(needed: seq + 1, firstHeld: size + 1) }
            }
            return entries
        }
    }

    /// The sequence number of the log's last entry (0 when it is empty).
    public func lastSeq() throws -> Int64 {
        try database.read { session in Int64(try session.logSize()) }
    }
}

/// Where a forwarder stopped: the last sequence number its destination acknowledged, kept in a small file that is
/// replaced atomically (written, fsynced, renamed), so a crash leaves the previous position or the new one.
///
/// The file names its destination, so that one destination's position is never taken for another's.
public struct ForwardCursor: Sendable, Equatable {
    public let destination: String
    public let seq: Int64

    public init(destination: String, seq: Int64) {
        self.destination = destination
        self.seq = seq
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
        guard fields.count == 2, fields.allSatisfy({ $0.count == 2 }), fields[0][0] == "destination", fields[1][0] == "seq",
              let seq = Int64(fields[1][1]), seq >= 0
        else { throw StoreError("\(path) is not a forwarding cursor (expected the lines `destination HOST:PORT` and `seq N`)") }
        guard fields[0][1] == destination else {
            throw StoreError("\(path) is the cursor of \(fields[0][1]), not of \(destination): give each destination its own --state file")
        }
        return ForwardCursor(destination: destination, seq: seq)
    }

    /// Replaces the file at `path` with this cursor (mode 0600), durably.
    public func save(path: String) throws {
        try PrivateFile.write(Data("destination \(destination)\nseq \(seq)\n".utf8), to: path, existing: .replaceRegularFile)
    }
}
