import Foundation
import Synchronization
import Testing

/// Starts `warrant-gate demo` as a process, waits for its instructions, and returns the port it bound. Its output is
/// read as it comes, so that a demo that logs a lot never blocks on a full pipe.
final class DemoProcess {
    let process = Process()
    private let output = ProcessOutput()

    /// What the demo has written so far.
    var text: String { output.text }

    /// Starts the demo; with `account` (a uid), as that account's user and group, through `setpriv`, which runs it in
    /// its own process.
    init(dataDir: String, adminPort: Int = 0, arguments: [String] = [], account: uid_t? = nil) throws {
        let demo = ["demo", "--port", "0", "--admin-port", String(adminPort), "--data-dir", dataDir] + arguments
        if let account {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(account)", "--regid=\(account)", "--clear-groups", "--", CLIProcess.executable.path] + demo
        } else {
            process.executableURL = CLIProcess.executable
            process.arguments = demo
        }
        process.currentDirectoryURL = Repository.root
        output.collect(from: process)
        try process.run()
    }

    /// Waits until the gateway reports its port.
    func port() throws -> Int {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && process.isRunning {
            let text = self.text
            if let range = text.range(of: "https://localhost:"), let end = text[range.upperBound...].firstIndex(where: { !$0.isNumber }),
               let port = Int(text[range.upperBound..<end]), text.contains("Ctrl-C stops the demo") {
                return port
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw CocoaError(.fileReadUnknown)
    }

    /// Sends SIGTERM and returns the exit status, once the demo's output has been read to its end.
    func terminate() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        output.waitUntilRead()
        return process.terminationStatus
    }
}

@Suite("The demo, run as a process", .ownThreads, .serialized)
struct DemoProcessTests {
    private func curl(_ certs: String, _ agency: String?, _ port: Int, _ path: String, warrant: String? = nil) throws -> (Int32, String) {
        var arguments = ["-s", "--max-time", "10", "--cacert", "\(certs)/ca.pem"]
        if let agency { arguments += ["--cert", "\(certs)/\(agency).pem", "--key", "\(certs)/\(agency).key"] }
        if let warrant { arguments += ["-H", "Warrant-Reference: \(warrant)"] }
        arguments.append("https://localhost:\(port)\(path)")
        return try Curl.run(arguments)
    }

    @Test("the demo's curl walk-through works, drains on SIGTERM with exit 0, and restarts on the same data")
    func walkThrough() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "curl is needed: .ci/run installs it")
        let scratch = try Scratch()
        let dataDir = scratch.url.appendingPathComponent("demo").path
        let certs = "\(dataDir)/certs"

        let demo = try DemoProcess(dataDir: dataDir)
        let port = try demo.port()
        #expect(demo.text.contains("Created the dev PKI"))
        // Its data directory is not the default, so the printed admin commands name its database.
        let database = "\(dataDir)/warrant-gate.sqlite"
        #expect(demo.text.contains("warrant-gate advisement record --db \(database) "))
        #expect(demo.text.contains("warrant-gate log export --db \(database) ") && demo.text.contains("warrant-gate log verify --db \(database)"))
        #expect(try curl(certs, "ice-ero", port, "/records/inmates/2017-000123").1.contains("warrant_missing"))
        let allowed = try curl(certs, "ice-ero", port, "/records/inmates/2017-000123", warrant: "JW-2026-0001").1
        #expect(allowed.contains("\"bookingNumber\":\"2017-000123\""))
        #expect(!allowed.contains("citizenship") && !allowed.contains("alienNumber"))
        #expect(try curl(certs, "ice-ero", port, "/records/inmates/2017-000456", warrant: "I200-2026-0001").1.contains("warrant_not_judicial"))
        #expect(try curl(certs, "denver-pd", port, "/records/inmates/2017-000456").1.contains("Daniel Okafor"))
        #expect(try curl(certs, "unregistered", port, "/records/inmates/2017-000123").1.contains("unknown_agency"))
        #expect(try curl(certs, nil, port, "/records/inmates/2017-000123").0 != 0)

        let advised = try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz", "--db", database])
        #expect(advised.status == 0)
        Thread.sleep(forTimeInterval: 1)
        #expect(try curl(certs, "ice-ero", port, "/records/inmates/2017-000789/release").1.contains("scheduledRelease"))
        #expect(demo.terminate() == 0)

        let export = try CLIProcess.run(["log", "export", "--format", "jsonl", "--db", database])
        let rows = export.stdout.split(separator: "\n")
        #expect(rows.count == 6)
        #expect(rows.filter { $0.contains("\"effect\":\"allow\"") }.count == 3)

        let again = try DemoProcess(dataDir: dataDir)
        let secondPort = try again.port()
        #expect(again.text.contains("Reusing the dev PKI"))
        #expect(try curl(certs, "denver-pd", secondPort, "/records/inmates/2017-000456").1.contains("Daniel Okafor"))
        #expect(again.terminate() == 0)
    }

    @Test("a gateway whose port is taken says so and exits with status 1 instead of hanging")
    func portTaken() throws {
        let scratch = try Scratch()
        let first = try DemoProcess(dataDir: scratch.url.appendingPathComponent("first").path)
        defer { _ = first.terminate() }
        let port = try first.port()

        let second = Process()
        second.executableURL = CLIProcess.executable
        second.arguments = ["demo", "--port", String(port), "--admin-port", "0", "--data-dir", scratch.url.appendingPathComponent("second").path]
        second.currentDirectoryURL = Repository.root
        let output = Pipe()
        second.standardOutput = output
        second.standardError = output
        try second.run()
        let deadline = Date().addingTimeInterval(60)
        while second.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        let hung = second.isRunning
        if hung { kill(second.processIdentifier, SIGKILL) }
        second.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!hung, "still running a minute after its listener failed")
        #expect(second.terminationStatus == 1, "\(text)")
        #expect(text.contains("cannot listen on 127.0.0.1:\(port)") && text.contains("Address already in use"), "\(text)")
    }

    @Test("a gateway is closed to other processes of its own account: no /proc/<pid>/environ, root or memory")
    func closedToItsOwnAccount() throws {
        let nobody: uid_t = 65534
        let scratch = try Scratch()
        #expect(chown(scratch.url.path, nobody, nobody) == 0)
        let demo = try DemoProcess(dataDir: scratch.url.appendingPathComponent("demo").path, account: nobody)
        defer { _ = demo.terminate() }
        _ = try demo.port()
        let gateway = demo.process.processIdentifier

        /// Runs `command` as `nobody`, as the SIEM forwarder runs beside the gateway: another process of its account.
        func asNobody(_ command: String) throws -> CLIProcess.Result {
            try SystemTool.run("/usr/bin/setpriv", ["--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups", "--", "/bin/sh", "-c", command])
        }
        /// What another process of the account tries on a process `$1`: its environment, its root directory (which
        /// reaches files systemd hides from the other process), its memory.
        let probes = ["cat /proc/$1/environ", "ls /proc/$1/root/", "exec 3</proc/$1/mem"]
        // The probes tell the two apart: a process of the account that did not close itself is open to the others.
        let other = Process()
        other.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        other.arguments = ["--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups", "--", "/bin/sleep", "60"]
        try other.run()
        defer { other.terminate() }
        // Until setpriv has become nobody and run sleep, it is root's, or not dumpable (a change of user clears it).
        let comm = "/proc/\(other.processIdentifier)/comm"
        for _ in 0..<200 where (try? String(contentsOfFile: comm, encoding: .utf8)) != "sleep\n" { Thread.sleep(forTimeInterval: 0.01) }
        let control = try asNobody("set -- \(other.processIdentifier); \(probes.joined(separator: " && "))")
        #expect(control.status == 0, "\(control.stderr)")

        let status = try String(contentsOfFile: "/proc/\(gateway)/status", encoding: .utf8)
        #expect(status.contains("Uid:\t\(nobody)\t"), "the demo runs as nobody")
        var environ = stat()
        #expect(stat("/proc/\(gateway)/environ", &environ) == 0 && environ.st_uid == 0, "not dumpable: the kernel gives its /proc files to root")
        for probe in probes {
            let read = try asNobody("set -- \(gateway); \(probe) >/dev/null 2>&1")
            #expect(read.status != 0, "another process of its account could: \(probe)")
        }
    }
}
