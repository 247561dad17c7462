import Crypto
import Foundation

/// A signed checkpoint of the log in the C2SP tlog-checkpoint / signed-note format:
///
/// ```
/// <origin>
/// <tree size>
/// <base64 root hash>
///
/// — <key name> <base64(key hash ‖ Ed25519 signature)>
/// ```
///
/// The signature covers the body lines with their newlines: the three above, then any extension lines (as the format
/// allows), which the signature covers too. The key hash is the first four bytes of SHA-256(key name ‖ "\n" ‖ 0x01 ‖
/// public key), as in Go's sumdb/note.
public struct Checkpoint: Sendable, Equatable {
    public let origin: String
    public let size: UInt64
    public let root: Merkle.Hash
    /// Lines after the root, each non-empty and without a newline; none in the log's own checkpoints.
    public let extensions: [String]

    public init(origin: String, size: UInt64, root: Merkle.Hash, extensions: [String] = []) {
        self.origin = origin
        self.size = size
        self.root = root
        self.extensions = extensions
    }

    public var body: String {
        "\(origin)\n\(size)\n\(Data(root).base64EncodedString())\n" + extensions.map { $0 + "\n" }.joined()
    }

    /// The signed note text.
    public func signed(by key: LogSigningKey) throws -> String {
        guard extensions.allSatisfy({ !$0.isEmpty && !$0.contains("\n") }) else { throw CheckpointError("an extension line is empty or holds a newline") }
        let signature = try key.privateKey.signature(for: Data(body.utf8))
        return body + "\n— \(key.name) \(Data(key.keyHash + Array(signature)).base64EncodedString())\n"
    }

    /// What a signed note's body states, vouched for by nothing until ``verify(note:key:)`` checks its signature;
    /// throws if the format is wrong.
    public static func stated(note: String) throws -> Checkpoint {
        try parse(note).checkpoint
    }

    /// The checkpoint a note's body states, and the body and signature lines as they are written.
    private static func parse(_ note: String) throws -> (checkpoint: Checkpoint, body: Substring, signatures: Substring) {
        guard let split = note.range(of: "\n\n") else { throw CheckpointError("not a signed note: no blank line before the signatures") }
        let body = note[..<split.lowerBound]
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 3, let size = UInt64(lines[1]), let root = Data(base64Encoded: String(lines[2])), root.count == 32 else {
            throw CheckpointError("the checkpoint body must be an origin, a tree size and a base64 SHA-256 root")
        }
        let checkpoint = Checkpoint(origin: String(lines[0]), size: size, root: Array(root), extensions: lines.dropFirst(3).map(String.init))
        return (checkpoint, body, note[split.upperBound...])
    }

    /// Parses and verifies a signed note; throws if the format is wrong or no signature by `key` verifies.
    public static func verify(note: String, key: LogVerifierKey) throws -> Checkpoint {
        let (checkpoint, writtenBody, signatureLines) = try parse(note)
        let body = String(writtenBody) + "\n"
        let signatures = signatureLines.split(separator: "\n")
        var verified = false
        for line in signatures {
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "—", String(parts[1]) == key.name, let blob = Data(base64Encoded: String(parts[2])),
                  blob.count == 68, Array(blob.prefix(4)) == key.keyHash
            else { continue }
            if key.publicKey.isValidSignature(blob.dropFirst(4), for: Data(body.utf8)) { verified = true }
        }
        guard verified else { throw CheckpointError("no valid signature by \(key.name) on the checkpoint") }
        return checkpoint
    }
}

/// A problem with a checkpoint or a key.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The Ed25519 key that signs checkpoints. The file holds `PRIVATE+KEY+<name>+<base64 seed>`; keep it owner-only.
public struct LogSigningKey: Sendable {
    public let name: String
    public let privateKey: Curve25519.Signing.PrivateKey

    public init(name: String, privateKey: Curve25519.Signing.PrivateKey = .init()) {
        self.name = name
        self.privateKey = privateKey
    }

    public var verifier: LogVerifierKey { LogVerifierKey(name: name, publicKey: privateKey.publicKey) }
    var keyHash: [UInt8] { verifier.keyHash }

    /// Why `name` cannot name a log's key, or nil: the signed-note format writes it in the key files (between `+`s)
    /// and on every checkpoint's first and signature lines, so it must be one word of visible characters, without `+`.
    public static func nameProblem(_ name: String) -> String? {
        guard !name.isEmpty, name.utf8.count <= 256 else { return "the log's name must be 1 to 256 bytes, such as county.example/warrant-gate" }
        guard !name.unicodeScalars.contains(where: { $0 == "+" || $0.properties.isWhitespace || $0.properties.generalCategory == .control
            || $0.properties.generalCategory == .format || $0.properties.isDefaultIgnorableCodePoint }) else {
            return "the log's name may not hold a space, a '+', or a control or invisible character (it goes on every checkpoint's lines), such as county.example/warrant-gate"
        }
        return nil
    }

    public var encoded: String { "PRIVATE+KEY+\(name)+\(privateKey.rawRepresentation.base64EncodedString())\n" }

    public init(encoded text: String) throws {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 3).map(String.init)
        guard parts.count == 4, parts[0] == "PRIVATE", parts[1] == "KEY", let seed = Data(base64Encoded: parts[3]), seed.count == 32 else {
            throw CheckpointError("not a WarrantGate log signing key")
        }
        name = parts[2]
        privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    }
}

/// The public half, in Go's sumdb/note verifier format: `<name>+<hex key hash>+<base64(0x01 ‖ public key)>`.
public struct LogVerifierKey: Sendable {
    public let name: String
    public let publicKey: Curve25519.Signing.PublicKey

    public init(name: String, publicKey: Curve25519.Signing.PublicKey) {
        self.name = name
        self.publicKey = publicKey
    }

    var keyHash: [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Array(name.utf8) + [0x0a, 0x01] + Array(publicKey.rawRepresentation))
        return Array(hasher.finalize().prefix(4))
    }

    public var encoded: String {
        "\(name)+\(Hex.encode(keyHash))+\(Data([0x01] + Array(publicKey.rawRepresentation)).base64EncodedString())\n"
    }

    public init(encoded text: String) throws {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 2).map(String.init)
        guard parts.count == 3, let blob = Data(base64Encoded: parts[2]), blob.count == 33, blob.first == 0x01 else {
            throw CheckpointError("not a note verifier key (name+hash+base64)")
        }
        name = parts[0]
        publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: blob.dropFirst())
        guard Hex.encode(keyHash) == parts[1].lowercased() else { throw CheckpointError("the verifier key's hash does not match its key") }
    }
}

/// How an entry of the log becomes a Merkle leaf: the kind, a newline, and the entry's canonical JSON bytes.
public enum LogLeaf {
    /// The Merkle leaf hash of an entry, SHA-256(0x00 ‖ kind ‖ 0x0a ‖ entry), without building the leaf bytes.
    public static func hash(kind: String, entry: [UInt8]) -> Merkle.Hash {
        var kind = kind
        return kind.withUTF8 { kind in entry.withUnsafeBytes { entry in hash(kind: UnsafeRawBufferPointer(kind), entry: entry) } }
    }

    /// The same leaf hash, over the kind's and the entry's bytes where the caller holds them.
    public static func hash(kind: UnsafeRawBufferPointer, entry: UnsafeRawBufferPointer) -> Merkle.Hash {
        var hasher = SHA256()
        hasher.update(byte: 0x00)
        hasher.update(bufferPointer: kind)
        hasher.update(byte: 0x0a)
        hasher.update(bufferPointer: entry)
        return hasher.finalizedBytes()
    }
}
