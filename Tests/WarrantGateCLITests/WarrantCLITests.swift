import Foundation
import Testing

@Suite("Admin CLI, run as a process")
struct WarrantCLITests {
    @Test("register, list, show, revoke: with operators recorded and clear refusals")
    func lifecycle() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]

        let missing = try CLIProcess.run(["warrant", "register", "--reference", "JW-1", "--kind", "judicial-warrant", "--agency", "ice-ero",
                                          "--subject", "2017-000123", "--scope", "records.read", "--expires", "2026-12-31"] + db)
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("--court"))
        #expect(missing.stderr.contains("--judge"))
        #expect(missing.stdout.isEmpty)

        let badDate = try CLIProcess.run(["warrant", "register", "--reference", "JW-1", "--kind", "judicial-warrant", "--agency", "ice-ero",
                                          "--subject", "2017-000123", "--scope", "records.read", "--expires", "31/12/2026",
                                          "--court", "D. Colo.", "--judge", "Hon. X"] + db)
        #expect(badDate.status == 3)
        #expect(badDate.stderr.contains("YYYY-MM-DD"))

        let document = scratch.url.appendingPathComponent("warrant.pdf")
        try Data("%PDF-1.4 signed warrant".utf8).write(to: document)
        let registered = try CLIProcess.run(["warrant", "register", "--reference", "JW-1", "--kind", "judicial-warrant", "--agency", "ice-ero",
                                             "--subject", "2017-000123", "--scope", "records.read,visitation.schedule", "--expires", "2026-12-31",
                                             "--court", "U.S. District Court, D. Colo.", "--judge", "Hon. R. Jackson", "--case", "1:26-mj-1",
                                             "--document", document.path, "--operator", "clerk-a"] + db)
        #expect(registered.status == 0, "\(registered.stderr)")
        #expect(registered.stdout.contains("registered JW-1"))

        let ice = try CLIProcess.run(["warrant", "register", "--reference", "I200-1", "--kind", "administrative-warrant", "--agency", "ice-ero",
                                      "--subject", "2017-000456", "--scope", "records.read", "--expires", "2026-12-31"] + db,
                                     environment: ["WARRANT_GATE_OPERATOR": "clerk-env"])
        #expect(ice.status == 0)
        #expect(ice.stdout.contains("immigration officer"))

        let listed = try CLIProcess.run(["warrant", "list", "--json"] + db)
        #expect(listed.status == 0)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        #expect(entries.count == 2)
        let table = try CLIProcess.run(["warrant", "list"] + db)
        #expect(table.stdout.contains("REFERENCE") && table.stdout.contains("I200-1"))

        let revoked = try CLIProcess.run(["warrant", "revoke", "JW-1", "--reason", "quashed", "--operator", "clerk-b"] + db)
        #expect(revoked.status == 0)
        let shown = try CLIProcess.run(["warrant", "show", "JW-1"] + db)
        #expect(shown.stdout.contains("status:      revoked (quashed)"))
        #expect(shown.stdout.contains("warrant.register  by clerk-a"))
        #expect(shown.stdout.contains("warrant.revoke  by clerk-b"))
        #expect(shown.stdout.contains("document:    sha256:"))
        let history = try CLIProcess.run(["warrant", "show", "I200-1"] + db)
        #expect(history.stdout.contains("by clerk-env"))

        let unknown = try CLIProcess.run(["warrant", "revoke", "JW-404", "--reason", "x"] + db)
        #expect(unknown.status == 4)
        #expect(unknown.stderr.contains("no document with reference JW-404"))
        let again = try CLIProcess.run(["warrant", "revoke", "JW-1", "--reason", "x"] + db)
        #expect(again.status == 3)
    }

    @Test("usage errors exit 2; a missing database is not created by a read")
    func usage() throws {
        let scratch = try Scratch()
        let wrongKind = try CLIProcess.run(["warrant", "register", "--reference", "X", "--kind", "i-200", "--db", scratch.db])
        #expect(wrongKind.status == 2)
        let noDatabase = try CLIProcess.run(["warrant", "list", "--db", scratch.db])
        #expect(noDatabase.status == 4)
        #expect(!FileManager.default.fileExists(atPath: scratch.db))
        let help = try CLIProcess.run(["warrant", "register", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Example:"))
    }

    @Test("advisements and exports; the export is itself recorded")
    func advisementAndExport() throws {
        let scratch = try Scratch()
        let recorded = try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz",
                                           "--at", "2026-11-24T15:00:00Z", "--db", scratch.db])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let badTime = try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "x",
                                          "--at", "yesterday", "--db", scratch.db])
        #expect(badTime.status == 2)
        #expect(badTime.stderr.contains("YYYY-MM-DD or ISO 8601"))
        let csv = try CLIProcess.run(["log", "export", "--format", "csv", "--db", scratch.db])
        #expect(csv.status == 0)
        #expect(csv.stdout.hasPrefix("decisionId,time,agency"))
        let out = scratch.url.appendingPathComponent("decisions.jsonl").path
        let file = try CLIProcess.run(["log", "export", "--format", "jsonl", "--out", out, "--db", scratch.db])
        #expect(file.stdout.contains("exported 0 decisions"))
        #expect(FileManager.default.fileExists(atPath: out))
    }

    @Test("policy check names the file and line of an error")
    func policyCheck() throws {
        let scratch = try Scratch()
        let good = try CLIProcess.run(["policy", "check", Repository.root.appendingPathComponent("policies/denver.yaml").path])
        #expect(good.status == 0)
        #expect(good.stdout.contains("ok"))
        let bad = scratch.url.appendingPathComponent("bad.yaml")
        try "policy: bad\ntime-zone: America/Denver\nsubject-format: \"#\"\nroutes: []\nrules: []\nextra: 1\n".write(to: bad, atomically: true, encoding: .utf8)
        let failed = try CLIProcess.run(["policy", "check", bad.path])
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("bad.yaml:6: policy: unknown key 'extra'"))
    }
}

@Suite("Fuzz corpus replay")
struct FuzzCorpusReplayTests {
    @Test("every seed of the fuzz corpus runs through its target without a crash", arguments: ["canonical-target", "classification", "policy"])
    func replay(target: String) throws {
        let directory = Repository.root.appendingPathComponent("scripts/fuzz-corpus/\(target)")
        let seeds = try FileManager.default.contentsOfDirectory(atPath: directory.path).map { directory.appendingPathComponent($0).path }
        #expect(!seeds.isEmpty)
        let replayer = CLIProcess.executable.deletingLastPathComponent().appendingPathComponent("warrant-gate-fuzz")
        let process = Process()
        process.executableURL = replayer
        process.arguments = [target] + seeds
        process.currentDirectoryURL = Repository.root
        process.standardOutput = Pipe()
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
