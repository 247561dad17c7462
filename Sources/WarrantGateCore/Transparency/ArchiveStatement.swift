import Crypto
import Foundation

/// What `log archive` states when it moves entries out of the database, signed by the log's key: which entries, the
/// tree's root at the last of them, the latest time they state and the archiving's cutoff (which reports trust to say
/// whether a period lost entries), and the archive file's SHA-256 (`log vouch-archives`: of its files' bytes one
/// after another).
///
/// The record of an archive is a log entry like any other, so anyone who can write the database could append one
/// (with the entries deleted and their leaf hashes kept, every checkpoint still matches). Its signature is what the
/// database cannot forge without the signing key: `log verify` refuses entries marked archived by a record that the
/// log's key did not sign.
public struct ArchiveStatement: Sendable, Equatable {
    public let fromSeq: UInt64
    public let throughSeq: UInt64
    /// The root of the log's tree of `throughSeq` entries.
    public let root: Merkle.Hash
    /// As the record holds it (RFC 3339), or nil when unknown.
    public let latestTime: String?
    /// The cutoff `log archive` was given (RFC 3339), or nil (`log vouch-archives`).
    public let before: String?
    /// Lower-case hex.
    public let archiveSHA256: String

    public init(fromSeq: UInt64, throughSeq: UInt64, root: Merkle.Hash, latestTime: String?, before: String?, archiveSHA256: String) {
        self.fromSeq = fromSeq
        self.throughSeq = throughSeq
        self.root = root
        self.latestTime = latestTime
        self.before = before
        self.archiveSHA256 = archiveSHA256
    }

    /// The record's details that state it: `fromSeq`, `throughSeq`, `root`, `latestTime`, `before` and `sha256`.
    public var details: [String: String] {
        var details = ["fromSeq": String(fromSeq), "throughSeq": String(throughSeq), "root": Data(root).base64EncodedString(), "sha256": archiveSHA256]
        details["latestTime"] = latestTime
        details["before"] = before
        return details
    }

    /// The statement a record's details make, nil if they make none.
    public init?(details: [String: String]) {
        guard let from = details["fromSeq"].flatMap(UInt64.init), let through = details["throughSeq"].flatMap(UInt64.init),
              let root = details["root"].flatMap({ Data(base64Encoded: $0) }), root.count == 32, let digest = details["sha256"]
        else { return nil }
        self.init(fromSeq: from, throughSeq: through, root: Array(root), latestTime: details["latestTime"], before: details["before"], archiveSHA256: digest)
    }

    /// The bytes signed: one line per field, in a fixed order, after a line naming what they are.
    var signedText: Data {
        let fields = ["\(fromSeq)", "\(throughSeq)", Data(root).base64EncodedString(), latestTime ?? "unknown", before ?? "none", archiveSHA256]
        return Data(("warrant-gate log.archive v1\n" + fields.map { $0 + "\n" }.joined()).utf8)
    }

    /// The signature by `key`, base64.
    public func signature(by key: LogSigningKey) throws -> String {
        try key.privateKey.signature(for: signedText).base64EncodedString()
    }

    /// Whether `signature` (base64) is `key`'s over this statement.
    public func isSigned(_ signature: String, by key: LogVerifierKey) -> Bool {
        guard let bytes = Data(base64Encoded: signature) else { return false }
        return key.publicKey.isValidSignature(bytes, for: signedText)
    }
}
