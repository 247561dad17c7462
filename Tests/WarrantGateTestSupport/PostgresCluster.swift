import Foundation
import Logging
import PostgresNIO
import WarrantGateStore

/// A throwaway PostgreSQL cluster for one test: `initdb` in a temporary directory, a server on a free loopback port
/// (and a socket in that directory), stopped and removed by ``stop()``. As root, the server's programs run as the
/// `postgres` user, since PostgreSQL refuses to run as root.
///
/// Tests that need one are enabled when the server's programs are installed, and always under `CI=true`, so that CI
/// fails rather than skips when it cannot start one (`.ci/run` installs Debian's `postgresql`).
public final class PostgresCluster: Sendable {
    /// The cluster's superuser, who owns the tables the tests create.
    public static let owner = "wg_owner"
    public static let logger = Logger(label: "postgres-cluster")

    public let directory: URL
    public let port: Int
    private let server: Server

    public static var isEnabled: Bool { binaryDirectory != nil || ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The directory holding `initdb`, `pg_ctl`, `postgres` and `psql`: where the `initdb` on the PATH links to, or
    /// Debian's versioned one.
    private static var binaryDirectory: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let versioned = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).sorted(by: >)
            .map { "/usr/lib/postgresql/\($0)/bin" }
        return (path.split(separator: ":").map(String.init) + versioned)
            .first { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") && FileManager.default.isExecutableFile(atPath: "\($0)/pg_ctl") }
            .map { URL(fileURLWithPath: "\($0)/initdb").resolvingSymlinksInPath().deletingLastPathComponent() }
    }

    /// Creates and starts a cluster, or throws saying why it could not. A port that another test bound first is
    /// replaced by a new one, a few times.
    public init() throws {
        guard let binaries = Self.binaryDirectory else {
            throw ClusterError("PostgreSQL's initdb and pg_ctl are not installed (Debian: apt-get install postgresql)")
        }
        let runAs = geteuid() == 0 ? "postgres" : nil
        let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("wg-pg-\(UUID().uuidString.prefix(8))")
        let server = Server(binaries: binaries, runAs: runAs, directory: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            if let runAs { try Self.run("/bin/chown", ["-R", runAs, directory.path]) }
            try server.run("initdb", ["-D", server.data, "-U", Self.owner, "--auth=trust", "--no-instructions", "-E", "UTF8"])
            port = try Self.start(server, attempts: 5) { try LoopbackPort.unused() }
        } catch {
            try? server.run("pg_ctl", ["-D", server.data, "-m", "immediate", "-w", "stop"])
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        self.server = server
        self.directory = directory
    }

    /// Stops the server at once, as a crash would, keeping its data.
    public func kill() throws {
        try server.run("pg_ctl", ["-D", server.data, "-m", "immediate", "-w", "stop"])
    }

    /// Starts the server again on the same port, after ``kill()``; it recovers from its write-ahead log. While another
    /// socket holds the port, it tries again, for up to 5 s.
    public func restart() throws {
        for _ in 1..<50 {
            do { return try server.start(port: port) } catch is PortTaken { usleep(100_000) }
        }
        try server.start(port: port)
    }

    /// Starts `server` on a port `choose` gives, choosing again while the one chosen is taken; returns the port.
    private static func start(_ server: Server, attempts: Int, choose: () throws -> Int) throws -> Int {
        for _ in 1..<attempts {
            let port = try choose()
            do { try server.start(port: port) } catch is PortTaken { continue }
            return port
        }
        let port = try choose()
        try server.start(port: port)
        return port
    }

    /// Stops the server at once and removes its directory.
    public func stop() {
        try? server.run("pg_ctl", ["-D", server.data, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: directory)
    }

    /// The store in the `postgres` database, as `user` sees it.
    public func location(user: String = owner) throws -> StoreLocation {
        try StoreLocation("postgres://\(user)@127.0.0.1:\(port)/postgres", filesDirectory: directory.path)
    }

    public func store(user: String = owner) throws -> Store {
        try Store.open(location(user: user), options: Self.patient)
    }

    /// Store options for tests that are not about deadlines: a commit may take a minute on a loaded machine (the
    /// 5 s default, which the gateway fails closed at, was exceeded in CI while other builds ran).
    public static let patient = StoreOptions(commitTimeout: .seconds(60))

    /// Runs `body` with a client connected as `user` to the `postgres` database, running meanwhile.
    @discardableResult
    public func withClient<Result: Sendable>(
        user: String = owner, database: String = "postgres", _ body: (PostgresClient) async throws -> Result
    ) async throws -> Result {
        var configuration = PostgresClient.Configuration(host: "127.0.0.1", port: port, username: user, password: nil, database: database, tls: .disable)
        configuration.options.maximumConnections = 4
        let client = PostgresClient(configuration: configuration, backgroundLogger: Self.logger)
        let running = Task { await client.run() }
        defer { running.cancel() }
        return try await body(client)
    }

    /// Runs SQL as the cluster's owner through `psql`, blocking: for tests that must not wait in a task.
    public func psql(_ sql: String) throws {
        try server.run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", Self.owner, "-d", "postgres", "-c", sql])
    }

    /// The server's programs and files, and how to run them.
    private struct Server: Sendable {
        let binaries: URL
        let runAs: String?
        let directory: URL

        var data: String { directory.appendingPathComponent("data").path }
        var log: String { directory.appendingPathComponent("server.log").path }

        /// Starts the server on `port`, waiting until it accepts connections. Throws ``PortTaken`` when it could not
        /// bind the port, and otherwise an error that quotes what the server logged.
        func start(port: Int) throws {
            let logged = (try? FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? 0
            do {
                try run("pg_ctl", [
                    "-D", data, "-l", log, "-w", "-t", "60",
                    "-o", "-p \(port) -k \(directory.path) -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on", "start",
                ])
            } catch {
                let text = (try? Data(contentsOf: URL(fileURLWithPath: log)))
                    .map { String(decoding: $0.dropFirst(logged), as: UTF8.self) } ?? ""
                if text.contains("Address already in use") { throw PortTaken(port: port) }
                throw ClusterError("\(error)\nserver log:\n\(text.suffix(2000))")
            }
        }

        func run(_ program: String, _ arguments: [String]) throws {
            let path = binaries.appendingPathComponent(program).path
            if let runAs {
                try PostgresCluster.run("/usr/sbin/runuser", ["-u", runAs, "--", path] + arguments)
            } else {
                try PostgresCluster.run(path, arguments)
            }
        }
    }

    /// The server could not bind its port: another socket holds it.
    private struct PortTaken: Error, CustomStringConvertible {
        let port: Int
        var description: String { "PostgreSQL could not bind 127.0.0.1:\(port): another socket holds it" }
    }

    /// Runs a program to its exit, through `posix_spawn` and `waitpid`, with no descriptor of the test's but the
    /// standard three, and no signal blocked or ignored. Its output goes to a file rather than a pipe: the server that `pg_ctl start` leaves running
    /// would hold a pipe open, so reading it to its end would never return.
    static func run(_ path: String, _ arguments: [String]) throws {
        let outputPath = "/tmp/wg-pg-output-\(UUID().uuidString)"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else the test process holds open (a pipe it reads to its end) is left to the server.
        guard Self.closeFrom(&actions, 3) == 0 else { throw ClusterError("posix_spawn_file_actions_addclosefrom_np failed") }
        // No signal blocked, and the usual ones at their defaults: a test that traps SIGTERM (the service lifecycle's
        // signal sequences ignore it) must not leave a daemon started here deaf to it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw ClusterError("cannot run \(path): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        var waited = waitpid(pid, &status, 0)
        while waited < 0 && errno == EINTR { waited = waitpid(pid, &status, 0) }
        guard waited == pid else { throw ClusterError("waitpid for \(path) failed: \(String(cString: strerror(errno)))") }
        let exited = status & 0x7f == 0, code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            throw ClusterError("\((path as NSString).lastPathComponent) \(arguments.joined(separator: " ")) failed (status \(status)): \(text.suffix(2000))")
        }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which its Swift module does not export.
    private static let closeFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else {
            fatalError("glibc 2.34 or later is needed: posix_spawn_file_actions_addclosefrom_np is missing")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()
}

public struct ClusterError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
