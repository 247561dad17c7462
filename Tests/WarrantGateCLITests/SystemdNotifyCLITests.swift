import Foundation
import Synchronization
import Testing
import WarrantGateDevPKI
import WarrantGateTestSupport

/// `warrant-gate serve` run as systemd runs it: a generated configuration, `NOTIFY_SOCKET` naming a datagram socket
/// the test listens on, and the server certificate and key named by the variables the unit sets to its credentials.
final class ServeProcess {
    let process = Process()
    let scratch: Scratch
    let pki: DevPKIDirectory
    private let output = ProcessOutput()

    /// What the gateway has written so far (its log goes to standard error).
    var text: String { output.text }

    /// A gateway.yaml over the dev PKI in `certs/` (beside it) and the shipped Denver policy, with upstreams that
    /// answer nothing and no admin listener.
    static func configuration(certificate: String, key: String) -> String {
        """
        listen: { host: 127.0.0.1, port: 0 }
        tls: { certificate: \(certificate), key: \(key), client-ca: certs/ca.pem }
        upstreams: { records: "http://127.0.0.1:9", visitation: "http://127.0.0.1:9", custody: "http://127.0.0.1:9" }
        policy:
          file: \(Repository.root.appendingPathComponent("policies/denver.yaml").path)
          agencies: \(Repository.root.appendingPathComponent("policies/agencies.yaml").path)
          authorities: { demo-ca: certs/ca.pem }
        database: log.sqlite
        admin: { enabled: false }

        """
    }

    /// `launcher`, when given, runs first and is handed the gateway's command line (a sandbox to run it in).
    init(notifySocket: String, launcher: [String] = []) throws {
        scratch = try Scratch()
        pki = DevPKIDirectory(directory: scratch.url.appendingPathComponent("certs"))
        try pki.ensure(clients: ["denver-pd"])
        // tls.certificate and tls.key name files that do not exist: the gateway must take the variables' files.
        let configuration = Self.configuration(certificate: "missing/server.pem", key: "missing/server.key")
        let configPath = scratch.url.appendingPathComponent("gateway.yaml").path
        try configuration.write(toFile: configPath, atomically: true, encoding: .utf8)

        let command = [CLIProcess.executable.path, "serve", "--config", configPath]
        process.executableURL = URL(fileURLWithPath: launcher.first ?? command[0])
        process.arguments = Array((launcher.isEmpty ? command : launcher + command).dropFirst())
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notifySocket
        environment["WARRANT_GATE_TLS_CERTIFICATE"] = pki.serverCertificatePath
        environment["WARRANT_GATE_TLS_KEY"] = pki.serverKeyPath
        process.environment = environment
        output.collect(from: process)
        try process.run()
    }

    /// The port the gateway logged it listens on.
    var port: Int? {
        guard let range = text.range(of: "listening on https://127.0.0.1:") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    /// One mutual-TLS request as denver-pd; its status, or 0 when no TLS connection could be made.
    func request(port: Int) throws -> Int {
        let certs = pki.directory.path
        let result = try Curl.run([
            "-s", "-o", "/dev/null", "--max-time", "10", "-w", "%{http_code}", "--cacert", "\(certs)/ca.pem",
            "--cert", "\(certs)/denver-pd.pem", "--key", "\(certs)/denver-pd.key", "https://127.0.0.1:\(port)/records/inmates/2017-000456",
        ])
        return Int(result.output) ?? 0
    }

    /// Whether the output contains each of `parts` within `seconds` (it is read as it comes, apart from the socket).
    func wrote(_ parts: String..., within seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let text = self.text
            if parts.allSatisfy(text.contains) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// Sends `signal`.
    func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the exit (killing the process after `seconds`), once its output has been read to the end.
    func exitStatus(within seconds: Double = 60) -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        output.waitUntilRead()
        return process.terminationStatus
    }
}

@Suite("warrant-gate serve under systemd: sd_notify and credentials", .ownThreads, .serialized)
struct SystemdNotifyCLITests {
    /// Starts the gateway, checks each notification of its life, and stops it; `launcher` runs it in a sandbox.
    static func checkLifecycle(launcher: [String] = []) throws {
        let socket = try NotifySocket(address: "@wg-notify-\(UUID().uuidString)")
        let gateway = try ServeProcess(notifySocket: socket.address, launcher: launcher)
        defer { if gateway.process.isRunning { _ = gateway.exitStatus(within: 0) } }

        // READY=1 once the listener is bound: the port already answers mutual TLS, with the certificate and key the
        // variables name (the configuration's own files do not exist).
        #expect(socket.receive() == "READY=1", "\(gateway.text)")
        #expect(gateway.wrote("listening on https://127.0.0.1:"))
        let port = try #require(gateway.port, "\(gateway.text)")
        #expect(try gateway.request(port: port) != 0, "no TLS connection: \(gateway.text)")
        #expect(gateway.text.contains("tls.key: \(gateway.pki.serverKeyPath), from $WARRANT_GATE_TLS_KEY"))
        #expect(gateway.text.contains("tls.certificate: \(gateway.pki.serverCertificatePath), from $WARRANT_GATE_TLS_CERTIFICATE"))

        // SIGHUP: RELOADING=1 stamped with the monotonic time the reload started, then READY=1 once it is done.
        let before = monotonicMicroseconds()
        gateway.send(SIGHUP)
        let reloading = try #require(socket.receive(), "no RELOADING=1: \(gateway.text)")
        let after = monotonicMicroseconds()
        let lines = reloading.split(separator: "\n")
        #expect(lines.first == "RELOADING=1" && lines.count == 2, "\(reloading)")
        let stamp = try #require(lines.last.flatMap { $0.hasPrefix("MONOTONIC_USEC=") ? UInt64($0.dropFirst("MONOTONIC_USEC=".count)) : nil })
        #expect(stamp >= before && stamp <= after, "MONOTONIC_USEC \(stamp) not within [\(before), \(after)]")
        #expect(socket.receive() == "READY=1")
        // The operational log is JSON lines on standard output: the message, and the metadata as members of its own.
        #expect(gateway.wrote(#""message":"reloaded policy, agencies and TLS files""#, #""trigger":"SIGHUP""#), "\(gateway.text)")
        #expect(try gateway.request(port: port) != 0, "no TLS connection after the reload: \(gateway.text)")

        // SIGTERM: STOPPING=1 as the graceful shutdown begins, then a clean exit.
        gateway.send(SIGTERM)
        #expect(socket.receive() == "STOPPING=1")
        #expect(gateway.exitStatus() == 0, "\(gateway.text)")
        #expect(socket.receive(within: 0.2) == nil)
    }

    @Test("READY=1 once listening, RELOADING=1 with MONOTONIC_USEC then READY=1 on SIGHUP, STOPPING=1 on SIGTERM")
    func lifecycle() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "curl is needed: .ci/run installs it")
        try Self.checkLifecycle()
    }

    /// Runs its arguments with memory that is writable never made executable (the kernel's `PR_SET_MDWE`, what
    /// systemd applies for `MemoryDenyWriteExecute=yes` where the kernel has it), kept across `execve`.
    static let memoryDenyWriteExecute = [
        "/usr/bin/python3", "-c",
        "import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True); "
            + "sys.exit('PR_SET_MDWE: errno %d' % ctypes.get_errno()) if libc.prctl(65, 1, 0, 0, 0) != 0 else os.execv(sys.argv[1], sys.argv[1:])",
    ]

    @Test("the gateway serves, reloads and stops with MemoryDenyWriteExecute, as the unit runs it",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") || ProcessInfo.processInfo.environment["CI"] == "true"))
    func memoryDenyWriteExecute() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "python3 is needed to set PR_SET_MDWE")
        // The launcher itself works: a program that maps memory writable and executable is refused.
        let refused = try SystemTool.run("/usr/bin/python3", ["-c", Self.memoryDenyWriteExecute[2], "/usr/bin/python3", "-c",
            "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)"])
        #expect(refused.status != 0 && refused.stderr.contains("PermissionError"), "\(refused.stderr)")
        try Self.checkLifecycle(launcher: Self.memoryDenyWriteExecute)
    }

    @Test("a notify socket named by a path works as an abstract one does")
    func pathSocket() throws {
        let scratch = try Scratch()
        let socket = try NotifySocket(address: scratch.url.appendingPathComponent("notify").path)
        let gateway = try ServeProcess(notifySocket: socket.address)
        #expect(socket.receive() == "READY=1", "\(gateway.text)")
        gateway.send(SIGTERM)
        #expect(socket.receive() == "STOPPING=1")
        #expect(gateway.exitStatus() == 0, "\(gateway.text)")
    }
}

@Suite("A signing key the configuration names", .ownThreads)
struct ConfiguredSigningKeyCLITests {
    /// The shipped gateway.yaml names log.signing-key; a gateway started without it served with a warning only, signing
    /// no checkpoint, so its log was not tamper-evident and no alert on failed signings could fire.
    @Test("a log.signing-key that does not exist stops the gateway at start, naming the file and the fix")
    func missingConfiguredKey() throws {
        let scratch = try Scratch()
        let pki = DevPKIDirectory(directory: scratch.url.appendingPathComponent("certs"))
        try pki.ensure(clients: ["denver-pd"])
        let configuration = ServeProcess.configuration(certificate: "certs/server.pem", key: "certs/server.key")
            + "log: { signing-key: keys/log-signing.key }\n"
        let path = scratch.url.appendingPathComponent("gateway.yaml").path
        try configuration.write(toFile: path, atomically: true, encoding: .utf8)
        let started = try CLIProcess.run(["serve", "--config", path, "--log-format", "text"], timeout: 60)
        #expect(started.status != 0)
        #expect((started.stdout + started.stderr).contains("log.signing-key names this file, which does not exist"), "\(started.stderr)")
        // A helper's pass: certificates copied from a demo identified agencies with no word said. (Logged before the
        // key is looked for.)
        #expect(started.stderr.contains("tls.client-ca holds the development CA (O=WarrantGate Demo)"), "\(started.stderr)")
    }
}
