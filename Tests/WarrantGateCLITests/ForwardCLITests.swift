import Foundation
import Testing
import WarrantGateTestSupport

@Suite("warrant-gate forward syslog, run as a process", .ownThreads, .enabled(if: Rsyslog.isEnabled))
struct ForwardCLITests {
    @Test("--once sends the whole log to rsyslog and stops; run again, it sends only what is new; its logs are JSON lines")
    func once() async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        for reference in ["I200-1", "I200-2", "I200-3"] {
            let registered = try CLIProcess.run(["warrant", "register", "--time-zone", "America/Denver", "--reference", reference, "--kind", "administrative-warrant", "--agency", "ice-ero",
                                                 "--subject", "2017-000456", "--scope", "records.read", "--expires", "2099-12-31", "--operator", "clerk-a"] + db)
            #expect(registered.status == 0, "\(registered.stderr)")
        }
        let rsyslog = try await blocking { try Rsyslog() }
        defer { rsyslog.stop() }
        let state = scratch.url.appendingPathComponent("siem.cursor").path
        let forward = ["forward", "syslog", "--to", "127.0.0.1:\(rsyslog.port)", "--state", state, "--once", "--hostname", "gw1"] + db

        let first = try await blocking { try CLIProcess.run(forward) }
        #expect(first.status == 0, "\(first.stderr)")
        #expect(rsyslog.sequenceNumbers() == [1, 2, 3])
        #expect(rsyslog.lines().allSatisfy { $0.hasPrefix(#"admin [warrantgate@32473 seq=""#) && $0.contains(#"operator="clerk-a" account=""#) && $0.contains(#"" action="warrant.register""#) })
        let logs = first.stdout.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
        #expect(!logs.isEmpty && logs.allSatisfy { $0?["time"] is String && $0?["level"] is String }, "\(first.stdout)")
        #expect(logs.contains { ($0?["message"] as? String)?.contains("acknowledged every entry through seq 3") == true }, "\(first.stdout)")
        #expect(try String(contentsOfFile: state, encoding: .utf8).hasPrefix("destination 127.0.0.1:\(rsyslog.port)\nseq 3\nleaf "))

        let revoked = try CLIProcess.run(["warrant", "revoke", "I200-1", "--reason", "withdrawn", "--operator", "clerk-a"] + db)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        let second = try await blocking { try CLIProcess.run(forward) }
        #expect(second.status == 0, "\(second.stderr)")
        #expect(rsyslog.sequenceNumbers() == [1, 2, 3, 4])

        let elsewhere = try CLIProcess.run(["forward", "syslog", "--to", "127.0.0.1:1", "--state", state, "--once"] + db)
        #expect(elsewhere.status == 1)
        #expect(elsewhere.stderr.contains("is the cursor of 127.0.0.1:\(rsyslog.port), not of 127.0.0.1:1"), "\(elsewhere.stderr)")
        let unusable = try CLIProcess.run(["forward", "syslog", "--to", "siem.example", "--once"] + db)
        #expect(unusable.status == 2)
        #expect(unusable.stderr.contains("is not HOST:PORT"), "\(unusable.stderr)")
        let stray = try CLIProcess.run(["forward", "syslog", "--to", "127.0.0.1:9", "--ca", "ca.pem", "--once"] + db)
        #expect(stray.status == 2)
        // In the clear only to a loopback address, unless asked: anyone on the path could answer in the SIEM's place.
        for remote in ["siem.county.example:2514", "192.0.2.7:2514", "[2001:db8::1]:2514", "localhost:2514"] {
            let clear = try CLIProcess.run(["forward", "syslog", "--to", remote, "--once"] + db)
            #expect(clear.status == 2 && clear.stderr.contains("is not a loopback address: give --tls"), "\(remote): \(clear.stderr)")
        }
        let both = try CLIProcess.run(["forward", "syslog", "--to", "192.0.2.7:2514", "--tls", "--plaintext", "--once"] + db)
        #expect(both.status == 2 && both.stderr.contains("contradict"), "\(both.stderr)")
        // A review of the forwarder: with --tls alone, any CA the machine trusts vouches for the receiver; it is said.
        let systemTrust = try CLIProcess.run(["forward", "syslog", "--to", "127.0.0.1:9", "--tls", "--once", "--db", scratch.url.appendingPathComponent("none/x.sqlite").path])
        #expect(systemTrust.stdout.contains("--tls without --ca: any certificate authority this machine trusts can vouch for 127.0.0.1"), "\(systemTrust.stdout)")

        // A receiver that is down: --once, run from a timer, gives up and fails (it retried for ever) and keeps its
        // cursor. Port 1 on loopback refuses every connection.
        let downForward = ["forward", "syslog", "--to", "127.0.0.1:1", "--state", scratch.url.appendingPathComponent("down.cursor").path, "--once"] + db
        let down = try await blocking { try CLIProcess.run(downForward, timeout: 120) }
        #expect(down.status == 1, "\(down.stdout)\n\(down.stderr)")
        #expect(down.stderr.contains("took nothing in 5 attempts in a row"), "\(down.stderr)")
    }
}
