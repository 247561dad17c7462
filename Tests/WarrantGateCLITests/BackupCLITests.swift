import Foundation
import Synchronization
import Testing

@Suite("Backup and restore, run as a process", .ownThreads)
struct BackupCLITests {
    /// A site with a signing key, an approved warrant with its scan, and an advisement: the README's starting point.
    private func site(_ scratch: Scratch) throws -> (db: [String], scan: String) {
        let db = ["--db", scratch.db]
        #expect(try CLIProcess.run(["log", "init-key", "--name", "county.example/warrant-gate"] + db).status == 0)
        let scan = scratch.url.appendingPathComponent("JW-1.pdf").path
        try Data("%PDF-1.4 JW-1 signed by the judge".utf8).write(to: URL(fileURLWithPath: scan))
        let registered = try CLIProcess.run([
            "warrant", "register", "--time-zone", "America/Denver", "--reference", "JW-1", "--kind", "judicial-warrant", "--agency", "ice-ero", "--subject", "2017-000123",
            "--scope", "records.read", "--expires", "2099-12-31", "--court", "D. Colo.", "--judge", "Hon. R. Jackson", "--case", "1:26-mj-1",
            "--document", scan, "--operator", "clerk-a",
        ] + db)
        #expect(registered.status == 0, "\(registered.stderr)")
        #expect(try CLIProcess.run(["warrant", "approve", "JW-1", "--operator", "sgt-lee"] + CLIProcess.terms(of: "JW-1", db) + db).status == 0)
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz"] + db).status == 0)
        return (db, scan)
    }

    /// `log checkpoint`, saved to `name` as the operator copies it off the machine.
    private func copyCheckpointOff(_ scratch: Scratch, _ db: [String], to name: String) throws -> String {
        let printed = try CLIProcess.run(["log", "checkpoint"] + db)
        #expect(printed.status == 0, "\(printed.stderr)")
        let path = scratch.url.appendingPathComponent(name).path
        try Data(printed.stdout.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// An auditor verifies a copy of the database, perhaps of an earlier release: `log verify` used to open it for
    /// writing and migrate it, changing the evidence it checked.
    @Test("log verify reads an evidence copy without migrating or writing it")
    func verifyLeavesTheCopyAlone() throws {
        let scratch = try Scratch()
        let (db, _) = try site(scratch)
        _ = try copyCheckpointOff(scratch, db, to: "checkpoint.txt")
        let evidence = scratch.url.appendingPathComponent("evidence/wg.sqlite")
        try FileManager.default.createDirectory(at: evidence.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: scratch.db, toPath: evidence.path)
        // As an earlier release left it: its latest two migrations not applied. v8's guard on agency updates is put
        // back as v6 made it, and its rename guard after it: the store compares a schema with its migrations' by text.
        let guardSQL = try SystemTool.run("/usr/bin/sqlite3", [evidence.path, "SELECT sql || ';' FROM sqlite_master WHERE name = 'agencies_by_request_update'"])
        let renameSQL = try SystemTool.run("/usr/bin/sqlite3", [evidence.path, "SELECT sql || ';' FROM sqlite_master WHERE name = 'agencies_id_kept'"])
        #expect(guardSQL.stdout.contains(", extends_listed") && renameSQL.stdout.contains("CREATE TRIGGER"))
        let undone = try SystemTool.run("/usr/bin/sqlite3", [evidence.path, """
            DROP TRIGGER agencies_by_request_update; DROP TRIGGER agencies_id_kept; DROP TRIGGER agencies_extension_kept;
            ALTER TABLE agencies DROP COLUMN extends_listed;
            \(guardSQL.stdout.replacingOccurrences(of: ", extends_listed", with: "")) \(renameSQL.stdout)
            DELETE FROM grdb_migrations WHERE identifier = 'v8: agencies record whether they extend a listed one';
            ALTER TABLE documents DROP COLUMN identity_sha256; DELETE FROM grdb_migrations WHERE identifier = 'v7: documents record their identity';
            """])
        #expect(undone.status == 0, "\(undone.stderr)")
        let before = try Data(contentsOf: evidence)
        let pub = scratch.url.appendingPathComponent("log-signing.key.pub").path
        let verified = try CLIProcess.run(["log", "verify", "--db", evidence.path, "--key", pub])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(try Data(contentsOf: evidence) == before, "the copy changed")
        // Written to by this release, the copy is migrated: v7 and v8 are applied again.
        #expect(try CLIProcess.run(["agency", "list", "--db", evidence.path]).status == 0)
        let migrated = try SystemTool.run("/usr/bin/sqlite3", [evidence.path, "SELECT count(*) FROM pragma_table_info('agencies') WHERE name = 'extends_listed'"])
        #expect(migrated.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(migrated.stdout)\(migrated.stderr)")
    }

    @Test("the README's restore drill: checkpoint off the machine, back up, restore on a scratch path, verify, list")
    func drill() throws {
        let scratch = try Scratch()
        let (db, scan) = try site(scratch)
        let pub = scratch.url.appendingPathComponent("log-signing.key.pub").path
        let offsite = try copyCheckpointOff(scratch, db, to: "checkpoint-2026-12-01.txt")
        let backup = scratch.url.appendingPathComponent("wg-2026-12-01.backup").path
        let backedUp = try CLIProcess.run(["backup", "--out", backup] + db)
        #expect(backedUp.status == 0, "\(backedUp.stderr)")
        #expect(backedUp.stdout.contains("1 documents"))
        #expect(backedUp.stdout.contains("not included: the log signing key"))
        #expect(backedUp.stdout.contains("sealed with the log signing key county.example/warrant-gate"))
        #expect((try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? Int) == 0o600)

        let drill = scratch.url.appendingPathComponent("drill/wg.sqlite").path
        let restored = try CLIProcess.run(["restore", backup, "--against", offsite, "--db", drill, "--key", pub, "--operator", "it-admin"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("consistent with the checkpoint held off the machine"))
        #expect(restored.stdout.contains("recorded in the restored log as store.restore by it-admin"))
        #expect(restored.stdout.contains("sealed: the key vouches for all"))
        let verified = try CLIProcess.run(["log", "verify", "--db", drill, "--key", pub, "--against", offsite])
        #expect(verified.status == 0, "\(verified.stderr)")
        let listed = try CLIProcess.run(["warrant", "list", "--db", drill])
        #expect(listed.stdout.contains("JW-1") && listed.stdout.contains("active"))
        #expect(try CLIProcess.run(["warrant", "verify-document", "JW-1", scan, "--db", drill]).status == 0, "the scan came back with the backup")

        // The same backup against a checkpoint published after it is a rollback: refused, then allowed with a reason.
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000456", "--language", "en", "--by", "Dep. Ortiz"] + db).status == 0)
        let latest = try copyCheckpointOff(scratch, db, to: "checkpoint-latest.txt")
        let second = scratch.url.appendingPathComponent("drill2/wg.sqlite").path
        let refused = try CLIProcess.run(["restore", backup, "--against", latest, "--db", second, "--key", pub])
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("would roll the log back by"))
        #expect(!FileManager.default.fileExists(atPath: second))
        let allowed = try CLIProcess.run(["restore", backup, "--against", latest, "--db", second, "--key", pub, "--allow-rollback", "drill: disk lost"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stderr.contains("WARNING: ROLLBACK"))
        try FileManager.default.copyItem(atPath: pub, toPath: scratch.url.appendingPathComponent("drill2/log-signing.key.pub").path)
        let bundle = try CLIProcess.run(["log", "export", "--format", "bundle", "--db", second])
        #expect(bundle.status == 0 && bundle.stdout.contains("store.restore-rollback") && bundle.stdout.contains("drill: disk lost"))

        // For real: the database is replaced only with --replace, and the old one is kept aside.
        let over = try CLIProcess.run(["restore", backup, "--against", offsite] + db)
        #expect(over.status == 3)
        #expect(over.stderr.contains("a database is already at"))
        let replaced = try CLIProcess.run(["restore", backup, "--against", latest, "--replace", "--allow-rollback", "rehearsal"] + db)
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(replaced.stdout.contains("the database that was there is now \(scratch.db).before-restore-"))
    }

    /// Whether a mount namespace with a filesystem of its own can be made here (root, `unshare`): for the free-space
    /// floor, which needs a filesystem nearly full.
    static let canMountTmpfs: Bool = {
        guard getuid() == 0, let scratch = try? Scratch() else { return false }
        return (try? CLIProcess.run(URL(fileURLWithPath: "/usr/bin/unshare"), ["-m", "/bin/sh", "-c", "mount -t tmpfs -o size=1m tmpfs '\(scratch.url.path)'"]))?.status == 0
    }()

    /// Restore keeps the free-space floor every copy the CLI writes keeps (5 % of the filesystem, at least 256 MiB): a
    /// handed-over file of any size would otherwise fill the filesystem, which may be the live store's.
    @Test("a restore onto a filesystem with less free than the floor is refused, and leaves nothing there", .enabled(if: canMountTmpfs))
    func restoreKeepsTheFloor() throws {
        let scratch = try Scratch()
        let (db, _) = try site(scratch)
        let pub = scratch.url.appendingPathComponent("log-signing.key.pub").path
        let offsite = try copyCheckpointOff(scratch, db, to: "checkpoint.txt")
        let backup = scratch.url.appendingPathComponent("wg.backup").path
        #expect(try CLIProcess.run(["backup", "--out", backup] + db).status == 0)
        // A 64 MiB filesystem, mounted in a namespace of the restore's own: what is left on it is listed before it goes.
        let small = scratch.url.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: small, withIntermediateDirectories: true)
        let restore = [CLIProcess.executable.path, "restore", backup, "--against", offsite, "--db", small.path + "/drill/wg.sqlite", "--key", pub]
        let quoted = restore.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let script = "mount -t tmpfs -o size=64m tmpfs '\(small.path)' || exit 99; \(quoted); status=$?; echo LEFT; find '\(small.path)' -type f; exit $status"
        let refused = try CLIProcess.run(URL(fileURLWithPath: "/usr/bin/unshare"), ["-m", "/bin/sh", "-c", script])
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("MiB"), "\(refused.stderr)")
        let left = refused.stdout.components(separatedBy: "LEFT\n").last ?? "?"
        #expect(left.isEmpty, "left on the filesystem: \(left)")
    }

    /// An auditor's pass: with the database lost and the key's directory kept, a backup older than the key's last
    /// checkpoint restored without a word (`--no-offsite-checkpoint`), and every signing was then refused.
    @Test("a backup lacking the key's last signed checkpoint is a rollback: refused, then restored with a reason, and signing goes on")
    func lastSignedRollback() throws {
        let scratch = try Scratch()
        let (db, _) = try site(scratch)
        let backup = scratch.url.appendingPathComponent("wg.backup").path
        #expect(try CLIProcess.run(["backup", "--out", backup] + db).status == 0)
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000456", "--language", "en", "--by", "Dep. Ortiz"] + db).status == 0)
        #expect(try CLIProcess.run(["log", "checkpoint"] + db).status == 0)
        #expect(FileManager.default.fileExists(atPath: scratch.url.appendingPathComponent("log-signing.key.last-signed").path))
        // The disk holding the database is lost; the key's directory is not.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: scratch.db + suffix) }

        let refused = try CLIProcess.run(["restore", backup, "--no-offsite-checkpoint"] + db)
        #expect(refused.status == 3, "\(refused.stdout)")
        #expect(refused.stderr.contains("the log signing key last signed a checkpoint of") && refused.stderr.contains("--allow-rollback"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.db))

        let allowed = try CLIProcess.run(["restore", backup, "--no-offsite-checkpoint", "--allow-rollback", "disk lost"] + db)
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stderr.contains("WARNING: ROLLBACK") && allowed.stderr.contains("the log signing key last signed"), "\(allowed.stderr)")
        #expect(allowed.stdout.contains("now records the restored log's checkpoint"), "\(allowed.stdout)")
        let signed = try CLIProcess.run(["log", "checkpoint"] + db)
        #expect(signed.status == 0, "\(signed.stderr)")
        #expect(try CLIProcess.run(["log", "verify"] + db).status == 0)
    }

    /// A pass over PostgreSQL: after pg_restore of an older backup, every signer refused for good, and the way out
    /// the message named (`restore --allow-rollback`) restores SQLite only. The same, with a SQLite file put back.
    @Test("log checkpoint --after-restore signs on from a deliberately restored log's latest checkpoint, recorded in the log")
    func afterRestore() throws {
        let scratch = try Scratch()
        let (db, _) = try site(scratch)
        #expect(try CLIProcess.run(["log", "checkpoint"] + db).status == 0)
        let saved = scratch.url.appendingPathComponent("older.sqlite").path
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: scratch.db + suffix) {
            try FileManager.default.copyItem(atPath: scratch.db + suffix, toPath: saved + suffix)
        }
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000456", "--language", "en", "--by", "Dep. Ortiz"] + db).status == 0)
        #expect(try CLIProcess.run(["log", "checkpoint"] + db).status == 0)
        // The older database is put back behind the CLI's back, as pg_restore would.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: scratch.db + suffix) }
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: saved + suffix) {
            try FileManager.default.copyItem(atPath: saved + suffix, toPath: scratch.db + suffix)
        }
        // The gateways serve on, and the log grows again from the restored state.
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "en", "--by", "Dep. Ortiz"] + db).status == 0)

        let refused = try CLIProcess.run(["log", "checkpoint"] + db)
        #expect(refused.status == 3 && refused.stderr.contains("--after-restore"), "\(refused.stderr)")
        #expect(try CLIProcess.run(["log", "checkpoint", "--after-restore", " "] + db).status == 2)
        let restored = try CLIProcess.run(["log", "checkpoint", "--after-restore", "drill: pg_restore of last week"] + db)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stderr.contains("now records the restored log's checkpoint") && restored.stderr.contains("log.signer-restored"), "\(restored.stderr)")
        let verified = try CLIProcess.run(["log", "verify"] + db)
        #expect(verified.status == 0 && verified.stdout.contains("ROLLBACKS: the log records 1 deliberate rollbacks (log.signer-restored at seq"), "\(verified.stdout)")
        let bundle = try CLIProcess.run(["log", "export", "--format", "bundle"] + db)
        #expect(bundle.stdout.contains("log.signer-restored") && bundle.stdout.contains("drill: pg_restore of last week"))
    }

    /// The attacker's F2 on a bundle: a made-up approval appended after the last checkpoint verified "ok"; F11: the ok
    /// line did not say which key it trusted; F10: a proof was read whole, through a link, with no limit.
    @Test("log verify --bundle fails on entries after its last signed checkpoint and names the key; verify-proof reads a bounded regular file")
    func bundleTailAndProofFile() throws {
        let scratch = try Scratch()
        let (db, _) = try site(scratch)
        let bundle = scratch.url.appendingPathComponent("audit.bundle").path
        #expect(try CLIProcess.run(["log", "export", "--format", "bundle", "--out", bundle] + db).status == 0)
        let pub = scratch.url.appendingPathComponent("log-signing.key.pub").path
        let publishedKey = try String(contentsOfFile: pub, encoding: .utf8).trimmingCharacters(in: .newlines)

        // Its own key is no proof of whose log it is: trusted only when asked, for a check of self-consistency.
        let keyless = try CLIProcess.run(["log", "verify", "--bundle", bundle])
        #expect(keyless.status == 2 && keyless.stderr.contains("a forger can replace along with the log"), "\(keyless.stderr)")
        let whole = try CLIProcess.run(["log", "verify", "--bundle", bundle, "--trust-bundle-key"])
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(whole.stdout.contains("key: \(publishedKey) (the bundle's own key"))
        #expect(!whole.stdout.contains("UNSIGNED"))

        let lines = try String(contentsOfFile: bundle, encoding: .utf8).split(separator: "\n")
        let next = lines.count  // the header, then one line per entry
        let forged = #"{"decisionId":null,"entry":"{\"time\":\"2026-12-01T10:00:00.000Z\",\"component\":\"admin-cli\",\"operator\":\"sgt-lee\",\"action\":\"warrant.approve\",\"target\":\"JW-77\",\"details\":{}}","kind":"admin","seq":"#
            + "\(next)" + #","time":"2026-12-01T10:00:00.000Z"}"#
        try (lines.joined(separator: "\n") + "\n" + forged + "\n").write(toFile: bundle, atomically: true, encoding: .utf8)
        let tail = try CLIProcess.run(["log", "verify", "--bundle", bundle, "--key", pub])
        #expect(tail.status == 3)
        #expect(tail.stderr.contains("entries \(next)…\(next) are covered by no signed checkpoint"), "\(tail.stderr)")
        let allowed = try CLIProcess.run(["log", "verify", "--bundle", bundle, "--key", pub, "--allow-unsigned-tail"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stdout.contains("UNSIGNED: entries \(next)…\(next)"))
        #expect(allowed.stdout.contains("key: \(publishedKey) (--key)"))

        let huge = scratch.url.appendingPathComponent("huge.proof").path
        #expect(FileManager.default.createFile(atPath: huge, contents: Data(repeating: 0x20, count: 2 << 20)))
        let tooLarge = try CLIProcess.run(["log", "verify-proof", huge, "--key", pub])
        #expect(tooLarge.status == 3 && tooLarge.stderr.contains("is larger than"), "\(tooLarge.stderr)")
        let link = scratch.url.appendingPathComponent("link.proof").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: huge)
        #expect(try CLIProcess.run(["log", "verify-proof", link, "--key", pub]).status == 3)
    }

    /// An attacker's pass on auditors' inputs: a genuine bundle with invalid UTF-8 appended verified (the bytes were
    /// read as U+FFFD); a malformed line exited 1, as a tool error; and a bundle of millions of junk lines kept and
    /// printed every problem (738 MB for 3 million lines).
    @Test("a bundle line that is not UTF-8 or not an entry does not verify; problems past the first hundred are counted")
    func hostileBundleLines() throws {
        let scratch = try Scratch()
        let (db, _) = try site(scratch)
        let bundle = scratch.url.appendingPathComponent("audit.bundle").path
        #expect(try CLIProcess.run(["log", "export", "--format", "bundle", "--out", bundle] + db).status == 0)
        let pub = scratch.url.appendingPathComponent("log-signing.key.pub").path
        let genuine = try Data(contentsOf: URL(fileURLWithPath: bundle))
        for (label, appended) in [("not UTF-8", Data([0xff, 0xfe, 0xc0, 0xa2, 0x0a])), ("not a log entry", Data(#"{"seq":1e400}"#.utf8 + [0x0a]))] {
            try (genuine + appended).write(to: URL(fileURLWithPath: bundle))
            let result = try CLIProcess.run(["log", "verify", "--bundle", bundle, "--key", pub])
            #expect(result.status == 3, "\(label): \(result.stderr)")
            #expect(result.stderr.contains("is \(label)"), "\(label): \(result.stderr)")
        }
        let header = genuine.prefix(through: genuine.firstIndex(of: 0x0a)!)
        try (header + Data(String(repeating: #"{"seq":1,"kind":"x","time":"t","entry":"e"}"#  + "\n", count: 500).utf8))
            .write(to: URL(fileURLWithPath: bundle))
        let junk = try CLIProcess.run(["log", "verify", "--bundle", bundle, "--key", pub])
        #expect(junk.status == 3)
        // The first hundred problems, one a line, then the count of the rest.
        #expect(junk.stderr.split(separator: "\n").count < 110, "\(junk.stderr.prefix(300))")
        #expect(junk.stderr.contains("more problems"), "\(junk.stderr.suffix(300))")
    }

    @Test("a backup while the demo gateway serves; a restore over its database is refused while it runs, and works once it stops")
    func liveGateway() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "curl is needed: .ci/run installs it")
        let scratch = try Scratch()
        let dataDir = scratch.url.appendingPathComponent("demo").path
        let db = ["--db", "\(dataDir)/warrant-gate.sqlite"]
        let demo = try DemoProcess(dataDir: dataDir)
        let port = try demo.port()
        let request = ["-s", "--max-time", "10", "--cacert", "\(dataDir)/certs/ca.pem", "--cert", "\(dataDir)/certs/denver-pd.pem",
                       "--key", "\(dataDir)/certs/denver-pd.key", "https://localhost:\(port)/records/inmates/2017-000456"]
        #expect(try Curl.run(request).output.contains("Daniel Okafor"))
        let offsite = try copyCheckpointOff(scratch, db, to: "checkpoint.txt")

        // Agencies keep asking while the backup is made.
        let stop = Mutex(false), answered = Mutex(0)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            while !stop.withLock({ $0 }) {
                if (try? Curl.run(request).output.contains("Daniel Okafor")) == true { answered.withLock { $0 += 1 } }
            }
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.3)
        let backup = scratch.url.appendingPathComponent("live.backup").path
        let backedUp = try CLIProcess.run(["backup", "--out", backup] + db)
        Thread.sleep(forTimeInterval: 0.3)
        stop.withLock { $0 = true }
        done.wait()
        #expect(backedUp.status == 0, "\(backedUp.stderr)")
        #expect(answered.withLock { $0 } > 0)

        let inUse = try CLIProcess.run(["restore", backup, "--against", offsite, "--replace"] + db)
        #expect(inUse.status == 3)
        #expect(inUse.stderr.contains("is in use (is the gateway running?): stop it first"))
        #expect(demo.terminate() == 0)

        // The gateway went on logging (and signed a last checkpoint as it stopped): the backup is older than the log
        // it would replace, a rollback that takes a reason.
        let rollback = try CLIProcess.run(["restore", backup, "--against", offsite, "--replace"] + db)
        #expect(rollback.status == 3 && rollback.stderr.contains("the database it would replace holds"), "\(rollback.stderr)")
        let restored = try CLIProcess.run(["restore", backup, "--against", offsite, "--replace", "--allow-rollback", "drill"] + db)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("consistent with the checkpoint held off the machine"))
        #expect(try CLIProcess.run(["log", "verify", "--against", offsite] + db).status == 0)
        let again = try DemoProcess(dataDir: dataDir)
        let restartedPort = try again.port()
        var restarted = request
        restarted[restarted.count - 1] = "https://localhost:\(restartedPort)/records/inmates/2017-000456"
        #expect(try Curl.run(restarted).output.contains("Daniel Okafor"), "the gateway serves on the restored database")
        #expect(again.terminate() == 0)
    }

    @Test("exit codes: usage 2, refused 3, not found 4; PostgreSQL is pointed to pg_dump")
    func refusals() throws {
        let scratch = try Scratch()
        let (db, _) = try site(scratch)
        let backup = scratch.url.appendingPathComponent("site.backup").path
        #expect(try CLIProcess.run(["backup", "--out", backup] + db).status == 0)

        let again = try CLIProcess.run(["backup", "--out", backup] + db)
        #expect(again.status == 3)
        #expect(again.stderr.contains("already exists"))
        let postgres = try CLIProcess.run(["backup", "--out", scratch.url.appendingPathComponent("pg.backup").path, "--db", "postgres://wg@127.0.0.1:1/wg"])
        #expect(postgres.status == 3)
        #expect(postgres.stderr.contains("pg_dump or pg_basebackup"))

        let target = ["--db", scratch.url.appendingPathComponent("restored/wg.sqlite").path]
        #expect(try CLIProcess.run(["restore", backup] + target).status == 2)
        #expect(try CLIProcess.run(["restore", backup, "--no-offsite-checkpoint", "--allow-rollback", "x"] + target).status == 2)
        let missing = try CLIProcess.run(["restore", scratch.url.appendingPathComponent("nothing.backup").path, "--no-offsite-checkpoint",
                                          "--key", scratch.url.appendingPathComponent("log-signing.key.pub").path] + target)
        #expect(missing.status == 4)
        let noKey = try CLIProcess.run(["restore", backup, "--no-offsite-checkpoint"] + target)
        #expect(noKey.status == 4)
        #expect(noKey.stderr.contains("restore the key files"))

        let unchecked = try CLIProcess.run(["restore", backup, "--no-offsite-checkpoint", "--key",
                                            scratch.url.appendingPathComponent("log-signing.key.pub").path] + target)
        #expect(unchecked.status == 0, "\(unchecked.stderr)")
        #expect(unchecked.stderr.contains("a rollback goes unnoticed"))
        #expect(unchecked.stdout.contains("checked against its own checkpoints only"))
    }
}
