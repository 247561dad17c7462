import Foundation
import Synchronization
import Testing

/// The CLI against a running demo gateway: changes take effect without a restart, and concurrent writers lose nothing.
@Suite("The CLI against a live gateway", .ownThreads, .serialized)
struct LiveGatewayCLITests {
    private func curl(_ certs: String, _ agency: String, _ port: Int, _ path: String, headers: [String] = []) throws -> String {
        try Curl.run(
            ["-s", "--max-time", "10", "--cacert", "\(certs)/ca.pem", "--cert", "\(certs)/\(agency).pem", "--key", "\(certs)/\(agency).key"]
                + headers.flatMap { ["-H", $0] } + ["https://localhost:\(port)\(path)"]
        ).output
    }

    @Test("a revoked agency certificate, a new warrant and an approved agency take effect on the live gateway within a second")
    func liveChanges() throws {
        let scratch = try Scratch()
        let dataDir = scratch.url.appendingPathComponent("demo").path
        let certs = "\(dataDir)/certs"
        let database = "\(dataDir)/warrant-gate.sqlite"
        let demo = try DemoProcess(dataDir: dataDir)
        defer { _ = demo.terminate() }
        let port = try demo.port()

        #expect(try curl(certs, "ice-ero", port, "/records/inmates/2017-000456").contains("warrant_missing"))
        // One operator re-files ICE as local police. The CLI refuses it against the directory file; with that check
        // skipped, the gateway adds the certificate to ICE's entry and keeps its category.
        let agencies = Repository.root.appendingPathComponent("policies/agencies.yaml").path
        let recategorise = ["agency", "add", "ice-ero", "--category", "local-law-enforcement", "--cert", "\(certs)/ice-ero.pem", "--db", database, "--operator", "solo"]
        let refused = try CLIProcess.run(recategorise + ["--agencies", agencies])
        #expect(refused.status == 3 && refused.stderr.contains("never its category changed"), "\(refused.stderr)")
        // A category the file neither builds in nor declares is a misspelling no rule would see.
        let misspelt = try CLIProcess.run(["agency", "add", "aurora-pd", "--category", "local-law-enforcment", "--cert", "\(certs)/denver-pd.pem",
                                           "--db", database, "--operator", "solo", "--agencies", agencies])
        #expect(misspelt.status == 3 && misspelt.stderr.contains("neither built in nor declared"), "\(misspelt.stderr)")
        #expect(try CLIProcess.run(recategorise + ["--agencies", scratch.url.appendingPathComponent("none.yaml").path]).status == 4)
        // Run where no directory is, the check is skipped, and said to be.
        let unchecked = try CLIProcess.run(recategorise, in: scratch.url)
        #expect(unchecked.status == 0 && unchecked.stderr.contains("warning: no agency directory at policies/agencies.yaml"), "\(unchecked.stderr)")
        // policy explain resolves the category as the gateway does: the directory file's, not the registry's.
        let explained = try CLIProcess.run([
            "policy", "explain", "--policy", Repository.root.appendingPathComponent("policies/denver.yaml").path, "--agencies", agencies,
            "--agency", "ice-ero", "--path", "/records/inmates/2017-000456", "--db", database,
        ])
        #expect(explained.stdout.contains("(federal-immigration)") && explained.stdout.contains("decision:  deny (warrant_missing)"), "\(explained.stdout)")
        // A misspelt directory is an error, not a silent fall back to the registry's category.
        let misspeltDirectory = try CLIProcess.run([
            "policy", "explain", "--policy", Repository.root.appendingPathComponent("policies/denver.yaml").path, "--agencies", agencies + ".missing",
            "--agency", "ice-ero", "--path", "/records/inmates/2017-000456", "--db", database,
        ])
        #expect(misspeltDirectory.status == 4, "\(misspeltDirectory.stdout)")
        Thread.sleep(forTimeInterval: 1)
        #expect(try curl(certs, "ice-ero", port, "/records/inmates/2017-000456").contains("warrant_missing"))
        let registered = try CLIProcess.run([
            "warrant", "register", "--reference", "JW-LIVE", "--kind", "judicial-warrant", "--agency", "ice-ero", "--subject", "2017-000456",
            "--scope", "records.read", "--expires", "2099-12-31", "--court", "D. Colo.", "--judge", "Hon. J.", "--case", "1:26-mj-9",
            "--no-document", "test", "--db", database, "--operator", "clerk",
        ])
        #expect(registered.status == 0, "\(registered.stderr)")
        let approved = try CLIProcess.run(
            ["warrant", "approve", "JW-LIVE", "--db", database, "--operator", "sergeant"] + CLIProcess.terms(of: "JW-LIVE", ["--db", database])
        )
        #expect(approved.status == 0, "\(approved.stderr)")
        Thread.sleep(forTimeInterval: 1)
        #expect(try curl(certs, "ice-ero", port, "/records/inmates/2017-000456", headers: ["Warrant-Reference: JW-LIVE"]).contains("Daniel Okafor"))

        // ICE's certificate, whose subject the file gives ICE, is not pinned to another agency.
        let icesOwn = try CLIProcess.run([
            "agency", "add", "aurora-pd", "--category", "local-law-enforcement", "--cert", "\(certs)/ice-ero.pem", "--db", database, "--operator", "alice",
            "--agencies", agencies,
        ])
        #expect(icesOwn.status == 3 && icesOwn.stderr.contains("subject is ice-ero's"), "\(icesOwn.stderr)")
        // A certificate pinned to an agency waits for a second operator: whoever holds its key would be that agency.
        let requested = try CLIProcess.run([
            "agency", "add", "aurora-pd", "--category", "local-law-enforcement", "--cert", "\(certs)/unregistered.pem", "--db", database,
            "--operator", "alice", "--agencies", agencies,
        ])
        let number = try #require(requested.stdout.firstMatch(of: /request (\d+): agency aurora-pd/).map { String($0.1) }, "\(requested.stdout)\(requested.stderr)")
        #expect(requested.stdout.contains("pending"), "\(requested.stdout)")
        #expect(try CLIProcess.run(["agency", "list", "--db", database, "--agencies", agencies]).stdout.contains("requests waiting for a second operator"))
        Thread.sleep(forTimeInterval: 1)
        #expect(try curl(certs, "unregistered", port, "/records/inmates/2017-000456").contains("unknown_agency"))
        let byHerself = try CLIProcess.run(["agency", "approve", number, "--db", database, "--operator", "Alice"])
        #expect(byHerself.status == 3 && byHerself.stderr.contains("two-person rule"), "\(byHerself.stderr)")
        #expect(try CLIProcess.run(["agency", "approve", number, "--db", database, "--operator", "sergeant"]).status == 0)
        Thread.sleep(forTimeInterval: 1)
        #expect(try curl(certs, "unregistered", port, "/records/inmates/2017-000456").contains("Daniel Okafor"))
        // Listed as the gateway reads it, each key whole for scripts.
        let listed = try CLIProcess.run(["agency", "list", "--json", "--db", database, "--agencies", agencies])
        let rows = try #require((try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["agencies"] as? [[String: Any]])
        let aurora = try #require(rows.first { $0["id"] as? String == "aurora-pd" })
        #expect((aurora["certificates"] as? [String])?.allSatisfy { $0.count == 5 + 64 } == true, "\(aurora)")
        #expect(rows.first { $0["id"] as? String == "ice-ero" }?["category"] as? String == "federal-immigration")

        let revoked = try CLIProcess.run(["agency", "revoke-cert", "ice-ero", "--cert", "\(certs)/ice-ero.pem", "--reason", "laptop stolen", "--db", database])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        Thread.sleep(forTimeInterval: 1)
        #expect(try curl(certs, "ice-ero", port, "/records/inmates/2017-000456", headers: ["Warrant-Reference: JW-LIVE"]).contains("certificate_revoked"))
        #expect(try curl(certs, "denver-pd", port, "/records/inmates/2017-000456").contains("Daniel Okafor"))

        let listing = try CLIProcess.run(["agency", "list", "--db", database, "--agencies", agencies])
        #expect(listing.stdout.contains("laptop stolen"))
        let export = try CLIProcess.run(["log", "export", "--format", "csv", "--db", database])
        // The refusal names the agency whose certificate was revoked.
        let refusals = export.stdout.split(separator: "\n").filter { $0.contains("certificate_revoked") }
        #expect(!refusals.isEmpty && refusals.allSatisfy { $0.contains(",ice-ero,") }, "\(refusals)")
    }

    @Test("CLI processes write while the gateway serves load: no lost write, no 'database is locked'")
    func concurrentWriters() throws {
        let scratch = try Scratch()
        let dataDir = scratch.url.appendingPathComponent("demo").path
        let certs = "\(dataDir)/certs"
        let database = "\(dataDir)/warrant-gate.sqlite"
        let demo = try DemoProcess(dataDir: dataDir)
        defer { _ = demo.terminate() }
        let port = try demo.port()

        // Load: curl keeps 8 parallel mutual-TLS requests in flight.
        let load = Process()
        load.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        load.arguments = ["-s", "-o", "/dev/null", "-Z", "--parallel-max", "8", "--cacert", "\(certs)/ca.pem", "--cert", "\(certs)/denver-pd.pem",
                          "--key", "\(certs)/denver-pd.key"] + Array(repeating: "https://localhost:\(port)/records/inmates/2017-000456", count: 400)
        try load.run()

        let writers = 24
        let results = Mutex<[(Int32, String)]>([])
        DispatchQueue.concurrentPerform(iterations: writers) { index in
            let arguments = index % 2 == 0
                ? ["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. \(index)"]
                : ["warrant", "register", "--reference", "I247A-\(index)", "--kind", "detainer", "--agency", "ice-ero", "--subject", "2017-000123",
                   "--scope", "records.read", "--expires", "2099-12-31"]
            let result = try? CLIProcess.run(arguments + ["--db", database, "--operator", "writer-\(index)"])
            results.withLock { $0.append((result?.status ?? -1, result?.stderr ?? "did not run")) }
        }
        load.waitUntilExit()
        let outcomes = results.withLock { $0 }
        #expect(outcomes.count == writers)
        for (status, stderr) in outcomes {
            #expect(status == 0, "\(stderr)")
            #expect(!stderr.contains("locked"))
        }
        let detainers = try CLIProcess.run(["warrant", "list", "--json", "--kind", "detainer", "--db", database])
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(detainers.stdout.utf8)) as? [[String: Any]])
        #expect(entries.count == writers / 2)
        let export = try CLIProcess.run(["log", "export", "--format", "jsonl", "--db", database])
        #expect(export.stdout.split(separator: "\n").count >= 400)
    }
}
