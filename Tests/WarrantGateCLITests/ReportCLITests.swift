import Foundation
import Testing
import WarrantGateCore
import WarrantGateStore
import WarrantGateTestSupport

/// `report` run as a process over a SQLite log whose decisions the test wrote, as the gateway writes them.
@Suite("report")
struct ReportCLITests {
    @Test("a period that may hold archived entries is refused, or with --allow-archived reported as incomplete in every format")
    func archived() async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        // One ICE request in 2023, archived below, and one in 2024, kept.
        try await Self.append([Self.decision("d-1", at: "2023-06-15T12:00:00.000Z"), Self.decision("d-2", at: "2024-03-01T12:00:00.000Z")], to: scratch.db)
        #expect(try await Self.run(["log", "init-key"] + db).status == 0)
        let archive = scratch.url.appendingPathComponent("2023.archive").path
        // A helper's pass: a host clock set ahead archived entries minutes old. Ages are judged by the gateways' latest
        // entry too (here 2024-03-01), unless the operator says no gateway has logged since.
        let byLog = try await Self.run(["log", "archive", "--before", "2024-01-01", "--out", archive] + db)
        #expect(byLog.status == 3 && byLog.stderr.contains("the gateways' latest entry is dated 2024-03-01T12:00:00.000Z"), "\(byLog.stderr)")
        #expect(byLog.stderr.contains("--log-idle") && !FileManager.default.fileExists(atPath: archive), "\(byLog.stderr)")
        let archived = try await Self.run(["log", "archive", "--log-idle", "--before", "2024-01-01", "--out", archive] + db)
        #expect(archived.status == 0 && archived.stdout.contains("archived 1 entries"), "\(archived.stderr)")
        #expect(archived.stderr.contains("is now the only copy of these 1 entries, and `backup` does not include it"), "\(archived.stderr)")
        let missing = "entries 1…1 of the log (times up to 2023-06-15T12:00:00.000Z) are archived and not counted"

        let refused = try await Self.run(["report", "--period", "2023"] + db)
        #expect(refused.status == 3, "\(refused.stdout)")
        #expect(refused.stderr.contains(missing) && refused.stderr.contains("--allow-archived"), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)

        for format in ["md", "html", "csv"] {
            let allowed = try await Self.run(["report", "--period", "2023", "--format", format, "--allow-archived"] + db)
            #expect(allowed.status == 0, "\(allowed.stderr)")
            #expect(allowed.stdout.contains(missing), "\(format): \(allowed.stdout)")
            #expect(allowed.stderr.contains("warning: \(missing)"), "\(allowed.stderr)")
        }

        // An auditor's pass: `log export` left archived decisions out of a range without a word. It is refused as the
        // report is, or with --allow-archived exports what the database holds and says what is not there.
        let exportRefused = try await Self.run(["log", "export", "--format", "csv", "--from", "2023-01-01"] + db)
        #expect(exportRefused.status == 3 && exportRefused.stderr.contains("--allow-archived") && exportRefused.stdout.isEmpty, "\(exportRefused.stderr)")
        let exportAllowed = try await Self.run(["log", "export", "--format", "csv", "--allow-archived"] + db)
        #expect(exportAllowed.status == 0 && exportAllowed.stdout.contains("d-2") && !exportAllowed.stdout.contains("d-1"), "\(exportAllowed.stderr)")
        #expect(exportAllowed.stderr.contains("warning: entries 1…1 of the log"), "\(exportAllowed.stderr)")
        let exportLater = try await Self.run(["log", "export", "--format", "csv", "--from", "2024-01-01"] + db)
        #expect(exportLater.status == 0 && exportLater.stdout.contains("d-2") && exportLater.stderr.isEmpty, "\(exportLater.stderr)")

        // A period after every archived entry's time is complete: nothing said, nothing refused.
        let later = try await Self.run(["report", "--period", "2024", "--format", "csv"] + db)
        #expect(later.status == 0, "\(later.stderr)")
        #expect(later.stdout.contains("counts,2024-03,records,deny,,1"), "\(later.stdout)")
        #expect(!later.stdout.contains("archived") && later.stderr.isEmpty, "\(later.stdout)\(later.stderr)")
    }

    /// A review's pass: an archived request whose outcome was no answer (the client left) was looked up again in the
    /// database, where an outcome appended later by anyone who can append turned it into access given. Now `log verify`
    /// finds that outcome with the archive (an attacker's pass: it read outcomes in the database only), and so a
    /// report, which verifies the log first, is refused rather than counted.
    @Test("an outcome appended to the database for an archived request fails log verify with the archive, and the report")
    func archivedOutcomeStands() async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        try await Self.append([
            Self.decision("d-1", at: "2023-06-15T12:00:00.000Z", effect: .allow), Self.outcome(499, of: "d-1", at: "2023-06-15T12:00:01.000Z"),
        ], to: scratch.db)
        #expect(try await Self.run(["log", "init-key"] + db).status == 0)
        let june = scratch.url.appendingPathComponent("2023-06.archive").path
        #expect(try await Self.run(["log", "archive", "--log-idle", "--before", "2023-07-01", "--out", june] + db).status == 0)
        try await Self.append([Self.outcome(200, of: "d-1", at: "2024-01-02T00:00:00.000Z")], to: scratch.db)
        #expect(try await Self.run(["log", "checkpoint"] + db).status == 0)
        let verified = try await Self.run(["log", "verify", "--archive", june] + db)
        #expect(verified.status == 3, "\(verified.stdout)\(verified.stderr)")
        #expect((verified.stdout + verified.stderr).contains("seq 5 is a second outcome of one decision"), "\(verified.stdout)\(verified.stderr)")
        let counted = try await Self.run(["report", "--period", "2023", "--format", "csv", "--template", "california-truth", "--archive", june] + db)
        #expect(counted.status == 3 && counted.stdout.isEmpty, "\(counted.stdout)")
        #expect(counted.stderr.contains("the log does NOT verify"), "\(counted.stderr)")
    }

    @Test("with every archive, oldest first, archived requests are counted; a missing, reordered, edited or foreign archive is refused")
    func countedArchives() async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        // A refusal in June 2023, an allowed request on New Year's Eve whose answer was logged in 2024, one in 2024.
        // A detainer the legal unit registered in June, archived with the refusal.
        let detainer = AdminRecord(
            time: "2023-06-16T12:00:00.000Z", operator: "clerk", action: "warrant.register", target: "I247A-1", details: ["kind": "detainer"]
        )
        try await Self.append([
            Self.decision("d-1", at: "2023-06-15T12:00:00.000Z"),
            LogEntry(kind: .admin, time: Timestamp.parse(detainer.time)!, decisionId: nil, canonical: detainer.canonical),
            Self.decision("d-2", at: "2023-12-31T23:59:00.000Z", effect: .allow),
            Self.outcome(200, of: "d-2", at: "2024-01-01T00:00:10.000Z"),
            Self.decision("d-3", at: "2024-03-01T12:00:00.000Z"),
        ], to: scratch.db)
        #expect(try await Self.run(["log", "init-key"] + db).status == 0)
        let june = scratch.url.appendingPathComponent("2023-06.archive").path
        let december = scratch.url.appendingPathComponent("2023-12.archive").path
        #expect(try await Self.run(["log", "archive", "--log-idle", "--before", "2023-07-01", "--out", june] + db).status == 0)
        #expect(try await Self.run(["log", "checkpoint"] + db).status == 0)
        #expect(try await Self.run(["log", "archive", "--log-idle", "--before", "2024-01-01", "--out", december] + db).status == 0)

        let counted = try await Self.run(
            ["report", "--period", "2023", "--format", "csv", "--template", "california-truth", "--archive", june, "--archive", december] + db
        )
        #expect(counted.status == 0 && counted.stderr.isEmpty, "\(counted.stderr)")
        for line in ["counts,2023-06,records,deny,,1", "counts,2023-12,records,allow,,1", "individuals-given-access,,,allow,,1",
                     "forms-registered,2023-06,detainer,,,1", "archives-counted,,,,entries 1…3 read from archive files,"] {
            #expect(counted.stdout.contains(line), "\(line): \(counted.stdout)")
        }
        #expect(!counted.stdout.contains("not counted"), "\(counted.stdout)")
        let markdown = try await Self.run(["report", "--period", "2023", "--archive", june, "--archive", december] + db)
        #expect(markdown.stdout.contains("Entries 1…3 were read from the log's archive files, which match that tree."), "\(markdown.stdout)")

        // The log, archives included, is verified before anything is counted.
        let unverified = "the log does NOT verify (with --archive, give every archive of the log, oldest first)"
        let refusals: [([String], String)] = [
            (["--archive", december], "seq 1 is missing (the next entry is seq 3)\n"),
            (["--archive", december], unverified),
            (["--archive", december, "--archive", june], "seq 1 is out of order\n"),
            (["--archive", june], "seq 3 is missing (the next entry is seq 4)\n"),
            (["--archive", june, "--archive", december, "--allow-archived"], "give either --archive or --allow-archived, not both"),
        ]
        for (arguments, message) in refusals {
            let refused = try await Self.run(["report", "--period", "2023"] + arguments + db)
            #expect(refused.status != 0 && refused.stdout.isEmpty && refused.stderr.contains(message), "\(arguments): \(refused.stderr)")
        }
        // The June refusal turned into an allow: the archive no longer matches the tree.
        let edited = scratch.url.appendingPathComponent("edited.archive").path
        let text = try String(contentsOfFile: june, encoding: .utf8)
        try text.replacingOccurrences(of: #"\"effect\":\"deny\""#, with: #"\"effect\":\"allow\""#).write(toFile: edited, atomically: true, encoding: .utf8)
        #expect(try String(contentsOfFile: edited, encoding: .utf8) != text)
        let forged = try await Self.run(["report", "--period", "2023", "--archive", edited, "--archive", december] + db)
        #expect(forged.status == 3 && forged.stderr.contains("checkpoint 1 (size 6) does not match the log") && forged.stderr.contains(unverified), "\(forged.stderr)")

        // Another log's archive of the same shape is refused as well.
        let other = try Scratch()
        try await Self.append([Self.decision("d-9", at: "2023-06-15T12:00:00.000Z"), Self.decision("d-10", at: "2023-08-15T12:00:00.000Z")], to: other.db)
        #expect(try await Self.run(["log", "init-key", "--db", other.db]).status == 0)
        let foreign = other.url.appendingPathComponent("foreign.archive").path
        #expect(try await Self.run(["log", "archive", "--log-idle", "--before", "2024-01-01", "--out", foreign, "--db", other.db]).status == 0)
        let mixed = try await Self.run(["report", "--period", "2023", "--archive", foreign] + db)
        #expect(mixed.status == 3 && mixed.stderr.contains("checkpoint 1 (size 6) does not match the log") && mixed.stderr.contains(unverified), "\(mixed.stderr)")
    }

    /// An archived request's outcome, archived with it, is joined to it by the decision id the entry states, which the
    /// tree vouches for, not by the line's column, which it does not (read here without the verification `report`
    /// runs first, which compares the two).
    @Test("an archived request's archived outcome decides whether the report counts it as access given", arguments: [200, 499])
    func archivedOutcomeCounted(status: Int) async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        try await Self.append([
            Self.decision("d-1", at: "2023-06-15T12:00:00.000Z", effect: .allow),
            Self.outcome(status, of: "d-1", at: "2023-06-15T12:00:01.000Z"),
            Self.decision("d-2", at: "2024-03-01T12:00:00.000Z"),
        ], to: scratch.db)
        #expect(try await Self.run(["log", "init-key"] + db).status == 0)
        let june = scratch.url.appendingPathComponent("2023-06.archive").path
        #expect(try await Self.run(["log", "archive", "--log-idle", "--before", "2023-07-01", "--out", june] + db).status == 0)
        let counted = try await Self.run(["report", "--period", "2023", "--format", "csv", "--template", "california-truth", "--archive", june] + db)
        #expect(counted.status == 0 && counted.stdout.contains("counts,2023-06,records,allow,,1"), "\(counted.stdout)\(counted.stderr)")
        #expect(counted.stdout.contains("individuals-given-access,,,allow,,1") == (status == 200), "\(counted.stdout)")

        let edited = scratch.url.appendingPathComponent("edited.archive").path
        let text = try String(contentsOfFile: june, encoding: .utf8)
        try text.replacingOccurrences(of: #""decisionId":"d-1""#, with: #""decisionId":"d-x""#).write(toFile: edited, atomically: true, encoding: .utf8)
        #expect(try String(contentsOfFile: edited, encoding: .utf8) != text)
        let store = try Store.open(path: scratch.db)
        defer { store.close() }
        let year = try #require(ReportPeriod("2023", timeZone: .gmt))
        let requests = try store.reportEntries(period: year, timeZone: .gmt, treeSize: try store.logSize(), archives: [edited]).requests
        #expect(requests.map(\.answered) == [status == 200])
    }

    /// An auditor's pass: rows before the latest checkpoint, edited, were counted, and a new checkpoint was signed
    /// over them, since signing checks only the entries after the last one.
    @Test("a log that does not verify gets no report, and no checkpoint is signed over it", .enabled(if: SystemTool.enabled("sqlite3")))
    func unverifiedLog() async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        try await Self.append([Self.decision("d-1", at: "2026-11-02T12:00:00.000Z"), Self.decision("d-2", at: "2026-11-03T12:00:00.000Z")], to: scratch.db)
        #expect(try await Self.run(["log", "init-key"] + db).status == 0)
        #expect(try await Self.run(["log", "checkpoint"] + db).status == 0)
        try await Self.append([Self.decision("d-3", at: "2026-11-04T12:00:00.000Z")], to: scratch.db)
        // An ICE request made to look like a local one, with the triggers dropped as an attacker with the file would.
        let path = scratch.db
        let edited = try SystemTool.editBehindTriggers(
            path, ["log_is_append_only_update"], "UPDATE log SET entry = replace(entry, 'federal-immigration', 'local-law-enforcement') WHERE seq = 1;"
        )
        #expect(edited.status == 0, "\(edited.stderr)")
        let checkpoints = { () async throws -> UInt64? in
            try await blocking {
                let store = try Store.open(path: path)
                defer { store.close() }
                return try store.latestCheckpoint()?.size
            }
        }
        let before = try await checkpoints()
        let refused = try await Self.run(["report", "--period", "2026", "--format", "csv"] + db)
        #expect(refused.status == 3 && refused.stdout.isEmpty, "\(refused.stdout)")
        #expect(refused.stderr.contains("seq 1 does not match its leaf hash: the entry was edited"), "\(refused.stderr)")
        #expect(refused.stderr.contains("the log does NOT verify (") && refused.stderr.contains("no report was written"), "\(refused.stderr)")
        #expect(try await checkpoints() == before)
        // A verifier key file that does not read stops the report too: it is never a reason to count unverified. (Where
        // the signing key is at hand, its own verifier is read instead of the `.pub`.)
        try FileManager.default.moveItem(
            atPath: scratch.url.appendingPathComponent("log-signing.key").path, toPath: scratch.url.appendingPathComponent("aside.key").path
        )
        try "garbage\n".write(toFile: scratch.url.appendingPathComponent("log-signing.key.pub").path, atomically: true, encoding: .utf8)
        let garbled = try await Self.run(["report", "--period", "2026", "--format", "csv"] + db)
        #expect(garbled.status != 0 && garbled.stdout.isEmpty, "\(garbled.stdout)")
        #expect(garbled.stderr.contains("log-signing.key.pub"), "\(garbled.stderr)")
        #expect(try await checkpoints() == before)
    }

    /// An auditor's pass: the documented export of a quarter read its days in UTC, while the quarter's report counts
    /// in the jurisdiction's zone, so three requests on New Year's Eve evening in Denver were in one and not the other.
    @Test("an export's days start in the recorded time zone, as a report's periods do")
    func exportDaysInTheJurisdictionsZone() async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        try await Self.append([Self.decision("d-1", at: "2027-01-01T06:58:00.000Z")], to: scratch.db)  // 23:58 in Denver
        #expect(try await Self.run(["log", "init-key"] + db).status == 0)
        let report = try await Self.run(["report", "--period", "2026-Q4", "--format", "csv"] + db)
        #expect(report.stdout.contains("counts,2026-12,records,deny,,1"), "\(report.stdout)\(report.stderr)")
        let quarter = try await Self.run(["log", "export", "--format", "csv", "--from", "2026-10-01", "--until", "2027-01-01"] + db)
        #expect(quarter.status == 0 && quarter.stdout.contains("d-1"), "\(quarter.stdout)\(quarter.stderr)")
        let january = try await Self.run(["log", "export", "--format", "csv", "--from", "2027-01-01"] + db)
        #expect(!january.stdout.contains("d-1"), "\(january.stdout)")
    }

    /// An auditor's pass: with the checkpoints deleted and the signing key elsewhere, an edited log was counted, with
    /// a warning on standard error only; and with no key files at all, too.
    @Test("no report without a key to vouch for the log: no checkpoint and no signing key, or no verifier key", .enabled(if: SystemTool.enabled("sqlite3")))
    func nothingVouches() async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        try await Self.append([Self.decision("d-1", at: "2026-11-02T12:00:00.000Z"), Self.decision("d-2", at: "2026-11-03T12:00:00.000Z")], to: scratch.db)
        let noKey = try await Self.run(["report", "--period", "2026", "--format", "csv"] + db)
        #expect(noKey.status == 3 && noKey.stdout.isEmpty && noKey.stderr.contains("nothing vouches for the log's entries"), "\(noKey.stderr)")
        #expect(try await Self.run(["log", "init-key"] + db).status == 0)
        #expect(try await Self.run(["log", "checkpoint"] + db).status == 0)
        let key = scratch.url.appendingPathComponent("log-signing.key").path
        try FileManager.default.moveItem(atPath: key, toPath: key + ".elsewhere")
        let deleted = try SystemTool.editBehindTriggers(scratch.db, ["checkpoints_append_only_delete"], "DELETE FROM checkpoints;")
        #expect(deleted.status == 0, "\(deleted.stderr)")
        // The key's record of the last checkpoint it signed still vouches for the log; cut back below it, the log
        // gets no report (a re-pass: the report ignored that record).
        let recorded = try await Self.run(["report", "--period", "2026", "--format", "csv"] + db)
        #expect(recorded.status == 0 && recorded.stdout.contains("counts,2026-11,records,deny,,2"), "\(recorded.stderr)")
        let copy = scratch.url.appendingPathComponent("copy.sqlite").path
        #expect(try SystemTool.run("sqlite3", [scratch.db, ".backup \(copy)"]).status == 0)
        let cut = try SystemTool.editBehindTriggers(scratch.db, ["log_is_append_only_delete"], "DELETE FROM log WHERE seq > 1;")
        #expect(cut.status == 0, "\(cut.stderr)")
        let truncated = try await Self.run(["report", "--period", "2026", "--format", "csv"] + db)
        #expect(truncated.status == 3 && truncated.stdout.isEmpty && truncated.stderr.contains("the log does NOT verify"), "\(truncated.stdout)")
        try FileManager.default.removeItem(atPath: scratch.db)
        try FileManager.default.moveItem(atPath: copy, toPath: scratch.db)
        try FileManager.default.removeItem(atPath: key + ".last-signed")
        let unsigned = try await Self.run(["report", "--period", "2026", "--format", "csv"] + db)
        #expect(unsigned.status == 3 && unsigned.stdout.isEmpty && unsigned.stderr.contains("no checkpoint is signed yet"), "\(unsigned.stderr)")
        try FileManager.default.moveItem(atPath: key + ".elsewhere", toPath: key)
        #expect(try await Self.run(["log", "checkpoint"] + db).status == 0)
        try FileManager.default.removeItem(atPath: key)
        try FileManager.default.removeItem(atPath: key + ".pub")
        let noVerifier = try await Self.run(["report", "--period", "2026", "--format", "csv"] + db)
        #expect(noVerifier.status == 3 && noVerifier.stdout.isEmpty && noVerifier.stderr.contains("cannot be checked"), "\(noVerifier.stderr)")
    }

    /// An auditor's pass: `log export` migrated an evidence copy (`log verify` had read it as it was), firing a trigger
    /// of the file's own that turned ICE's allowed requests into denials; export and report also appended their own
    /// records to the copy.
    @Test("an evidence copy is read as it is: export and report change nothing; a schema object of its own refuses it", .enabled(if: SystemTool.enabled("sqlite3")))
    func evidenceCopy() async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        try await Self.append([Self.decision("d-1", at: "2026-11-02T12:00:00.000Z", effect: .allow)], to: scratch.db)
        #expect(try await Self.run(["log", "init-key"] + db).status == 0)
        #expect(try await Self.run(["log", "checkpoint"] + db).status == 0)
        let evidence = scratch.url.appendingPathComponent("evidence")
        try FileManager.default.createDirectory(at: evidence, withIntermediateDirectories: true)
        let copy = evidence.appendingPathComponent("log.sqlite").path
        #expect(try SystemTool.run("sqlite3", [scratch.db, ".backup \(copy)"]).status == 0)
        let pub = scratch.url.appendingPathComponent("log-signing.key.pub").path
        try FileManager.default.copyItem(atPath: pub, toPath: evidence.appendingPathComponent("log-signing.key.pub").path)
        let before = try Data(contentsOf: URL(fileURLWithPath: copy))

        let report = try await Self.run(["report", "--period", "2026", "--format", "csv", "--db", copy, "--key", pub])
        #expect(report.status == 0 && report.stdout.contains("counts,2026-11,records,allow,,1"), "\(report.stderr)")
        let trusting = try await Self.run(["report", "--period", "2026", "--format", "csv", "--db", copy])
        #expect(trusting.status == 0 && trusting.stderr.contains("give the key you hold with --key"), "\(trusting.stderr)")
        let exported = try await Self.run(["log", "export", "--format", "csv", "--db", copy])
        #expect(exported.status == 0 && exported.stdout.contains("allow"), "\(exported.stderr)")
        let proof = evidence.appendingPathComponent("d-1.proof.json").path
        let proved = try await Self.run(["log", "prove", "d-1", "--out", proof, "--db", copy])
        #expect(proved.status == 0, "\(proved.stderr)")
        // A review: backup recorded itself in the copy it had opened read-only, and failed after writing the file.
        let backedUp = try await Self.run(["backup", "--out", evidence.appendingPathComponent("copy.backup").path, "--db", copy])
        #expect(backedUp.status == 0 && backedUp.stdout.contains("NOT sealed"), "\(backedUp.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == before, "the copy changed")
        #expect(!FileManager.default.fileExists(atPath: copy + "-wal") && !FileManager.default.fileExists(atPath: copy + "-shm"), "files were made beside the copy")
        // A re-pass: a --key naming no file made the gateway's own store a copy, whose export went unrecorded.
        let size = { () throws -> String in try SystemTool.run("sqlite3", [scratch.db, "SELECT count(*) FROM log"]).stdout }
        let sizeBefore = try size()
        #expect(try await Self.run(["log", "export", "--format", "csv", "--key", evidence.appendingPathComponent("none").path] + db).status == 0)
        #expect(try size() != sizeBefore, "the export of the gateway's own store was not recorded")

        // A trigger of the file's own, on a table a migration writes: every command refuses the file before it runs.
        let hostile = try SystemTool.run("sqlite3", [copy, """
            CREATE TRIGGER grdb_migrations_audit AFTER INSERT ON grdb_migrations BEGIN
            UPDATE log SET entry = replace(entry, '"effect":"allow"', '"effect":"deny"'); END;
            """])
        #expect(hostile.status == 0, "\(hostile.stderr)")
        let altered = try Data(contentsOf: URL(fileURLWithPath: copy))
        for command in [["log", "export", "--format", "csv"], ["log", "verify"], ["report", "--period", "2026", "--key", pub]] {
            let refused = try await Self.run(command + ["--db", copy])
            #expect(refused.status != 0 && refused.stderr.contains("is not a WarrantGate store, or was altered") && refused.stderr.contains("trigger grdb_migrations_audit"), "\(command): \(refused.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == altered, "the copy changed")
        // A re-pass: a trigger written into the schema under a statistics table's name passed as one.
        let hidden = evidence.appendingPathComponent("hidden.sqlite").path
        #expect(try SystemTool.run("sqlite3", [scratch.db, ".backup \(hidden)"]).status == 0)
        let written = try SystemTool.run("sqlite3", [hidden, """
            PRAGMA writable_schema = ON;
            INSERT INTO sqlite_schema VALUES ('trigger', 'sqlite_stat9', 'log', 0,
                'CREATE TRIGGER sqlite_stat9 AFTER INSERT ON log BEGIN UPDATE settings SET value = ''UTC'' WHERE key = ''time-zone''; END');
            """])
        #expect(written.status == 0, "\(written.stderr)")
        let statistics = try await Self.run(["log", "export", "--format", "csv", "--db", hidden])
        #expect(statistics.status != 0 && statistics.stderr.contains("trigger sqlite_stat9"), "\(statistics.stderr)")
    }

    /// An auditor's pass: the report's months began at the midnights of the zone in the settings table, which nothing
    /// signs: set to UTC, December's first hours in Denver were counted in December.
    @Test("a report refuses a recorded zone the log's own record of it contradicts, unless --time-zone names one", .enabled(if: SystemTool.enabled("sqlite3")))
    func zoneFromTheLog() async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        // 2026-12-01T03:00Z is still November 30 in Denver.
        try await Self.append([Self.decision("d-1", at: "2026-12-01T03:00:00.000Z")], to: scratch.db)
        let path = scratch.db
        try await blocking {
            let store = try Store.open(path: path)
            defer { store.close() }
            // Every recording of the zone, the first included, is an admin record in the log.
            try store.registry(timeZone: .gmt).recordTimeZone()
            try store.registry(timeZone: TimeZone(identifier: "America/Denver")!).recordTimeZone()
        }
        #expect(try await Self.run(["log", "init-key"] + db).status == 0)
        let honest = try await Self.run(["report", "--period", "2026-11", "--format", "csv"] + db)
        #expect(honest.status == 0 && honest.stdout.contains("counts,2026-11,records,deny,,1") && honest.stdout.contains("time-zone,,,,America/Denver,"), "\(honest.stderr)")
        let edited = try SystemTool.run("sqlite3", [scratch.db, "UPDATE settings SET value = 'UTC' WHERE key = 'time-zone'"])
        #expect(edited.status == 0, "\(edited.stderr)")
        let refused = try await Self.run(["report", "--period", "2026-12", "--format", "csv"] + db)
        #expect(refused.status == 3 && refused.stdout.isEmpty && refused.stderr.contains("names America/Denver"), "\(refused.stderr)")
        let chosen = try await Self.run(["report", "--period", "2026-12", "--format", "csv", "--time-zone", "UTC"] + db)
        #expect(chosen.status == 0 && chosen.stdout.contains("counts,2026-12,records,deny,,1") && !chosen.stdout.contains("time-zone,,,,America/Denver,"), "\(chosen.stderr)")
        // A privacy pass: a zone other than the log's own moved the period's edges without a word.
        #expect(chosen.stderr.contains("is not the zone the log records (America/Denver)"), "\(chosen.stderr)")
        // Review 249: the period before was reported in Denver's zone; where the two meet, hours count twice or not.
        #expect(chosen.stderr.contains("the log's latest report (2026-11) was computed in America/Denver, this one in GMT"), "\(chosen.stderr)")
        #expect(!honest.stderr.contains("the log's latest report"), "\(honest.stderr)")
        // An export's days are taken as a report's periods are: the edited settings table moved December's first
        // hours into December (the previous stop's review).
        let december = try await Self.run(["log", "export", "--format", "csv", "--from", "2026-12-01"] + db)
        #expect(december.status == 3 && december.stdout.isEmpty && december.stderr.contains("names America/Denver"), "\(december.stderr)")
        let instants = try await Self.run(["log", "export", "--format", "csv", "--from", "2026-12-01T00:00:00Z"] + db)
        #expect(instants.status == 0 && instants.stdout.contains("d-1"), "\(instants.stderr)")
        let named = try await Self.run(["log", "export", "--format", "csv", "--from", "2026-12-01", "--time-zone", "America/Denver"] + db)
        #expect(named.status == 0 && !named.stdout.contains("d-1") && !named.stderr.contains("is not the zone the log records"), "\(named.stderr)")
    }

    /// A review: a gateway records its zone when it starts, on an empty log, so the log held no record of it, and a
    /// copy's edited settings table still moved the months' edges, with a warning only.
    @Test("a copy's months come from the log's record of the zone, or --time-zone; a report records the zone it used", .enabled(if: SystemTool.enabled("sqlite3")))
    func zoneOfACopy() async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        let path = scratch.db
        try await blocking {
            let store = try Store.open(path: path)
            defer { store.close() }
            try store.registry(timeZone: TimeZone(identifier: "America/Denver")!).recordTimeZone()  // as a gateway starts
        }
        try await Self.append([Self.decision("d-1", at: "2026-12-01T03:00:00.000Z")], to: scratch.db)
        #expect(try await Self.run(["log", "init-key"] + db).status == 0)
        #expect(try await Self.run(["log", "checkpoint"] + db).status == 0)
        let pub = scratch.url.appendingPathComponent("log-signing.key.pub").path
        let evidence = scratch.url.appendingPathComponent("evidence")
        try FileManager.default.createDirectory(at: evidence, withIntermediateDirectories: true)
        func copy(_ name: String) throws -> String {
            let copy = evidence.appendingPathComponent(name).path
            #expect(try SystemTool.run("sqlite3", [scratch.db, ".backup \(copy)"]).status == 0)
            return copy
        }
        let early = try copy("early.sqlite")
        let unrecorded = try await Self.run(["report", "--period", "2026-11", "--format", "csv", "--key", pub, "--db", early])
        #expect(unrecorded.status == 3 && unrecorded.stderr.contains("holds no record of the time zone"), "\(unrecorded.stderr)")
        let named = try await Self.run(["report", "--period", "2026-11", "--format", "csv", "--key", pub, "--time-zone", "America/Denver", "--db", early])
        #expect(named.status == 0 && named.stdout.contains("counts,2026-11,records,deny,,1"), "\(named.stderr)")
        // So are an export's days; instants need no zone.
        let days = try await Self.run(["log", "export", "--format", "csv", "--from", "2026-11-01", "--until", "2026-12-01", "--db", early])
        #expect(days.status == 3 && days.stderr.contains("holds no record of the time zone"), "\(days.stderr)")
        let namedDays = try await Self.run(["log", "export", "--format", "csv", "--from", "2026-11-01", "--until", "2026-12-01", "--time-zone", "America/Denver", "--db", early])
        #expect(namedDays.status == 0 && namedDays.stdout.contains("d-1"), "\(namedDays.stderr)")
        let instants = try await Self.run(["log", "export", "--format", "csv", "--from", "2026-11-01T07:00:00Z", "--db", early])
        #expect(instants.status == 0 && instants.stdout.contains("d-1"), "\(instants.stderr)")

        // The gateway's own store reports by its settings, and records the zone it used, for the copies made later.
        let own = try await Self.run(["report", "--period", "2026-11", "--format", "csv"] + db)
        #expect(own.status == 0 && own.stdout.contains("counts,2026-11,records,deny,,1"), "\(own.stderr)")
        #expect(try await Self.run(["log", "checkpoint"] + db).status == 0)
        let later = try copy("later.sqlite")
        let recorded = try await Self.run(["report", "--period", "2026-11", "--format", "csv", "--key", pub, "--db", later])
        #expect(recorded.status == 0 && recorded.stdout.contains("counts,2026-11,records,deny,,1"), "\(recorded.stderr)")
        #expect(try SystemTool.run("sqlite3", [later, "UPDATE settings SET value = 'UTC' WHERE key = 'time-zone'"]).status == 0)
        let edited = try await Self.run(["report", "--period", "2026-12", "--format", "csv", "--key", pub, "--db", later])
        #expect(edited.status == 3 && edited.stderr.contains("names America/Denver"), "\(edited.stderr)")
    }

    @Test("without the signing key, the report says how many entries after the latest signed checkpoint it leaves out")
    func unsignedTail() async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        try await Self.append([Self.decision("d-1", at: "2026-11-02T12:00:00.000Z")], to: scratch.db)
        #expect(try await Self.run(["log", "init-key"] + db).status == 0)
        let signed = try await Self.run(["report", "--period", "2026"] + db)
        #expect(signed.status == 0 && signed.stderr.contains("the first is signed now, over the log as it stands"), "\(signed.stderr)")
        try await Self.append([Self.decision("d-2", at: "2026-11-03T12:00:00.000Z"), Self.decision("d-3", at: "2026-11-04T12:00:00.000Z")], to: scratch.db)
        let key = scratch.url.appendingPathComponent("log-signing.key").path
        try FileManager.default.moveItem(atPath: key, toPath: key + ".elsewhere")

        let path = scratch.db
        let (checkpoint, size) = try await blocking { () -> (UInt64, UInt64) in
            let store = try Store.open(path: path)
            defer { store.close() }
            return (try #require(try store.latestCheckpoint()).size, try store.logSize())
        }
        let unsigned = try await Self.run(["report", "--period", "2026", "--format", "csv"] + db)
        #expect(unsigned.status == 0, "\(unsigned.stderr)")
        #expect(unsigned.stdout.contains("counts,2026-11,records,deny,,1"), "the checkpoint holds one request: \(unsigned.stdout)")
        #expect(
            unsigned.stderr.contains("warning: no log signing key at \(key)")
                && unsigned.stderr.contains("leaves out the \(size - checkpoint) entries after it (seq \(checkpoint + 1)…\(size))"),
            "\(unsigned.stderr)"
        )
    }

    /// A privacy and audit pass: a report said anyone holding the log could reproduce it, but `report` always counted at
    /// a new checkpoint, so a request logged late for a past period changed the figures, and nothing computed them as
    /// published. `--at-checkpoint` computes them at the checkpoint a report states, signing nothing first.
    @Test("a report computed again at the checkpoint it states gives the same figures, whatever the log gained since")
    func reproducedAtItsCheckpoint() async throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        try await Self.append([Self.decision("d-1", at: "2023-06-15T12:00:00.000Z")], to: scratch.db)
        #expect(try await Self.run(["log", "init-key"] + db).status == 0)
        let published = try await Self.run(["report", "--period", "2023", "--format", "csv"] + db)
        #expect(published.status == 0, "\(published.stderr)")
        let line = try #require(published.stdout.components(separatedBy: "\r\n").first { $0.hasPrefix("checkpoint,") })
        let size = try #require(line.components(separatedBy: " size ").last?.split(separator: " ").first.map(String.init))
        #expect(published.stdout.contains("counts,2023-06,records,deny,,1"))

        // A request of 2023 logged since (a late entry, or one restored), and checkpoints signed over it.
        try await Self.append([Self.decision("d-2", at: "2023-07-01T12:00:00.000Z")], to: scratch.db)
        let latest = try await Self.run(["report", "--period", "2023", "--format", "csv"] + db)
        #expect(latest.stdout.contains("counts,2023-07,records,deny,,1"), "\(latest.stdout)")
        let again = try await Self.run(["report", "--period", "2023", "--format", "csv", "--at-checkpoint", size] + db)
        #expect(again.status == 0 && again.stdout == published.stdout, "\(again.stderr)\n\(again.stdout)")
        let unknown = try await Self.run(["report", "--period", "2023", "--at-checkpoint", "999"] + db)
        #expect(unknown.status == 4 && unknown.stderr.contains("no signed checkpoint of 999 entries"), "\(unknown.stderr)")
    }

    /// Runs the CLI to its end, off the tasks' shared threads.
    static func run(_ arguments: [String]) async throws -> CLIProcess.Result {
        try await blocking { try CLIProcess.run(arguments) }
    }

    /// An ICE request for a record, refused (or allowed), opened and committed at `time`.
    static func decision(_ id: String, at time: String, effect: Effect = .deny) -> LogEntry {
        let record = DecisionRecord(
            decisionId: id, time: time, component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=x", agency: "ice-ero",
            category: AgencyCategory.federalImmigration.rawValue, method: "GET", path: "/records/inmates/2017-000123", action: "records.read",
            subject: "2017-000123", warrantReference: nil, effect: effect, reason: effect == .deny ? "warrant_missing" : "permitted",
            rules: [], obligations: [], policy: "denver", policyDigest: "00", status: effect == .deny ? 403 : nil
        )
        return LogEntry(kind: .decision, time: Timestamp.parse(time)!, decisionId: id, canonical: record.canonical)
    }

    /// The outcome of decision `id` at `time`: the upstream's `status` with ten bytes taken, or, for 499, the client
    /// gone before any answer.
    static func outcome(_ status: Int, of id: String, at time: String) -> LogEntry {
        let record = OutcomeRecord(
            decisionId: id, time: time, upstreamStatus: status == 499 ? nil : status, status: status, bytes: status == 499 ? 0 : 10,
            latencyMs: 1, redactedFields: 0, error: status == 499 ? "client closed the connection" : nil
        )
        return LogEntry(kind: .outcome, time: Timestamp.parse(time)!, decisionId: id, canonical: record.canonical)
    }

    /// Appends `entries` to the SQLite store at `path` through the gateway's writer.
    /// …and records Denver's time zone, as the gateway that wrote them would have.
    static func append(_ entries: [LogEntry], to path: String) async throws {
        let store = try Store.open(path: path)
        defer { store.close() }
        try await store.appendThroughDecisionLog(entries)
        try store.registry(timeZone: TimeZone(identifier: "America/Denver")!).recordTimeZone()
    }
}
