import Crypto
import Foundation
import WarrantGateCore

/// A content-addressed store of scanned documents beside the database: `documents/<sha256>`, read-only.
///
/// A stored file is never changed: its name is its digest, so a paper copy can be checked against it at any time.
public struct DocumentStore: Sendable {
    public let directory: URL

    /// The store that belongs to a database file.
    public init(databasePath: String) {
        directory = URL(fileURLWithPath: databasePath).deletingLastPathComponent().appendingPathComponent("documents")
    }

    /// The lower-case hex SHA-256 of a file.
    public static func digest(of path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw StoreError("cannot read document file \(path)") }
        return Hex.encode(SHA256.hash(data: data))
    }

    /// Copies a file into the store and returns its digest. Storing the same content twice is harmless.
    @discardableResult
    public func store(path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw StoreError("cannot read document file \(path)") }
        let digest = Hex.encode(SHA256.hash(data: data))
        let target = directory.appendingPathComponent(digest)
        if FileManager.default.fileExists(atPath: target.path) { return digest }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try data.write(to: target, options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: target.path)
        } catch {
            throw StoreError("cannot store the document in \(directory.path)")
        }
        return digest
    }

    public func path(digest: String) -> String? {
        let path = directory.appendingPathComponent(digest).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}
