import Foundation
import WarrantGateCore

/// A single decision, disclosed with its inclusion proof and a signed checkpoint: verifiable with no database, and
/// without revealing any other entry of the log.
public struct InclusionProofFile: Codable, Sendable {
    public static let formatName = "warrant-gate-inclusion-proof/v1"

    public var format = InclusionProofFile.formatName
    public var seq: UInt64
    public var kind: String
    /// The entry's canonical JSON, exactly as hashed.
    public var entry: String
    public var treeSize: UInt64
    /// Sibling hashes from the leaf up, base64.
    public var proof: [String]
    /// The signed checkpoint the proof leads to.
    public var checkpoint: String

    /// Builds the proof of a decision's entry against the latest checkpoint that covers it.
    static func make(database: any SQLDatabase, decisionId: String) throws -> InclusionProofFile {
        try database.read { session in
            // The first, and only that one: an entry appended later with the same id (which `log verify` reports) is
            // not the gateway's decision.
            let rows = try session.fetchAll(
                "SELECT seq, kind, entry FROM log WHERE decision_id = ? AND kind = 'decision' ORDER BY seq LIMIT 2", decisionId
            )
            guard let row = rows.first else { throw StoreError("no decision \(decisionId) in the log") }
            guard rows.count == 1 else {
                throw StoreError("the log holds more than one decision \(decisionId) (run `warrant-gate log verify`): refusing to prove either")
            }
            let stored = try row.int64("seq")
            guard stored >= 1 else { throw StoreError("decision \(decisionId) is stored at seq \(stored), which no entry has: the database was altered") }
            let seq = UInt64(stored)
            guard let checkpoint = try Checkpointer.all(session).last(where: { $0.size >= seq }) else {
                throw StoreError("no signed checkpoint covers seq \(seq) yet")
            }
            let proof = try Merkle.inclusionProof(index: seq - 1, size: checkpoint.size) { level, index in
                try LogAppender.subtree(session, level: level, index: index)
            }
            let file = InclusionProofFile(
                seq: seq, kind: try row.text("kind"), entry: try row.text("entry"), treeSize: checkpoint.size,
                proof: proof.map { Data($0).base64EncodedString() }, checkpoint: checkpoint.note
            )
            // The proof is built from stored nodes, which whoever may append could have written: one that does not lead
            // to the checkpoint's root is not handed out.
            let leaf = LogLeaf.hash(kind: file.kind, entry: Array(file.entry.utf8))
            guard Merkle.rootFromInclusionProof(leaf: leaf, index: seq - 1, size: checkpoint.size, proof: proof) == checkpoint.root else {
                throw StoreError("the stored tree does not prove decision \(decisionId) in checkpoint \(checkpoint.id) (run `warrant-gate log verify`)")
            }
            return file
        }
    }

    /// Checks the checkpoint's signature and that the entry is in the tree it commits to.
    public func verify(key: LogVerifierKey) throws -> Checkpoint {
        guard format == Self.formatName else { throw CheckpointError("not a \(Self.formatName) file") }
        let checkpoint = try Checkpoint.verify(note: self.checkpoint, key: key)
        guard checkpoint.size == treeSize, seq >= 1 else { throw CheckpointError("the proof's tree size does not match its checkpoint") }
        let hashes = try proof.map { text -> Merkle.Hash in
            guard let data = Data(base64Encoded: text), data.count == 32 else { throw CheckpointError("a proof hash is not base64 SHA-256") }
            return Array(data)
        }
        let leaf = LogLeaf.hash(kind: kind, entry: Array(entry.utf8))
        guard let root = Merkle.rootFromInclusionProof(leaf: leaf, index: seq - 1, size: treeSize, proof: hashes), root == checkpoint.root else {
            throw CheckpointError("the entry is not in the log the checkpoint signs: the proof does not lead to its root")
        }
        return checkpoint
    }
}

/// An auditor bundle: a JSON header (format, verifier key, every checkpoint), then one JSON line per log entry.
/// `log verify --bundle` checks it with no database.
public enum AuditBundle {
    public static let formatName = "warrant-gate-audit-bundle/v1"

    struct Header: Codable {
        var format: String
        var verifierKey: String
        var checkpoints: [String]
    }

    struct Line: Codable {
        var seq: UInt64
        var kind: String
        var time: String
        var decisionId: String?
        var entry: String

        init(seq: UInt64, kind: String, time: String, decisionId: String?, entry: String) {
            self.seq = seq
            self.kind = kind
            self.time = time
            self.decisionId = decisionId
            self.entry = entry
        }

        /// A row of `SELECT seq, kind, time, decision_id, entry FROM log`.
        init(_ row: SQLRow) throws {
            self.init(
                seq: UInt64(max(try row.int64("seq"), 0)), kind: try row.text("kind"), time: try row.text("time"),
                decisionId: try row.optionalText("decision_id"), entry: try row.text("entry")
            )
        }
    }

    /// Streams the whole log into a bundle, in constant memory. Returns the number of entries.
    @discardableResult
    static func write(database: any SQLDatabase, verifierKey: LogVerifierKey, write: (String) throws -> Void) throws -> Int {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try database.read { session in
            let header = Header(format: formatName, verifierKey: verifierKey.encoded.trimmingCharacters(in: .newlines), checkpoints: try Checkpointer.all(session).map(\.note))
            try write(String(decoding: try encoder.encode(header), as: UTF8.self) + "\n")
            var count = 0
            try session.forEach("SELECT seq, kind, time, decision_id, entry FROM log ORDER BY seq") { row in
                try write(String(decoding: try encoder.encode(Line(row)), as: UTF8.self) + "\n")
                count += 1
            }
            return count
        }
    }

    /// Verifies a bundle file, reading it line by line. `key` (held by the auditor) overrides the bundle's own key,
    /// which a forger could have replaced along with the log.
    public static func verify(path: String, key: LogVerifierKey?, against external: String?) throws -> VerificationReport {
        var lines = try LineReader(path: path)
        let decoder = UniqueKeyJSONDecoder()
        guard let first = (try? lines.next()) ?? nil, let header = try? decoder.decode(Header.self, from: Data(first.utf8)), header.format == formatName else {
            throw StoreError("\(path) is not a \(formatName) file")
        }
        let verifierKey = try key ?? LogVerifierKey(encoded: header.verifierKey)
        return try LogVerifier(key: verifierKey).verify(entries: { visit in
            while let text = try lines.next() {
                guard !text.isEmpty else { continue }
                _ = try visit(try lines.entry(text, decoder: decoder))
            }
        }, checkpointNotes: header.checkpoints, against: external)
    }
}

/// Reads a file line by line, holding one line (at most ``maximumLineBytes``) and one read at a time.
struct LineReader {
    /// Lines returned so far, to name one that is refused.
    private(set) var lineNumber = 0

    /// Far above any log entry's line: an entry is a decision record, a registry change or a checkpoint.
    static let maximumLineBytes = 16 << 20

    private let handle: FileHandle
    private let path: String
    /// Given every chunk of the file as it is read, in order: the bytes the lines came from, read once.
    var onRead: ((Data) -> Void)?
    private var buffer: [UInt8] = []
    /// Where the next line starts in `buffer`, and how far past it no newline has been found.
    private var start = 0
    private var scanned = 0
    private var done = false

    /// Opens `path`: a regular file, given itself rather than through a symbolic link (a device or FIFO is refused
    /// before it is read).
    init(path: String) throws {
        let (descriptor, _) = try PrivateFile.openRegularFile(path)
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        self.path = path
    }

    /// The next line, without its newline; nil at the end of the file. A line that is not UTF-8 throws
    /// ``UnreadableEntry``: read otherwise, the file that verifies would not be the one other tools read.
    mutating func next() throws -> String? {
        while true {
            if let newline = buffer[scanned...].firstIndex(of: 0x0a) {
                defer {
                    start = newline + 1
                    scanned = start
                }
                return try text(buffer[start..<newline])
            }
            scanned = buffer.count
            guard buffer.count - start <= Self.maximumLineBytes else {
                throw StoreError("\(path) has a line longer than \(Self.maximumLineBytes >> 20) MiB; it is not a file the gateway wrote")
            }
            if done {
                guard start < buffer.count else { return nil }
                defer { start = buffer.count }
                return try text(buffer[start...])
            }
            // What was returned is dropped before the buffer grows, so it holds one line and one read.
            if start > 0 {
                buffer.removeSubrange(..<start)
                scanned -= start
                start = 0
            }
            let chunk = try handle.read(upToCount: 1 << 16) ?? Data()
            if chunk.isEmpty { done = true } else {
                onRead?(chunk)
                buffer.append(contentsOf: chunk)
            }
        }
    }

    private mutating func text(_ bytes: ArraySlice<UInt8>) throws -> String {
        lineNumber += 1
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw UnreadableEntry(detail: "\(path): line \(lineNumber) is not UTF-8")
        }
        return text
    }

    /// A bundle's or an archive's entry line, decoded; one that is not an entry throws ``UnreadableEntry``.
    func entry(_ text: String, decoder: UniqueKeyJSONDecoder) throws -> LogVerifier.Entry {
        let line: AuditBundle.Line
        do {
            line = try decoder.decode(AuditBundle.Line.self, from: Data(text.utf8))
        } catch {
            throw UnreadableEntry(detail: "\(path): line \(lineNumber) is not a log entry (\(String(describing: error).prefix(200)))")
        }
        return LogVerifier.Entry(seq: line.seq, kind: line.kind, time: line.time, decisionId: line.decisionId, entry: line.entry, storedLeaf: nil)
    }
}
