import Foundation

/// A throwaway rsyslog for one test: `rsyslogd` on a free loopback port, receiving RELP (`imrelp`, with TLS when
/// given certificate files) and writing each message's MSGID, structured data and MSG as one line of a file.
///
/// Its ruleset's queue is `Direct`, so a message is written to the file before RELP acknowledges it: what rsyslog has
/// answered survives its restart. (With the default in-memory queue an answered message can still be lost when
/// rsyslog stops; docs/operations.md tells a county's SIEM team so.)
///
/// Tests that need one are enabled when `rsyslogd` and its RELP module are installed, and always under `CI=true`
/// (`.ci/run` installs Debian's `rsyslog` and `rsyslog-relp`).
public final class Rsyslog: Sendable {
    public struct TLSFiles: Sendable {
        public let ca: String
        public let certificate: String
        public let key: String

        public init(ca: String, certificate: String, key: String) {
            self.ca = ca
            self.certificate = certificate
            self.key = key
        }
    }

    public let directory: URL
    public let port: Int
    private let tls: TLSFiles?

    static let program = "/usr/sbin/rsyslogd"

    public static var isEnabled: Bool {
        FileManager.default.isExecutableFile(atPath: program) && FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/rsyslog/imrelp.so")
            || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    /// Writes the configuration and starts the server, or throws saying why it could not.
    public init(tls: TLSFiles? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.program) else {
            throw ClusterError("rsyslogd is not installed (Debian: apt-get install rsyslog rsyslog-relp)")
        }
        directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("wg-rsyslog-\(UUID().uuidString.prefix(8))")
        port = try LoopbackPort.unused()
        self.tls = tls
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try configuration.write(to: directory.appendingPathComponent("rsyslog.conf"), atomically: true, encoding: .utf8)
        do {
            try start()
        } catch {
            stop()
            throw error
        }
    }

    /// The file each received message is written to.
    public var output: URL { directory.appendingPathComponent("received.log") }

    private var pidFile: String { directory.appendingPathComponent("rsyslogd.pid").path }

    private var configuration: String {
        let tlsSettings = tls.map { files in
            #" tls="on" tls.caCert="\#(files.ca)" tls.myCert="\#(files.certificate)" tls.myPrivKey="\#(files.key)""#
        } ?? ""
        return """
            global(workDirectory="\(directory.path)" maxMessageSize="64k")
            module(load="imrelp"\(tls == nil ? "" : #" tls.tlslib="openssl""#))
            template(name="received" type="string" string="%msgid% %structured-data% %msg%\\n")
            ruleset(name="relp" queue.type="Direct") {
                action(type="omfile" file="\(output.path)" template="received")
            }
            input(type="imrelp" address="127.0.0.1" port="\(port)" ruleset="relp"\(tlsSettings))

            """
    }

    /// Starts the daemon (it forks once it is listening) and waits until its port accepts connections.
    public func start() throws {
        try PostgresCluster.run(Self.program, ["-f", directory.appendingPathComponent("rsyslog.conf").path, "-i", pidFile])
        for _ in 0..<100 {
            if Self.accepts(port: port) { return }
            usleep(50_000)
        }
        throw ClusterError("rsyslogd did not listen on port \(port) within 5 s")
    }

    /// Stops the daemon with SIGTERM (it ends its RELP sessions with `serverclose`, then exits) and waits until it is gone.
    public func halt() throws {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            return
        }
        kill(pid, SIGTERM)
        for _ in 0..<600 {
            if kill(pid, 0) != 0 && errno == ESRCH || Self.isZombie(pid) { return }
            usleep(25_000)
        }
        kill(pid, SIGKILL)
        throw ClusterError("rsyslogd (pid \(pid)) did not stop within 15 s of SIGTERM")
    }

    /// Stops the daemon and removes its directory.
    public func stop() {
        try? halt()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The lines received so far.
    public func lines() -> [String] {
        ((try? String(contentsOf: output, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The `seq` of each line received so far, in the order received (nil for a line without one).
    public func sequenceNumbers() -> [Int64?] {
        lines().map { line in
            guard let start = line.range(of: #"seq=""#)?.upperBound, let end = line[start...].firstIndex(of: "\"") else { return nil }
            return Int64(line[start..<end])
        }
    }

    /// Whether `pid` has exited and waits to be reaped (by an init that may never do it).
    private static func isZombie(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let end = stat.lastIndex(of: ")") else { return false }
        return stat[end...].dropFirst(2).first == "Z"
    }

    private static func accepts(port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
