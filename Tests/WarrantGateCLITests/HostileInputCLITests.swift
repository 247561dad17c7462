import Foundation
import Testing

/// The admin CLI given what an attacker (or a slip of the keyboard) types: impossible dates, disguised operator
/// names, control characters, records out of order. Each refusal exits 2 (usage) or 3 (refused), never crashes.
@Suite("Admin CLI given hostile input, run as a process", .ownThreads)
struct HostileInputCLITests {
    private static let judicial = ["warrant", "register", "--kind", "judicial-warrant", "--agency", "ice-ero", "--subject", "2017-000123",
                                   "--scope", "records.read", "--court", "D. Colo.", "--judge", "Hon. J.", "--case", "1", "--no-document", "faxed"]

    @Test("dates before 1970, after 9999 or that do not exist are refused; a year-0 row already stored still shows",
          .enabled(if: SystemTool.enabled("sqlite3")))
    func dates() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        for at in ["0000-01-01T00:00:00+14:00", "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "2026-12-31T24:00:00Z", "2026-12-31T23:59:60Z"] {
            let result = try CLIProcess.run(["advisement", "record", "--subject", "B-1", "--by", "Dep", "--language", "es", "--at", at, "--operator", "x"] + db)
            #expect(result.status == 2, "\(at): \(result.stderr)")
        }
        #expect(try CLIProcess.run(["log", "export", "--format", "jsonl", "--from", "0000-01-01", "--out", scratch.url.appendingPathComponent("x.jsonl").path] + db).status == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).allSatisfy { !$0.contains("x.jsonl") }, "nothing is left behind")
        for (index, expires) in ["2026-02-31T12:00:00Z", "2026-02-29T12:00:00Z", "2026-12-31T23:59:60-07:00", "2026-12-31T24:00:00Z", "0000-01-01"].enumerated() {
            let result = try CLIProcess.run(Self.judicial + ["--reference", "R-\(index)", "--expires", expires, "--time-zone", "America/Denver", "--operator", "a"] + db)
            #expect(result.status == 3, "\(expires): \(result.stdout)")
            #expect(result.stderr.contains("1970–9999"))
        }
        let registered = try CLIProcess.run(Self.judicial + ["--reference", "R-9", "--expires", "2026-12-31", "--time-zone", "America/Denver", "--operator", "a"] + db)
        #expect(registered.status == 0, "\(registered.stderr)")
        // A row registered before dates were checked.
        let stored = try SystemTool.run("sqlite3", [scratch.db, "UPDATE documents SET expires = '0000-01-01', expires_at = -62167194000 WHERE reference = 'R-9'"])
        #expect(stored.status == 0, "\(stored.stderr)")
        let shown = try CLIProcess.run(["warrant", "show", "R-9"] + db)
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("expires:     end of 0000-01-01 (0000-01-01T07:00:00.000Z)"), "\(shown.stdout)")
    }

    /// An attacker's pass: a checkpoint row written by hand, of the log's size and root but signed by no key, was what
    /// `log checkpoint` printed for operators to copy off the machine; a decision stored at seq 0 crashed `log prove`.
    @Test("log checkpoint refuses a latest row the log's key did not sign; log prove refuses a decision at seq 0",
          .enabled(if: SystemTool.enabled("sqlite3")))
    func forgedCheckpointAndSeqZero() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        #expect(try CLIProcess.run(["log", "init-key", "--name", "county.example/warrant-gate"] + db).status == 0)
        let registered = try CLIProcess.run(Self.judicial + ["--reference", "R-1", "--expires", "2099-12-31", "--time-zone", "America/Denver", "--operator", "a"] + db)
        #expect(registered.status == 0, "\(registered.stderr)")
        #expect(try CLIProcess.run(["log", "checkpoint"] + db).status == 0)
        // Without the key at hand, that is what is said: not that the row is forged.
        let files = URL(fileURLWithPath: scratch.db).deletingLastPathComponent()
        let aside = scratch.url.appendingPathComponent("aside")
        try FileManager.default.createDirectory(at: aside, withIntermediateDirectories: true)
        for name in ["log-signing.key", "log-signing.key.pub"] {
            try FileManager.default.moveItem(at: files.appendingPathComponent(name), to: aside.appendingPathComponent(name))
        }
        let keyless = try CLIProcess.run(["log", "checkpoint"] + db)
        #expect(keyless.status != 0 && keyless.stderr.contains("no log verifier key") && !keyless.stderr.contains("not signed"), "\(keyless.stderr)")
        for name in ["log-signing.key", "log-signing.key.pub"] {
            try FileManager.default.moveItem(at: aside.appendingPathComponent(name), to: files.appendingPathComponent(name))
        }
        // The latest row again, its signature's last characters changed: the same size and root, no valid signature.
        let forged = try SystemTool.run("sqlite3", [
            scratch.db,
            "INSERT INTO checkpoints (size, root, note, time) SELECT size, root, substr(note, 1, length(note) - 6) || 'AAAA=' || char(10), time FROM checkpoints ORDER BY id DESC LIMIT 1",
        ])
        #expect(forged.status == 0, "\(forged.stderr)")
        let printed = try CLIProcess.run(["log", "checkpoint"] + db)
        #expect(printed.status == 3 && printed.stdout.isEmpty, "\(printed.stdout)")
        #expect(printed.stderr.contains("is not signed by the log's key"), "\(printed.stderr)")
        // Nor is such a store copied: behind the copy's append-only triggers, the row would pass for the site's.
        let copy = scratch.url.appendingPathComponent("copy.sqlite").path
        let migrated = try CLIProcess.run(["store", "migrate", "--from", scratch.db, "--to", copy])
        #expect(migrated.status == 3 && migrated.stderr.contains("the source's log does not verify, so it is not copied"), "\(migrated.stderr)")
        #expect(!FileManager.default.fileExists(atPath: copy))

        let zero = try SystemTool.run("sqlite3", [
            scratch.db, "INSERT INTO log (seq, kind, time, decision_id, entry, leaf_hash) VALUES (0, 'decision', '2026-12-01T00:00:00.000Z', 'd-0', '{}', zeroblob(32))",
        ])
        #expect(zero.status == 0, "\(zero.stderr)")
        let proof = scratch.url.appendingPathComponent("d-0.proof.json").path
        let proved = try CLIProcess.run(["log", "prove", "d-0", "--out", proof] + db)
        #expect(proved.status == 3 && proved.stderr.contains("stored at seq 0, which no entry has"), "\(proved.status): \(proved.stderr)")
    }

    /// A review's pass: the approver of a correction was not told that its scan was another document's.
    @Test("warrant show and approve say what a correction corrects, and how that was revoked",
          .enabled(if: SystemTool.enabled("sqlite3")))
    func correctionShown() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        let scan = scratch.url.appendingPathComponent("JW-1.pdf").path
        try Data("%PDF-1.4 JW-1 signed by the judge".utf8).write(to: URL(fileURLWithPath: scan))
        let register = ["warrant", "register", "--kind", "judicial-warrant", "--agency", "ice-ero", "--subject", "2017-000123", "--scope", "records.read",
                        "--court", "D. Colo.", "--judge", "Hon. J.", "--case", "1", "--expires", "2099-12-31", "--time-zone", "America/Denver",
                        "--document", scan, "--operator", "clerk-a"] + db
        #expect(try CLIProcess.run(register + ["--reference", "JW-1"]).status == 0)
        #expect(try CLIProcess.run(["warrant", "approve", "JW-1", "--operator", "sgt-lee"] + CLIProcess.terms(of: "JW-1", db) + db).status == 0)
        #expect(try SystemTool.run("sqlite3", [scratch.db, #"UPDATE documents SET scope = '["*"]' WHERE reference = 'JW-1'"#]).status == 0)
        let revoked = try CLIProcess.run(["warrant", "revoke", "JW-1", "--misfiled", "--reason", "registered with scope *", "--operator", "clerk-a"] + db)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        let corrected = try CLIProcess.run(register + ["--reference", "JW-1-R", "--corrects", "JW-1"])
        #expect(corrected.status == 0, "\(corrected.stderr)")
        let shown = try CLIProcess.run(["warrant", "show", "JW-1-R"] + db)
        #expect(shown.stdout.contains("corrects:    JW-1, with its scan (revoked as misfiled by clerk-a at "), "\(shown.stdout)")
        let reviewed = try CLIProcess.run(["warrant", "approve", "JW-1-R", "--operator", "sgt-lee"] + db)
        #expect(reviewed.stdout.contains("corrects:    JW-1, with its scan"), "\(reviewed.stdout)")
    }

    @Test("registration needs the recorded time zone, or --time-zone to record one; another zone is refused")
    func timeZone() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db, "--operator", "clerk"]
        let unplaced = try CLIProcess.run(Self.judicial + ["--reference", "JW-1", "--expires", "2026-12-31"] + db)
        #expect(unplaced.status == 3)
        #expect(unplaced.stderr.contains("--time-zone"), "\(unplaced.stderr)")
        #expect(try CLIProcess.run(Self.judicial + ["--reference", "JW-1", "--expires", "2026-12-31", "--time-zone", "Mars/Olympus"] + db).status == 2)
        let recorded = try CLIProcess.run(Self.judicial + ["--reference", "JW-1", "--expires", "2026-12-31", "--time-zone", "America/New_York"] + db)
        #expect(recorded.status == 0, "\(recorded.stderr)")
        #expect(recorded.stdout.contains("it expires at the end of 2026-12-31 America/New_York"))
        let other = try CLIProcess.run(Self.judicial + ["--reference", "JW-2", "--expires", "2026-12-31", "--time-zone", "America/Denver"] + db)
        #expect(other.status == 3)
        #expect(try CLIProcess.run(Self.judicial + ["--reference", "JW-2", "--expires", "2026-12-31"] + db).status == 0)
        let shown = try CLIProcess.run(["warrant", "show", "JW-2"] + db)
        #expect(shown.stdout.contains("(2027-01-01T05:00:00.000Z)"), "\(shown.stdout)")
    }

    @Test("--at on a record needs a time, not in the future, and for a consent or an authorization after the latest record about it")
    func recordTimes() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db, "--operator", "clerk", "--subject", "2017-000456", "--by", "Dep. A. Chen"]
        let now = Date()
        func time(_ offset: TimeInterval) -> String {
            let formatter = ISO8601DateFormatter()
            return formatter.string(from: now.addingTimeInterval(offset))
        }
        #expect(try CLIProcess.run(["consent", "record", "--at", time(-3600)] + db).status == 0)
        let dateOnly = try CLIProcess.run(["consent", "withdraw", "--at", String(time(0).prefix(10))] + db)
        #expect(dateOnly.status == 2)
        #expect(dateOnly.stderr.contains("needs a time of day"))
        let future = try CLIProcess.run(["consent", "withdraw", "--at", time(365 * 86400)] + db)
        #expect(future.status == 3)
        #expect(future.stderr.contains("in the future"))
        let earlier = try CLIProcess.run(["consent", "withdraw", "--at", time(-7200)] + db)
        #expect(earlier.status == 3)
        #expect(earlier.stderr.contains("has a consent record given at"), "\(earlier.stderr)")
        #expect(try CLIProcess.run(["consent", "withdraw"] + db).status == 0)

        // An authorization and its withdrawal: the latest decides, so each comes after the one before.
        #expect(try CLIProcess.run(["authorization", "record", "--fields", "immigrationStatus", "--at", time(-3600)] + db).status == 0)
        let early = try CLIProcess.run(["authorization", "withdraw", "--at", time(-7200)] + db)
        #expect(early.status == 3)
        #expect(early.stderr.contains("has a written-authorization record given at"), "\(early.stderr)")
        #expect(try CLIProcess.run(["authorization", "withdraw", "--at", time(60)] + db).status == 3)
        #expect(try CLIProcess.run(["authorization", "withdraw", "--fields", " , "] + db).status == 2)
        let misspelt = try CLIProcess.run(["authorization", "withdraw", "--fields", "immigrationStatus,Immigration Status"] + db)
        #expect(misspelt.status == 3)
        #expect(misspelt.stderr.contains("no written authorization of 2017-000456 names 'Immigration Status'"), "\(misspelt.stderr)")
        let withdrawn = try CLIProcess.run(["authorization", "withdraw", "--fields", "IMMIGRATIONSTATUS"] + db)
        #expect(withdrawn.status == 0, "\(withdrawn.stderr)")
        #expect(withdrawn.stdout.contains("recorded authorization-withdrawn for 2017-000456"), "\(withdrawn.stdout)")
    }

    @Test("free text and operator names too long to compose are a usage error, whether typed or from the environment")
    func overlongText() throws {
        let scratch = try Scratch()
        let setFact = ["subject", "set-fact", "--subject", "2017-000123", "--name", "conviction", "--db", scratch.db]
        // Alternating combining classes, which made composing (and comparing, as Swift strings) quadratic.
        let marks = { (count: Int) in String(repeating: "\u{0301}\u{0316}", count: count / 2) }
        let name = "the operator name (--operator, $WARRANT_GATE_OPERATOR or the person who ran sudo) holds more than"
        for (arguments, environment, message) in [
            (["--operator", "clerk", "--value", "other-7" + marks(60_000)], [:], "--value holds more than 30 combining marks in a row"),
            (["--operator", "clerk", "--value", "alice" + marks(40)], [:], "--value holds more than 30 combining marks in a row"),
            (["--operator", "clerk", "--value", String(repeating: "a\u{0301}", count: 2100)], [:], "'--value <value>': it holds more than 4096 characters"),
            (["--value", "ok", "--operator", "alice" + marks(60_000)], [:], "--operator holds more than 30 combining marks in a row"),
            (["--value", "ok", "--operator", String(repeating: "a", count: 129)], [:], "\(name) 128 characters"),
            (["--value", "ok"], ["WARRANT_GATE_OPERATOR": "alice" + marks(60_000)], "\(name) 128 characters"),
            (["--value", "ok"], ["WARRANT_GATE_OPERATOR": "", "SUDO_USER": "alice" + marks(40)], "\(name) 30 combining marks in a row"),
        ] {
            let result = try CLIProcess.run(setFact + arguments, environment: environment)
            #expect(result.status == 2, "\(message): \(result.stderr.suffix(300))")
            // By bytes: the message may quote the value, and comparing such text as Swift strings normalises it.
            #expect(result.stderr.utf8.contains(message.utf8), "\(message): \(result.stderr.suffix(300))")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.db), "refused before the database is opened")
    }

    @Test("one operator under another spelling cannot approve; control characters are refused, and old rows print escaped",
          .enabled(if: SystemTool.enabled("sqlite3")))
    func operatorsAndText() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        let register = Self.judicial + ["--expires", "2099-12-31", "--time-zone", "America/Denver", "--operator", "alice"] + db
        #expect(try CLIProcess.run(register + ["--reference", "JW-1"]).status == 0)
        for approver in ["Alice", "alice ", "\u{0430}lice", "alice\u{200B}", "ali\u{0301}ce", " "] {
            let approval = try CLIProcess.run(["warrant", "approve", "JW-1", "--operator", approver] + CLIProcess.terms(of: "JW-1", db) + db)
            #expect(approval.status == 3, "\(approver.debugDescription): \(approval.stderr)")
        }
        let forged = try CLIProcess.run(register + ["--reference", "JW-2", "--court", "D. Colo.\napproved:    2026-12-04T09:00:00.000Z by Sgt. K. Lee"])
        #expect(forged.status == 3)
        #expect(forged.stderr.contains("--court must not hold control or invisible characters"))
        #expect(try CLIProcess.run(["warrant", "revoke", "JW-1", "--operator", "bob", "--reason", "typo\r\u{1B}[2Kquashed"] + db).status == 3)
        // A row stored before such characters were refused prints one line per field, escaped.
        let stored = try SystemTool.run("sqlite3", [scratch.db, "UPDATE documents SET judge = 'Hon. J.' || char(27) || '[2K', court = 'D.' || char(10) || 'approved: by Sgt. K. Lee'"])
        #expect(stored.status == 0, "\(stored.stderr)")
        let shown = try CLIProcess.run(["warrant", "show", "JW-1"] + db)
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("judge:       Hon. J.<U+001B>[2K"))
        #expect(shown.stdout.contains("court:       D.<U+000A>approved: by Sgt. K. Lee"))
        #expect(!shown.stdout.contains("\u{1B}") && !shown.stdout.contains("\napproved:"))
    }
}
