import Crypto
import Foundation
import WarrantGateCore

/// A content-addressed store of scanned documents in the store's files directory (see ``StoreLocation``):
/// `documents/<sha256>`, owner-only (files 0600 in a 0700 directory).
///
/// A stored file is never changed: its name is its digest, so a paper copy can be checked against it at any time.
public struct DocumentStore: Sendable {
    /// The largest document accepted (scans are a few MiB).
    public static let maximumSize = 64 << 20

    public let directory: URL

    /// The document store in a store's files directory.
    public init(filesDirectory: String) {
        directory = URL(fileURLWithPath: filesDirectory).appendingPathComponent("documents")
    }

    /// Reads a document file given by an operator: a regular file (not a symbolic link) on an ordinary filesystem, at
    /// most ``maximumSize`` bytes, read from one descriptor. Throws ``PrivateFileError`` otherwise.
    public static func read(path: String) throws -> Data {
        try PrivateFile.read(path, limit: maximumSize)
    }

    /// The lower-case hex SHA-256 of a document's content.
    public static func digest(of data: Data) -> String {
        Hex.encode(SHA256.hash(data: data))
    }

    /// The digest of a document file, read as ``read(path:)`` does.
    public static func digest(of path: String) throws -> String {
        digest(of: try read(path: path))
    }

    /// Writes `data` to a temporary file in the store (creating the directory 0700, or restricting it to 0700) without
    /// putting it in place, and returns its digest with the file: `output.commit()` stores it under the digest,
    /// replacing an identical copy; releasing it uncommitted stores nothing. Lets a caller record the digest only once
    /// the content is safely on disk.
    public func stage(_ data: Data) throws -> (digest: String, output: PrivateFile.Output) {
        let digest = Self.digest(of: data)
        return try located {
            try PrivateFile.makeDirectory(directory.path, tighten: true)
            let output = try PrivateFile.Output(path: directory.appendingPathComponent(digest).path, existing: .replaceRegularFile)
            try output.write(data)
            return (digest, output)
        }
    }

    /// Stores `data` under its digest and returns the digest. Storing the same content twice is harmless.
    @discardableResult
    public func store(_ data: Data) throws -> String {
        let staged = try stage(data)
        try located { try staged.output.commit() }
        return staged.digest
    }

    /// Runs `body`, naming the store's directory in any ``PrivateFileError`` it throws.
    private func located<Result>(_ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as PrivateFileError {
            throw PrivateFileError(error.kind, "cannot store the document in \(directory.path): \(error.message)")
        }
    }

    public func path(digest: String) -> String? {
        let path = directory.appendingPathComponent(digest).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}
