import Foundation
import NIOSSL
import PostgresNIO
import WarrantGateCore

/// Where a PostgreSQL database is: `postgres://user@host:port/database` (or `postgresql://`). The password never
/// travels in the URL, where a command line or a process listing would show it: it comes from a file, or from
/// `PGPASSWORD` in the environment.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let user: String
    public let database: String

    public init(host: String, port: Int = 5432, user: String, database: String) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
    }

    /// Whether `text` names a PostgreSQL database rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Reads a `postgres://user@host[:port]/database` URL; refuses one with a password, a query, or a part missing.
    public init(url text: String) throws(StoreError) {
        guard Self.isURL(text), let url = URLComponents(string: text) else {
            throw StoreError("'\(Self.shown(text))' is not a postgres://user@host:port/database URL")
        }
        guard url.password == nil else {
            throw StoreError("the database URL carries a password: give it in a file (the configuration's database.password-file, the CLI's --db-password-file) or in PGPASSWORD instead")
        }
        guard url.query == nil, url.fragment == nil else { throw StoreError("the database URL may not have a query or fragment") }
        guard let user = url.user, !user.isEmpty else { throw StoreError("the database URL names no user (postgres://user@host/database)") }
        guard var host = url.host, !host.isEmpty else { throw StoreError("the database URL names no host") }
        // An IPv6 address is written in brackets, which the address lookup does not take.
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let database = String(url.path.dropFirst())
        guard !database.isEmpty, !database.contains("/") else { throw StoreError("the database URL names no database (postgres://user@host/database)") }
        // Sent as startup parameters, each ended by a NUL: one inside would add parameters of the URL's choosing.
        guard [user, host, database].allSatisfy({ $0.unicodeScalars.allSatisfy { $0.value >= 0x20 && !(0x7f...0x9f).contains($0.value) && $0.properties.generalCategory != .format } }) else {
            throw StoreError("the database URL's user, host and database may not hold control or format characters")
        }
        let port = url.port ?? 5432
        guard (1...65535).contains(port) else { throw StoreError("the database URL's port is out of range") }
        self.init(host: host, port: port, user: user, database: database)
    }

    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    /// The password for this location: the first line of `file` if one is named, else `PGPASSWORD`, else none
    /// (the server trusts the connection).
    public static func password(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) -> String? {
        if let file {
            // As libpq does for ~/.pgpass: a password others may read (or replace) is refused, not used.
            var status = stat()
            if stat(file, &status) == 0, status.st_mode & 0o006 != 0 {
                throw StoreError(
                    "the database password file \(file) is readable or writable by every account (mode \(String(status.st_mode & 0o777, radix: 8))): make it 0600, or 0640 with the service's group"
                )
            }
            guard let text = try? YAMLNode.readText(path: file) else { throw StoreError("cannot read the database password file \(file)") }
            return try password(text: text, file: file)
        }
        return environment["PGPASSWORD"]
    }

    /// The password in `text`, the contents of the password file `file`: its first line.
    public static func password(text: String, file: String) throws(StoreError) -> String {
        guard let line = text.split(whereSeparator: \.isNewline).first, !line.isEmpty else {
            throw StoreError("the database password file \(file) is empty")
        }
        return String(line)
    }

    /// The URL as it may be printed: whatever stands before its host's `@` (a user and perhaps a password) removed,
    /// whether or not the URL parses.
    private static func shown(_ text: String) -> String {
        guard let scheme = text.range(of: "://") else { return String(text.prefix(200)) }
        let rest = text[scheme.upperBound...]
        // The last `@` anywhere: a password may hold a `/`, which would otherwise end the authority early.
        guard let at = rest.lastIndex(of: "@") else { return String(text.prefix(200)) }
        return String((text[..<scheme.upperBound] + "…" + rest[at...]).prefix(200))
    }
}

extension PostgresLocation {
    /// Whether the server is on this host, reached over loopback.
    var isLoopback: Bool { ["localhost", "127.0.0.1", "::1"].contains(host) }

    /// How to reach the server: over loopback in the clear, and anywhere else only over TLS with a certificate that
    /// the system's trust store (or `caFile`) verifies for the URL's host.
    func tls(caFile: String?) throws(StoreError) -> PostgresConnection.Configuration.TLS {
        if isLoopback && caFile == nil { return .disable }
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.trustRoots = .file(caFile) }
        do {
            return .require(try NIOSSLContext(configuration: tls))
        } catch {
            throw StoreError("cannot set up TLS to the database: \(error)")
        }
    }

    /// Every connection looks names up in the store's schema, `public`, and its own temporary tables last (`pg_catalog`
    /// is searched first, always), whatever the role's or the database's default: with `"$user", public`, a table
    /// that a role made in a schema named after it would stand in for the log or the registry.
    static let searchPath = ("search_path", "public, pg_temp")

    func connectionConfiguration(password: String?, caFile: String?) throws(StoreError) -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: try tls(caFile: caFile)
        )
        configuration.options.additionalStartupParameters = [Self.searchPath]
        return configuration
    }

    func clientConfiguration(password: String?, caFile: String?) throws(StoreError) -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: try clientTLS(caFile: caFile)
        )
        configuration.options.additionalStartupParameters = [Self.searchPath]
        return configuration
    }

    private func clientTLS(caFile: String?) throws(StoreError) -> PostgresClient.Configuration.TLS {
        if isLoopback && caFile == nil { return .disable }
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.trustRoots = .file(caFile) }
        return .require(tls)
    }
}

/// PostgreSQL's errors for people.
enum PostgresErrors {
    /// The server's message and SQLSTATE, or the client's error code: never the query, whose bound values the
    /// error carries and which may hold an entry's contents.
    static func describe(_ error: PSQLError) -> String {
        if let info = error.serverInfo, let message = info[.message] {
            return "PostgreSQL: \(message)" + (info[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        // A connection's failure (refused, TLS, a certificate for another host) says why; it carries no query.
        if [.connectionError, .sslUnsupported, .failedToAddSSLHandler].contains(error.code), let underlying = error.underlying {
            return "PostgreSQL: \(error.code) (\(underlying))"
        }
        return "PostgreSQL: \(error.code)"
    }

    /// Whether the server refused a statement for naming a table it does not have (SQLSTATE 42P01).
    static func isUndefinedTable(_ error: any Error) -> Bool {
        (error as? PSQLError)?.serverInfo?[.sqlState] == "42P01"
    }
}
