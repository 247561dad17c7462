import Foundation
import Testing
import WarrantGateDevPKI
import WarrantGateStore

/// Run as `sudo -u warrant-gate warrant-gate …`, the CLI records the person who ran sudo, not the service account, so
/// that the two-person rule still sees two people; and it lends that account's powers to no other operator name and
/// to no gateway of the operator's own.
@Suite("The operator under sudo", .ownThreads)
struct SudoOperatorCLITests {
    /// As sudo leaves the environment: SUDO_USER and SUDO_UID (another account's) set, USER and LOGNAME the target
    /// account's.
    static func run(_ arguments: [String], sudoUser: String, operatorVariable: String = "") throws -> CLIProcess.Result {
        try SystemTool.run(CLIProcess.executable.path, arguments, environment: [
            "SUDO_USER": sudoUser, "SUDO_UID": String(getuid() + 1), "USER": "warrant-gate", "LOGNAME": "warrant-gate",
            "WARRANT_GATE_OPERATOR": operatorVariable,
        ])
    }

    @Test("$SUDO_USER is the operator; --operator and $WARRANT_GATE_OPERATOR may only repeat it")
    func sudoUser() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        let registered = try Self.run(["warrant", "register", "--time-zone", "America/Denver", "--reference", "JW-SUDO", "--kind", "judicial-warrant", "--agency", "ice-ero",
                                       "--subject", "2017-000123", "--scope", "records.read", "--expires", "2099-12-31", "--court", "D. Colo.",
                                       "--judge", "Hon. R. Jackson", "--case", "1:26-mj-7", "--no-document", "faxed", "--operator", "alice"] + db, sudoUser: "alice")
        #expect(registered.status == 0, "\(registered.stderr)")

        let selfApproval = try Self.run(["warrant", "approve", "JW-SUDO"] + CLIProcess.terms(of: "JW-SUDO", db) + db, sudoUser: "alice")
        #expect(selfApproval.status == 3)
        #expect(selfApproval.stderr.contains("two-person rule"), "\(selfApproval.stderr)")

        // One person may not approve as another: the rule compares names.
        for (option, variable) in [(["--operator", "sgt-lee"], ""), ([], "sgt-lee")] {
            let impersonated = try Self.run(["warrant", "approve", "JW-SUDO"] + CLIProcess.terms(of: "JW-SUDO", db) + option + db, sudoUser: "alice", operatorVariable: variable)
            #expect(impersonated.status == 2, "\(impersonated.stderr)")
            #expect(impersonated.stderr.contains("run through sudo by alice, the operator is alice"), "\(impersonated.stderr)")
        }
        let approved = try Self.run(["warrant", "approve", "JW-SUDO"] + CLIProcess.terms(of: "JW-SUDO", db) + db, sudoUser: "sgt-lee")
        #expect(approved.status == 0, "\(approved.stderr)")
        let revoked = try Self.run(["warrant", "revoke", "JW-SUDO", "--reason", "quashed"] + db, sudoUser: "clerk-b")
        #expect(revoked.status == 0, "\(revoked.stderr)")

        let shown = try Self.run(["warrant", "show", "JW-SUDO"] + db, sudoUser: "bob").stdout
        #expect(shown.contains("by alice (two-person rule on)"), "\(shown)")
        #expect(shown.contains("approved:") && shown.contains("by sgt-lee"), "\(shown)")
        #expect(shown.contains("revoke") && shown.contains("by clerk-b"), "\(shown)")
        #expect(!shown.contains("by warrant-gate"), "\(shown)")
    }

    /// A path the operator can change between the CLI's check and its use (swap a link, rename a directory) would let
    /// the check see one store and the restore or the signing key reach another.
    @Test("run through sudo, --db and --key may not pass through a symbolic link or a directory the operator could change")
    func trustedPaths() throws {
        let scratch = try Scratch()
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz", "--db", scratch.db]).status == 0)
        let link = scratch.url.appendingPathComponent("link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: scratch.url.path)
        let viaLink = link + "/" + URL(fileURLWithPath: scratch.db).lastPathComponent
        for arguments in [["warrant", "list", "--db", viaLink], ["log", "checkpoint", "--db", scratch.db, "--key", link + "/log-signing.key"]] {
            let refused = try Self.run(arguments, sudoUser: "alice")
            #expect(refused.status == 3 && refused.stderr.contains("a symbolic link"), "\(arguments): \(refused.stderr)")
        }
        #expect(try Self.run(["warrant", "list", "--db", scratch.db], sudoUser: "alice").status == 0)
        // A part still to be made, in a directory every account may write to: the operator could make it first.
        let unmade = FileManager.default.temporaryDirectory.appendingPathComponent("wg-unmade-\(UUID().uuidString)/x.sqlite").path
        var shared = stat()
        if stat(FileManager.default.temporaryDirectory.path, &shared) == 0, shared.st_mode & 0o022 != 0 {
            let refused = try Self.run(["warrant", "list", "--db", unmade], sudoUser: "alice")
            #expect(refused.status == 3 && refused.stderr.contains("which does not exist yet in a directory others may write to"), "\(refused.stderr)")
        }
        if geteuid() == 0 {
            let operatorOwned = scratch.url.appendingPathComponent("op")
            try FileManager.default.createDirectory(at: operatorOwned, withIntermediateDirectories: true)
            #expect(chown(operatorOwned.path, 65534, 65534) == 0)
            let refused = try Self.run(["warrant", "list", "--db", operatorOwned.appendingPathComponent("x.sqlite").path], sudoUser: "alice")
            #expect(refused.status == 3 && refused.stderr.contains("a directory of another account"), "\(refused.stderr)")
        }
    }

    /// An attacker's pass over the Debian package: `forward syslog --state` in a directory of the operator's, swapped
    /// for a link to the state directory between two saves, renamed the cursor over the signing key or the database;
    /// and `log archive` to a file of the operator's, with a retention of one day, let one person delete the log.
    @Test("run through sudo, forward's cursor and log archive's output are kept from the operator's directories")
    func cursorAndArchive() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz"] + db).status == 0)
        let link = scratch.url.appendingPathComponent("link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: scratch.url.path)
        let forward = ["forward", "syslog", "--to", "127.0.0.1:9", "--once"] + db
        let refusals: [([String], String)] = [
            (forward + ["--state", scratch.url.appendingPathComponent("log-signing.key").path], "--state must name a file ending in .cursor"),
            (forward + ["--state", link + "/siem.cursor"], "--state may not pass through \(link), a symbolic link"),
            (["log", "archive", "--before", "2020-01-01", "--out", scratch.url.appendingPathComponent("a.archive").path, "--retention-days", "1"] + db,
             "--retention-days may not be below 365"),
            (["log", "archive", "--before", "2020-01-01", "--out", link + "/a.archive"] + db, "--out may not pass through \(link), a symbolic link"),
            (["log", "archive", "--log-idle", "--before", "2020-01-01", "--out", "/var/lib/warrant-gate/a.archive"] + db, "--log-idle is refused"),
        ]
        for (arguments, message) in refusals {
            let refused = try Self.run(arguments, sudoUser: "alice")
            #expect(refused.status == 3 && refused.stderr.contains(message), "\(arguments): \(refused.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.url.appendingPathComponent("a.archive").path))
        // A cursor with a second name (a hard link to another file) is not replaced through it.
        let other = scratch.url.appendingPathComponent("other").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: other))
        #expect(Glibc.link(other, scratch.url.appendingPathComponent("linked.cursor").path) == 0)
        let linked = try Self.run(forward + ["--state", scratch.url.appendingPathComponent("linked.cursor").path], sudoUser: "alice")
        #expect(linked.status == 3 && linked.stderr.contains("(a hard link)"), "\(linked.stderr)")
        // A receiver's host names the default cursor file: no '/' in it.
        let slashed = try CLIProcess.run(["forward", "syslog", "--to", "x/../../y:514", "--once"] + db)
        #expect(slashed.status == 2 && slashed.stderr.contains("does not name a host"), "\(slashed.stderr)")
        // Without sudo, the operator's own files are theirs to place.
        let own = try CLIProcess.run(["log", "archive", "--before", "2020-01-01", "--out", link + "/a.archive", "--retention-days", "1"] + db)
        #expect(!own.stderr.contains("may not"), "\(own.stderr)")
    }

    /// A review: only `log archive` checked the directories of its `--out`; through a directory link of the operator's,
    /// the service account's exports, reports, proofs and backups were written wherever that account may write.
    @Test("run through sudo, every --out is kept from paths the operator could redirect")
    func outputsAreTrusted() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz"] + db).status == 0)
        let link = scratch.url.appendingPathComponent("link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: scratch.url.path)
        for arguments in [
            ["log", "export", "--format", "csv", "--out", link + "/q4.csv"], ["report", "--period", "2026-Q4", "--format", "csv", "--out", link + "/q4.csv"],
            ["log", "prove", "d-1", "--out", link + "/d.proof.json"], ["backup", "--out", link + "/wg.backup"],
        ] {
            let refused = try Self.run(arguments + db, sudoUser: "alice")
            #expect(refused.status == 3 && refused.stderr.contains("--out may not pass through \(link), a symbolic link"), "\(arguments): \(refused.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).allSatisfy { !$0.hasPrefix("q4") && !$0.hasSuffix(".backup") })
        let written = try Self.run(["log", "export", "--format", "csv", "--out", scratch.url.appendingPathComponent("q4.csv").path] + db, sudoUser: "alice")
        #expect(written.status == 0, "\(written.stderr)")
    }

    /// An attacker's pass: through the sudo rule, an operator could send the whole log to a receiver of their own
    /// (`forward syslog`) or copy the store to a file or database of their own (`store migrate`), and the log, which
    /// records an export, said nothing.
    @Test("run through sudo, forward and store migrate are recorded in the log, with who and where, before anything is sent")
    func bulkCopiesRecorded() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz"] + db).status == 0)
        // Nothing listens at port 9: nothing is sent, and the record is made all the same.
        _ = try Self.run(["forward", "syslog", "--to", "127.0.0.1:9", "--once"] + db, sudoUser: "alice")
        let copy = scratch.url.appendingPathComponent("copy.sqlite").path
        // A store is copied only once its log verifies with the log's key.
        #expect(try CLIProcess.run(["log", "init-key", "--name", "county.example/warrant-gate"] + db).status == 0)
        #expect(try CLIProcess.run(["log", "checkpoint"] + db).status == 0)
        let migrated = try Self.run(["store", "migrate", "--from", scratch.db, "--to", copy], sudoUser: "alice")
        #expect(migrated.status == 0, "\(migrated.stderr)")
        for path in [scratch.db, copy] {
            let store = try Store.open(path: path)
            defer { store.close() }
            let entries = try store.logEntries(after: 0, limit: 100).map { String(decoding: $0.entry, as: UTF8.self) }
            #expect(entries.contains { $0.contains(#""log.forward""#) && $0.contains("127.0.0.1:9") && $0.contains(#""alice""#) }, "\(path): \(entries)")
            #expect(entries.contains { $0.contains(#""store.migrate""#) && $0.contains("copy.sqlite") && $0.contains(#""alice""#) }, "\(path): \(entries)")
        }
        // Without sudo, the service's own forwarder records nothing of its runs.
        let before = try Store.open(path: scratch.db)
        let count = try before.logEntries(after: 0, limit: 100).count
        before.close()
        _ = try CLIProcess.run(["forward", "syslog", "--to", "127.0.0.1:9", "--once"] + db)
        let after = try Store.open(path: scratch.db)
        defer { after.close() }
        #expect(try after.logEntries(after: 0, limit: 100).count == count)
    }

    /// An attacker's pass over the Debian package: `--db-password-file` named the log signing key (0600, the service
    /// account's), whose line the CLI sent as the password to a server of the operator's; and `--courts` named the
    /// operator's own list, so their forged court signature showed "verified" to the person approving.
    @Test("run through sudo, the CLI reads only files the operator may read, and a courts list only root may change")
    func operatorReads() throws {
        let scratch = try Scratch()
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz", "--db", scratch.db]).status == 0)
        let secret = scratch.url.appendingPathComponent("service-secret").path
        let shared = scratch.url.appendingPathComponent("operator-password").path
        for (path, mode) in [(secret, 0o600), (shared, 0o644)] {
            #expect(FileManager.default.createFile(atPath: path, contents: Data("line\n".utf8), attributes: [.posixPermissions: mode]))
        }
        let database = ["--db", scratch.db]
        for arguments in [
            ["warrant", "list", "--db-password-file", secret] + database,
            ["warrant", "register", "--time-zone", "America/Denver", "--reference", "JW-X", "--kind", "judicial-warrant", "--agency", "ice-ero",
             "--subject", "2017-000123", "--scope", "records.read", "--expires", "2099-12-31", "--document", secret] + database,
            ["agency", "add", "aurora-pd", "--category", "local-law-enforcement", "--cert", secret] + database,
            ["log", "verify", "--against", secret] + database,
        ] {
            let refused = try Self.run(arguments, sudoUser: "alice")
            #expect(refused.status == 3 && refused.stderr.contains("may name only a file alice may read"), "\(arguments.prefix(2)): \(refused.stderr)")
        }
        let readable = try Self.run(["warrant", "list", "--db-password-file", shared] + database, sudoUser: "alice")
        #expect(readable.status == 0, "\(readable.stderr)")
        // An access control list decides as the kernel would: a named-user entry refuses what the mode grants
        // everyone, and grants what the mode refuses (the operator is SUDO_UID, one above this account's).
        let operatorID = getuid() + 1
        let denied = scratch.url.appendingPathComponent("denied-to-alice").path, granted = scratch.url.appendingPathComponent("granted-to-alice").path
        for (path, mode, entry) in [(denied, 0o644, "u:\(operatorID):---"), (granted, 0o600, "u:\(operatorID):r--")] {
            #expect(FileManager.default.createFile(atPath: path, contents: Data("line\n".utf8), attributes: [.posixPermissions: mode]))
            #expect(try SystemTool.run("/usr/bin/setfacl", ["-m", entry, path]).status == 0)
        }
        let aclDenied = try Self.run(["warrant", "list", "--db-password-file", denied] + database, sudoUser: "alice")
        #expect(aclDenied.status == 3 && aclDenied.stderr.contains("may name only a file alice may read"), "\(aclDenied.stderr)")
        let aclGranted = try Self.run(["warrant", "list", "--db-password-file", granted] + database, sudoUser: "alice")
        #expect(aclGranted.status == 0, "\(aclGranted.stderr)")
        // With the mask (the mode's group bits) clear, Linux reads the mode alone: everyone's read bit lets alice read.
        let masked = scratch.url.appendingPathComponent("masked").path
        #expect(FileManager.default.createFile(atPath: masked, contents: Data("line\n".utf8), attributes: [.posixPermissions: 0o604]))
        #expect(try SystemTool.run("/usr/bin/setfacl", ["-m", "u:\(operatorID):---,m::---", masked]).status == 0)
        let maskedRead = try Self.run(["warrant", "list", "--db-password-file", masked] + database, sudoUser: "alice")
        #expect(maskedRead.status == 0, "\(maskedRead.stderr)")

        // A re-pass: a path `realpath` cannot resolve (its links lead through more than PATH_MAX bytes of names before
        // `..` climbs back) skipped the directory checks, and a file in a directory the operator cannot search was read.
        let sealed = scratch.url.appendingPathComponent("sealed")
        try FileManager.default.createDirectory(at: sealed, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        #expect(FileManager.default.createFile(atPath: sealed.appendingPathComponent("pw").path, contents: Data("TOPSECRET\n".utf8), attributes: [.posixPermissions: 0o644]))
        let name = String(repeating: "d", count: 200)
        var directory = open(scratch.url.path, O_RDONLY | O_DIRECTORY)
        for _ in 0..<22 {
            #expect(mkdirat(directory, name, 0o755) == 0)
            let next = openat(directory, name, O_RDONLY | O_DIRECTORY)
            close(directory)
            directory = next
        }
        close(directory)
        let eleven = Array(repeating: name, count: 11).joined(separator: "/")
        #expect(symlink(eleven, scratch.url.appendingPathComponent("S1").path) == 0)
        #expect(symlink("S1/" + eleven, scratch.url.appendingPathComponent("S2").path) == 0)
        let unresolvable = scratch.url.path + "/S2/" + String(repeating: "../", count: 22) + "sealed/pw"
        #expect(realpath(unresolvable, nil) == nil && errno == ENAMETOOLONG)
        let deep = try Self.run(["warrant", "list", "--db-password-file", unresolvable] + database, sudoUser: "alice")
        #expect(deep.status == 3 && deep.stderr.contains("may name only a file alice may read"), "\(deep.stderr)")

        // A fourth re-pass: a name that is not UTF-8 (`\xff`), which the CLI's path decoded as U+FFFD, so that the
        // operator's own look-alike directory of that name was checked instead.
        let base = Array(scratch.url.path.utf8)
        let raw = { (bytes: [UInt8]) in (base + bytes).map { CChar(bitPattern: $0) } + [0] }
        #expect(mkdir(raw(Array("/odd".utf8)), 0o755) == 0)
        #expect(mkdir(raw(Array("/odd/".utf8) + [0xFF]), 0o700) == 0)
        #expect(FileManager.default.createFile(atPath: scratch.url.path + "/plain", contents: Data("TOPSECRET\n".utf8), attributes: [.posixPermissions: 0o644]))
        #expect(rename(raw(Array("/plain".utf8)), raw(Array("/odd/".utf8) + [0xFF] + Array("/pw".utf8))) == 0)
        #expect(mkdir(raw(Array("/odd/".utf8) + [0xEF, 0xBF, 0xBD]), 0o755) == 0)
        #expect(symlink(raw(Array("/odd/".utf8) + [0xFF] + Array("/pw".utf8)), raw(Array("/link".utf8))) == 0)
        let lookalike = try Self.run(["warrant", "list", "--db-password-file", scratch.url.path + "/link"] + database, sudoUser: "alice")
        #expect(lookalike.status == 3 && lookalike.stderr.contains("may name only a file alice may read"), "\(lookalike.stderr)")

        let courts = scratch.url.appendingPathComponent("courts.yaml").path
        #expect(FileManager.default.createFile(atPath: courts, contents: Data("courts: []\n".utf8)))
        let forged = try Self.run(["warrant", "register", "--time-zone", "America/Denver", "--reference", "JW-Y", "--kind", "judicial-warrant",
                                   "--agency", "ice-ero", "--subject", "2017-000123", "--scope", "records.read", "--expires", "2099-12-31",
                                   "--document", shared, "--courts", courts] + database, sudoUser: "alice")
        #expect(forged.status == 3 && forged.stderr.contains("must name a file that only root may change"), "\(forged.stderr)")
    }

    /// A re-pass: `forward syslog --tls`, `agency list` and `policy explain` checked the operator's rights on a file,
    /// then let a library open its path again (a link swapped in between was read with the service's rights: the
    /// forwarder presented the service's TLS key to a receiver of the operator's), or checked only a file that existed
    /// (a dangling link skipped the check), and never checked the files a policy includes.
    @Test("run through sudo, TLS files, agency directories and policies with their includes are read as the operator may read them")
    func libraryInputs() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz"] + db).status == 0)
        // The PKI's keys are 0600, as the service's own are to the operator; a copy of one is made readable.
        let pki = DevPKIDirectory(directory: scratch.url.appendingPathComponent("pki"))
        try pki.ensure(clients: ["forwarder"])
        let ownKey = scratch.url.appendingPathComponent("own.key").path
        try FileManager.default.copyItem(atPath: pki.clientKeyPath("forwarder"), toPath: ownKey)
        #expect(chmod(ownKey, 0o644) == 0)
        let forward = ["forward", "syslog", "--to", "127.0.0.1:9", "--tls", "--ca", pki.caPath, "--cert", pki.clientCertificatePath("forwarder"), "--start-at", "99"] + db
        let serviceKey = try Self.run(forward + ["--key", pki.serverKeyPath], sudoUser: "alice")
        #expect(serviceKey.status == 3 && serviceKey.stderr.contains("--key may name only a file alice may read"), "\(serviceKey.stderr)")
        // Loaded from the bytes read, the files let the command go on, to a start past the log's end.
        let loaded = try Self.run(forward + ["--key", ownKey], sudoUser: "alice")
        #expect(loaded.status == 2 && loaded.stderr.contains("past the log's end"), "\(loaded.stderr)")

        let directory = """
            agencies:
              - id: city-pd
                name: City Police
                category: local-law-enforcement
                certificates:
                  - spki-sha256: \(String(repeating: "ab", count: 32))
            """
        let hidden = scratch.url.appendingPathComponent("hidden.yaml").path, agencies = scratch.url.appendingPathComponent("agencies.yaml").path
        for (path, mode) in [(hidden, 0o600), (agencies, 0o644)] {
            #expect(FileManager.default.createFile(atPath: path, contents: Data(directory.utf8), attributes: [.posixPermissions: mode]))
        }
        let hiddenList = try Self.run(["agency", "list", "--agencies", hidden] + db, sudoUser: "alice")
        #expect(hiddenList.status == 3 && hiddenList.stderr.contains("--agencies may name only a file alice may read"), "\(hiddenList.stderr)")
        #expect(!hiddenList.stdout.contains("city-pd"))
        let list = try Self.run(["agency", "list", "--agencies", agencies] + db, sudoUser: "alice")
        #expect(list.status == 0 && list.stdout.contains("city-pd"), "\(list.stderr)")

        // A policy the operator may read, including one they may not.
        let base = scratch.url.appendingPathComponent("base.yaml").path, county = scratch.url.appendingPathComponent("county.yaml").path
        #expect(FileManager.default.createFile(atPath: base, contents: Data(PolicyLanguageCLITests.policy.utf8), attributes: [.posixPermissions: 0o600]))
        #expect(FileManager.default.createFile(atPath: county, contents: Data("policy: county\ninclude: base.yaml\n".utf8), attributes: [.posixPermissions: 0o644]))
        let explain = ["policy", "explain", "--agency", "city-pd", "--path", "/records/inmates/2017-000123", "--header", "Request-Purpose: criminal-investigation",
                       "--db", scratch.url.appendingPathComponent("none.sqlite").path]
        for (arguments, refusal) in [(["--policy", base, "--agencies", agencies], "--policy may name only a file alice may read: \(base)"),
                                     (["--policy", county, "--agencies", agencies], "--policy may name only a file alice may read: \(base)")] {
            let refused = try Self.run(explain + arguments, sudoUser: "alice")
            #expect(refused.status == 3 && refused.stderr.contains(refusal) && !refused.stdout.contains("police-investigations"), "\(refused.stderr)")
        }
        #expect(chmod(base, 0o644) == 0)
        let hiddenDirectory = try Self.run(explain + ["--policy", county, "--agencies", hidden], sudoUser: "alice")
        #expect(hiddenDirectory.status == 3 && hiddenDirectory.stderr.contains("--agencies may name only a file alice may read"), "\(hiddenDirectory.stderr)")
        let explained = try Self.run(explain + ["--policy", county, "--agencies", agencies], sudoUser: "alice")
        #expect(explained.status == 0 && explained.stdout.contains("(local-law-enforcement)") && explained.stdout.contains("by rules:  police-investigations"),
                "\(explained.stdout)\n\(explained.stderr)")
    }

    @Test("a gateway is not run through sudo: it would hold the service's keys and log to a store of the operator's")
    func noGatewayUnderSudo() throws {
        for command in [["serve", "--config", "/nonexistent/gateway.yaml"], ["demo", "--data-dir", "/nonexistent/demo"]] {
            let refused = try Self.run(command, sudoUser: "alice")
            #expect(refused.status == 3, "\(command[0]): \(refused.stderr)")
            #expect(refused.stderr.contains("is not run through sudo (alice ran it)"), "\(refused.stderr)")
        }
    }

    @Test("as root, a store that belongs to another account is refused: the files the CLI made beside it would be root's",
          .enabled(if: geteuid() == 0))
    func rootRefused() throws {
        let scratch = try Scratch()
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz", "--db", scratch.db]).status == 0)
        #expect(chown(scratch.db, 65534, 65534) == 0)
        let refused = try CLIProcess.run(["log", "export", "--format", "csv", "--db", scratch.db])
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("run the CLI as that account"), "\(refused.stderr)")

        // An attacker's pass over the Debian package: the first-time `log init-key`, run as root in the service's
        // directory before any database existed, made a key (root, 0600) the gateway could not read.
        let serviceDirectory = scratch.url.appendingPathComponent("service")
        try FileManager.default.createDirectory(at: serviceDirectory, withIntermediateDirectories: true)
        #expect(chown(serviceDirectory.path, 65534, 65534) == 0)
        let key = serviceDirectory.appendingPathComponent("log-signing.key").path
        let keyRefused = try CLIProcess.run(["log", "init-key", "--key", key, "--db", serviceDirectory.appendingPathComponent("wg.sqlite").path])
        #expect(keyRefused.status == 3 && keyRefused.stderr.contains("run the CLI as that account"), "\(keyRefused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: key))
    }
}

/// On a host with an installed gateway, an admin command that leaves `--db` out outside sudo worked on the demo's store
/// (making one if there was none) and reported success: a certificate revoked there stayed trusted by the gateway.
/// Run in a mount namespace whose `/etc` is an overlay holding an installed `gateway.yaml` (root only).
@Suite("The default store on a host with an installed gateway")
struct InstalledHostDefaultStoreTests {
    /// Runs `arguments` in a new mount namespace whose `/etc` is an overlay, in `directory`, with `configuration` (by
    /// default the package's `gateway.yaml`) at the installed path when `installed`, and `environment` set; exit 99 if
    /// the namespace could not be made.
    static func runOnHost(
        installed: Bool = true, configuration: String = Repository.root.appendingPathComponent("packaging/gateway.yaml").path,
        environment: [String: String] = [:], _ arguments: [String], in directory: URL
    ) throws -> CLIProcess.Result {
        let (upper, work) = (directory.appendingPathComponent("upper").path, directory.appendingPathComponent("work").path)
        for path in [upper, work] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let command = ["/usr/bin/env"] + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + [CLIProcess.executable.path] + arguments
        let script = """
            mount -t overlay overlay -o lowerdir=/etc,upperdir=\(upper),workdir=\(work) /etc || exit 99
            \(installed ? "mkdir -p /etc/warrant-gate && cp \(quoted(configuration)) /etc/warrant-gate/gateway.yaml || exit 99" : "")
            exec \(command.map(quoted).joined(separator: " "))
            """
        return try CLIProcess.run(URL(fileURLWithPath: "/usr/bin/unshare"), ["-m", "/bin/sh", "-c", script], in: directory)
    }

    /// Whether such a namespace can be made here: as root, with an overlay filesystem.
    static let canOverlayEtc: Bool = {
        guard getuid() == 0, let scratch = try? Scratch() else { return false }
        return (try? runOnHost(installed: false, ["--help"], in: scratch.url))?.status == 0
    }()

    @Test("leaving --db out outside sudo is refused, and no demo store is made; --db still names a store", .enabled(if: canOverlayEtc))
    func installedHostNeedsTheStoreNamed() throws {
        let scratch = try Scratch()
        let revoke = ["agency", "revoke-cert", "ice-ero", "--spki", String(repeating: "0", count: 64), "--reason", "key lost"]
        let refused = try Self.runOnHost(revoke, in: scratch.url)
        #expect(refused.status == 2 && refused.stderr.contains("this host has an installed gateway"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--db /var/lib/warrant-gate/warrant-gate.sqlite"), "the refusal names the installed store: \(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.url.appendingPathComponent(".warrant-gate").path), "a demo store was made")
        let named = try Self.runOnHost(revoke + ["--db", scratch.db], in: scratch.url)
        #expect(named.status == 0 && named.stdout.contains("revoked"), "\(named.stderr)")
    }

    /// A review: a sudo operator restored an old backup with `--allow-rollback` into a new store beside the installed
    /// one. The two share a directory, so the rollback set back the installed key's record of the last checkpoint it
    /// signed, and only the new store's log said so.
    @Test("run through sudo, a restore beside the installed store is refused, and the key's record stays", .enabled(if: canOverlayEtc))
    func restoreBesideTheInstalledStore() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        #expect(try CLIProcess.run(["log", "init-key", "--name", "county.example/warrant-gate"] + db).status == 0)
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000789", "--language", "es", "--by", "Dep. Ortiz"] + db).status == 0)
        let backup = scratch.url.appendingPathComponent("old.backup").path
        #expect(try CLIProcess.run(["backup", "--out", backup] + db).status == 0)
        #expect(chmod(backup, 0o644) == 0, "the operator may read the backup")
        #expect(try CLIProcess.run(["advisement", "record", "--subject", "2017-000456", "--language", "en", "--by", "Dep. Ortiz"] + db).status == 0)
        #expect(try CLIProcess.run(["log", "checkpoint"] + db).status == 0)
        let record = scratch.url.appendingPathComponent("log-signing.key.last-signed")
        let recorded = try Data(contentsOf: record)

        let configuration = scratch.url.appendingPathComponent("gateway.yaml").path
        let packaged = try String(contentsOf: Repository.root.appendingPathComponent("packaging/gateway.yaml"), encoding: .utf8)
        try packaged.replacingOccurrences(of: "/var/lib/warrant-gate/", with: scratch.url.path + "/").write(toFile: configuration, atomically: true, encoding: .utf8)
        #expect(packaged.contains("database: /var/lib/warrant-gate/warrant-gate.sqlite"))
        try FileManager.default.moveItem(atPath: scratch.db, toPath: scratch.url.appendingPathComponent("warrant-gate.sqlite").path)
        let sudo = ["SUDO_USER": "alice", "SUDO_UID": String(getuid() + 1), "USER": "warrant-gate", "LOGNAME": "warrant-gate"]
        let drill = scratch.url.appendingPathComponent("drill.sqlite").path
        let restore = ["restore", backup, "--no-offsite-checkpoint", "--allow-rollback", "drill", "--db", drill]
        let refused = try Self.runOnHost(configuration: configuration, environment: sudo, restore, in: scratch.url)
        #expect(refused.status == 3 && refused.stderr.contains("a restore beside the installed gateway's store"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: drill))
        #expect(try Data(contentsOf: record) == recorded, "the key's record of its last checkpoint changed")
        // In a directory of its own, the drill goes ahead.
        let elsewhere = try Scratch()
        let own = try Self.runOnHost(
            configuration: configuration, environment: sudo, ["restore", backup, "--no-offsite-checkpoint", "--db", elsewhere.db, "--key", record.path.replacingOccurrences(of: ".last-signed", with: ".pub")],
            in: scratch.url
        )
        #expect(own.status == 0, "\(own.stderr)")
        #expect(try Data(contentsOf: record) == recorded)
        // Nor does an output land beside the installed store's keys.
        let beside = try Self.runOnHost(
            configuration: configuration, environment: sudo,
            ["log", "export", "--out", scratch.url.appendingPathComponent("all.jsonl").path, "--db", scratch.url.appendingPathComponent("warrant-gate.sqlite").path],
            in: scratch.url
        )
        #expect(beside.status == 3 && beside.stderr.contains("--out may not be in the installed gateway's files directory"), "\(beside.stderr)")
        try FileManager.default.createDirectory(at: scratch.url.appendingPathComponent("documents"), withIntermediateDirectories: true)
        let below = try Self.runOnHost(
            configuration: configuration, environment: sudo,
            ["log", "export", "--out", scratch.url.appendingPathComponent("documents/all.jsonl").path, "--db", scratch.url.appendingPathComponent("warrant-gate.sqlite").path],
            in: scratch.url
        )
        #expect(below.status == 3 && below.stderr.contains("--out may not be in the installed gateway's files directory"), "\(below.stderr)")
        // A review: one operator could restore into the installed store against no checkpoint held off the machine.
        let installedStore = scratch.url.appendingPathComponent("warrant-gate.sqlite").path
        let unchecked = try Self.runOnHost(
            configuration: configuration, environment: sudo,
            ["restore", backup, "--no-offsite-checkpoint", "--replace", "--allow-rollback", "disk lost", "--db", installedStore], in: scratch.url
        )
        #expect(unchecked.status == 3 && unchecked.stderr.contains("is checked against a checkpoint held off the machine: give --against"), "\(unchecked.stderr)")
        #expect(try Data(contentsOf: record) == recorded)
    }
}
