import Foundation

/// Where a site's store is: its database, and the directory of the files kept outside it (the document store's
/// scans and the log's signing key).
///
/// A SQLite store keeps those files beside its database file. A PostgreSQL store, shared by several gateways, keeps
/// them in a directory named for it on each host (``defaultFilesDirectory`` unless told otherwise): every gateway that
/// signs checkpoints needs the same signing key there, and the scans belong on the host where the legal unit runs the
/// CLI, or on storage the hosts share (the database records each scan's SHA-256, so any copy can be checked).
public struct StoreLocation: Sendable, Equatable, CustomStringConvertible {
    public enum Database: Sendable, Equatable {
        case sqlite(path: String)
        case postgres(PostgresLocation)
    }

    /// Where a PostgreSQL store's files are when no directory is named.
    public static let defaultFilesDirectory = "/var/lib/warrant-gate"

    public let database: Database
    public let filesDirectory: String

    /// - Parameters:
    ///   - text: a SQLite file's path, or a `postgres://user@host:port/database` URL.
    ///   - filesDirectory: for PostgreSQL, the directory of the store's files; a SQLite store's are beside its file.
    public init(_ text: String, filesDirectory: String? = nil) throws(StoreError) {
        if PostgresLocation.isURL(text) {
            database = .postgres(try PostgresLocation(url: text))
            self.filesDirectory = filesDirectory ?? Self.defaultFilesDirectory
        } else {
            guard !text.isEmpty else { throw StoreError("the database path is empty") }
            // A mistyped URL, read as a file's path, would be echoed back in errors, password and all.
            guard !["postgres:", "postgresql:"].contains(where: { text.lowercased().hasPrefix($0) }) else {
                throw StoreError("the database is neither a file's path nor a URL of the form postgres://user@host:port/database")
            }
            database = .sqlite(path: text)
            self.filesDirectory = URL(fileURLWithPath: text).deletingLastPathComponent().path
        }
    }

    /// Whether `other` names the same database: the same SQLite file, whatever path leads to it, as the kernel
    /// resolves it (the file's device and inode; for a file not there yet, its directory's and its name), or the same
    /// PostgreSQL database on the same server, whichever role connects to it.
    public func isSameDatabase(as other: StoreLocation) -> Bool {
        switch (database, other.database) {
        case (.sqlite(let path), .sqlite(let otherPath)):
            FilePlace(path) == FilePlace(otherPath)
        case (.postgres(let location), .postgres(let otherLocation)):
            location.host.lowercased() == otherLocation.host.lowercased() && location.port == otherLocation.port
                && location.database == otherLocation.database
        default:
            false
        }
    }

    /// Whether a connection with `caFile` reaches this store's server without checking who it is: a PostgreSQL server on
    /// loopback without a CA, reached in the clear (``PostgresLocation/tls(caFile:)``).
    public func reachesServerUnverified(caFile: String?) -> Bool {
        if case .postgres(let server) = database { return server.isLoopback && caFile == nil }
        return false
    }

    /// The SQLite file's path; nil for PostgreSQL.
    public var sqlitePath: String? {
        if case .sqlite(let path) = database { return path }
        return nil
    }

    public var description: String {
        switch database {
        case .sqlite(let path): return path
        case .postgres(let location): return location.description
        }
    }
}
