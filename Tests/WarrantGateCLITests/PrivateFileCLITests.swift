import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import WarrantGateStore

/// Files the CLI reads from and writes for an operator: documents, keys, exports, reports, archives.
@Suite("Private files, through the CLI run as a process", .ownThreads)
struct PrivateFileCLITests {
    private static func register(_ reference: String, document: String, db: String) -> [String] {
        ["warrant", "register", "--time-zone", "America/Denver", "--reference", reference, "--kind", "judicial-warrant", "--agency", "ice-ero", "--subject", "2017-000123",
         "--scope", "records.read", "--expires", "2099-12-31", "--court", "D. Colo.", "--judge", "Hon. R. Jackson", "--case", "1:26-mj-1",
         "--document", document, "--db", db]
    }

    /// The permission bits of `path` itself (not of a link's target), or nil if there is nothing there.
    private static func mode(_ path: String) -> mode_t? {
        var status = Glibc.stat()
        guard lstat(path, &status) == 0 else { return nil }
        return status.st_mode & 0o7777
    }

    private static func isSymbolicLink(_ path: String) -> Bool {
        var status = Glibc.stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFLNK
    }

    @Test("a document given as a symbolic link is refused; nothing is registered or stored")
    func symbolicLinkRefused() throws {
        let scratch = try Scratch()
        let secret = scratch.url.appendingPathComponent("shadow").path
        #expect(FileManager.default.createFile(atPath: secret, contents: Data("root:$6$secret-hash:19000::::::\n".utf8), attributes: [.posixPermissions: 0o600]))
        let link = scratch.url.appendingPathComponent("scan.pdf").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: secret)

        let refused = try CLIProcess.run(Self.register("JW-1", document: link, db: scratch.db))
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("\(link) is a symbolic link; give the file itself"), "\(refused.stderr)")
        let documents = scratch.url.appendingPathComponent("documents").path
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: documents)) ?? []).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: scratch.db), "nothing is written, not even the database")
    }

    @Test("/proc/self/environ (procfs), a FIFO and a document over 64 MiB are refused, without hanging")
    func pseudoFilesFifoAndSize() throws {
        let scratch = try Scratch()
        let documents = scratch.url.appendingPathComponent("documents").path

        let environ = try CLIProcess.run(Self.register("JW-1", document: "/proc/self/environ", db: scratch.db), timeout: 20)
        #expect(environ.status == 3, "\(environ.stderr)")
        #expect(environ.stderr.contains("/proc/self/environ is on /proc or /sys (a pseudo filesystem), not a document"), "\(environ.stderr)")

        let fifo = scratch.url.appendingPathComponent("scan.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let piped = try CLIProcess.run(Self.register("JW-2", document: fifo, db: scratch.db), timeout: 20)
        #expect(piped.status == 3, "\(piped.stderr)")
        #expect(piped.stderr.contains("\(fifo) is not a regular file"), "\(piped.stderr)")

        let large = scratch.url.appendingPathComponent("large.pdf")
        #expect(FileManager.default.createFile(atPath: large.path, contents: nil))
        let handle = try FileHandle(forWritingTo: large)
        try handle.truncate(atOffset: UInt64(64 << 20) + 1)  // sparse: costs no disk
        try handle.close()
        let tooLarge = try CLIProcess.run(Self.register("JW-3", document: large.path, db: scratch.db), timeout: 60)
        #expect(tooLarge.status == 3, "\(tooLarge.stderr)")
        #expect(tooLarge.stderr.contains("\(large.path) is larger than 64 MiB"), "\(tooLarge.stderr)")

        #expect(((try? FileManager.default.contentsOfDirectory(atPath: documents)) ?? []).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: scratch.db))
    }

    @Test("a document is stored 0600 in documents/ of 0700, which is tightened if it was looser; a new data directory is 0700, the database 0600")
    func documentModes() throws {
        let scratch = try Scratch()
        let data = scratch.url.appendingPathComponent("data").path
        let db = "\(data)/warrant-gate.sqlite"
        let scan = scratch.url.appendingPathComponent("scan.pdf").path
        #expect(FileManager.default.createFile(atPath: scan, contents: Data("%PDF-1.4 signed warrant".utf8), attributes: [.posixPermissions: 0o644]))

        let registered = try CLIProcess.run(Self.register("JW-1", document: scan, db: db))
        #expect(registered.status == 0, "\(registered.stderr)")
        #expect(Self.mode(data) == 0o700)
        #expect(Self.mode(db) == 0o600)
        let documents = "\(data)/documents"
        #expect(Self.mode(documents) == 0o700)
        let stored = try FileManager.default.contentsOfDirectory(atPath: documents)
        #expect(stored.count == 1)
        #expect(Self.mode("\(documents)/\(stored[0])") == 0o600)
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(documents)/\(stored[0])")) == Data("%PDF-1.4 signed warrant".utf8))
        #expect(try CLIProcess.run(["warrant", "verify-document", "JW-1", scan, "--db", db]).status == 0)

        // A documents/ directory left group- and world-readable by an earlier version is tightened.
        #expect(chmod(documents, 0o755) == 0)
        #expect(chmod("\(documents)/\(stored[0])", 0o444) == 0)
        let second = scratch.url.appendingPathComponent("second.pdf").path
        #expect(FileManager.default.createFile(atPath: second, contents: Data("%PDF-1.4 another warrant".utf8)))
        let again = try CLIProcess.run(Self.register("JW-2", document: second, db: db))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(Self.mode(documents) == 0o700)
        let both = try FileManager.default.contentsOfDirectory(atPath: documents)
        #expect(both.count == 2 && both.allSatisfy { $0 == stored[0] || Self.mode("\(documents)/\($0)") == 0o600 }, "\(both)")
    }

    @Test("exports and reports are written 0600; an --out that is a symbolic link is refused and its target left untouched")
    func outputs() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz"] + db).status == 0)

        let export = scratch.url.appendingPathComponent("decisions.csv").path
        let exported = try CLIProcess.run(["log", "export", "--format", "csv", "--out", export] + db)
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(Self.mode(export) == 0o600)
        #expect(try String(contentsOfFile: export, encoding: .utf8).hasPrefix("decisionId,time,agency"))
        // Never replaced, not even an earlier export: one mistyped --out must not replace the database or the key.
        let again = try CLIProcess.run(["log", "export", "--format", "jsonl", "--out", export] + db)
        #expect(again.status == 3 && again.stderr.contains("already exists"), "\(again.stderr)")
        #expect(try String(contentsOfFile: export, encoding: .utf8).hasPrefix("decisionId,time,agency"))
        for command in [["log", "export", "--format", "csv"], ["report", "--period", "2026", "--format", "csv"]] {
            let refused = try CLIProcess.run(command + ["--out", scratch.db] + db)
            #expect(refused.status == 3 && refused.stderr.contains("already exists"), "\(command[0]): \(refused.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.db)).starts(with: Data("SQLite format 3\0".utf8)))

        let report = scratch.url.appendingPathComponent("report.csv").path
        #expect(try CLIProcess.run(["log", "init-key"] + db).status == 0)  // a report needs the log's key to vouch for it
        let reported = try CLIProcess.run(["report", "--period", "2026", "--format", "csv", "--out", report] + db)
        #expect(reported.status == 0, "\(reported.stderr)")
        #expect(Self.mode(report) == 0o600)

        let victim = scratch.url.appendingPathComponent("victim.conf").path
        let original = Data("keep me\n".utf8)
        #expect(FileManager.default.createFile(atPath: victim, contents: original, attributes: [.posixPermissions: 0o644]))
        for (index, command) in [["report", "--period", "2026", "--format", "csv"], ["log", "export", "--format", "csv"]].enumerated() {
            let link = scratch.url.appendingPathComponent("out-\(index).csv").path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
            let refused = try CLIProcess.run(command + ["--out", link] + db)
            #expect(refused.status == 3, "\(command[0]): \(refused.stderr)")
            #expect(refused.stderr.contains("\(link) is a symbolic link; give the file itself"), "\(refused.stderr)")
            #expect(Self.isSymbolicLink(link))
            #expect(FileManager.default.contents(atPath: victim) == original)
            #expect(Self.mode(victim) == 0o644)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).allSatisfy { !$0.hasSuffix(".tmp") })
    }

    /// An attacker's pass: with standard output on a full disk, `log checkpoint` (the off-site copy of the restore
    /// drill), `report` and `log verify` exited 0 having written nothing, `log export` crashed, and `report` recorded
    /// a report no one received.
    @Test("a command whose standard output cannot be written (/dev/full) fails with exit 1; a report lost so is not recorded")
    func unwritableStandardOutput() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        #expect(try CLIProcess.run(["log", "init-key", "--name", "county.example/warrant-gate"] + db).status == 0)
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz"] + db).status == 0)
        let full = try #require(FileHandle(forWritingAtPath: "/dev/full"))
        let commands = [
            ["log", "export", "--format", "csv"], ["report", "--period", "2026", "--format", "md"], ["log", "checkpoint"], ["log", "verify"],
            ["agency", "list"],
        ]
        for command in commands {
            let result = try CLIProcess.run(command + db, output: full)
            #expect(result.status == 1 && result.stderr.contains("cannot write standard output"), "\(command): \(result.status) \(result.stderr)")
        }
        let store = try Store.open(path: scratch.db)
        defer { store.close() }
        let entries = try store.logEntries(after: 0, limit: 100).map { String(decoding: $0.entry, as: UTF8.self) }
        #expect(!entries.contains { $0.contains("report.generate") || $0.contains("log.export") }, "\(entries)")
    }

    @Test("init-key writes the signing key 0600 and refuses a link placed at the verifier key's path; archive refuses an existing file")
    func keysAndArchives() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        let keyPath = scratch.url.appendingPathComponent("log-signing.key").path
        let planted = scratch.url.appendingPathComponent("planted.pub").path
        try FileManager.default.createSymbolicLink(atPath: keyPath + ".pub", withDestinationPath: planted)
        let refused = try CLIProcess.run(["log", "init-key"] + db)
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("\(keyPath).pub is a symbolic link"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: planted))
        #expect(Self.mode(keyPath) == nil)

        try FileManager.default.removeItem(atPath: keyPath + ".pub")
        let created = try CLIProcess.run(["log", "init-key"] + db)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(Self.mode(keyPath) == 0o600)
        #expect(Self.mode(keyPath + ".pub") == 0o644)

        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz"] + db).status == 0)
        let archive = scratch.url.appendingPathComponent("2024.archive").path
        #expect(FileManager.default.createFile(atPath: archive, contents: Data("archived entries\n".utf8)))
        let overwrite = try CLIProcess.run(["log", "archive", "--log-idle", "--before", "2000-01-01", "--out", archive] + db)
        #expect(overwrite.status == 3, "\(overwrite.stderr)")
        #expect(overwrite.stderr.contains("\(archive) already exists"), "\(overwrite.stderr)")
        #expect(FileManager.default.contents(atPath: archive) == Data("archived entries\n".utf8))
    }
}
