import Foundation
import Testing

@Suite("Admin CLI, run as a process", .ownThreads)
struct WarrantCLITests {
    @Test("a warrant's life: refused registrations, two-person approval, history, fingerprint, supersede, revoke")
    func lifecycle() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        let base = ["warrant", "register", "--time-zone", "America/Denver", "--kind", "judicial-warrant", "--agency", "ice-ero", "--subject", "2017-000123",
                    "--scope", "records.read,visitation.schedule"]

        let missing = try CLIProcess.run(base + ["--reference", "JW-1", "--expires", "2026-12-31"] + db)
        #expect(missing.status == 3)
        for option in ["--court", "--judge", "--case", "--document FILE"] { #expect(missing.stderr.contains(option), "\(option)") }
        #expect(missing.stdout.isEmpty)

        let badDate = try CLIProcess.run(base + ["--reference", "JW-1", "--expires", "31/12/2026", "--court", "D. Colo.", "--judge", "Hon. X",
                                                 "--case", "1", "--no-document", "test"] + db)
        #expect(badDate.status == 3)
        #expect(badDate.stderr.contains("YYYY-MM-DD"))

        let document = scratch.url.appendingPathComponent("warrant.pdf")
        try Data("%PDF-1.4 signed warrant".utf8).write(to: document)
        let full = base + ["--expires", "2099-12-31", "--court", "U.S. District Court, D. Colo.", "--judge", "Hon. R. Jackson", "--case", "1:26-mj-1"]

        // An agency id that neither the directory nor the registry knows would match no certificate: refused, and
        // nothing registered.
        let misspelt = try CLIProcess.run(
            full.map { $0 == "ice-ero" ? "ice-er0" : $0 } + ["--reference", "JW-0", "--no-document", "faxed", "--agencies", Repository.root.appendingPathComponent("policies/agencies.yaml").path] + db
        )
        #expect(misspelt.status == 3 && misspelt.stderr.contains("no agency ice-er0 in"), "\(misspelt.stderr)")
        #expect(misspelt.stderr.contains("ice-ero"), "the known agencies are listed: \(misspelt.stderr)")
        let registered = try CLIProcess.run(full + ["--reference", "JW-1", "--document", document.path, "--operator", "clerk-a"] + db)
        #expect(registered.status == 0, "\(registered.stderr)")
        #expect(registered.stdout.contains("registered JW-1 (judicial-warrant) as pending"))

        // The approver is shown what the document would permit, and approves those terms by their fingerprint.
        let unreviewed = try CLIProcess.run(["warrant", "approve", "JW-1", "--operator", "sgt-lee"] + db)
        #expect(unreviewed.status == 3 && unreviewed.stderr.contains("not approved: compare these terms"), "\(unreviewed.stderr)")
        for term in ["agency:      ice-ero", "subjects:    2017-000123", "scope:       records.read, visitation.schedule",
                     "expires:     end of 2099-12-31", "judge:       Hon. R. Jackson", "case:        1:26-mj-1"] {
            #expect(unreviewed.stdout.contains(term), "\(term): \(unreviewed.stdout)")
        }
        let terms = try CLIProcess.terms(of: "JW-1", db)
        #expect(unreviewed.stderr.contains("--terms \(terms[1])"), "\(unreviewed.stderr)")
        let otherTerms = try CLIProcess.run(["warrant", "approve", "JW-1", "--operator", "sgt-lee", "--terms", "0000-0000-0000-0000"] + db)
        #expect(otherTerms.status == 3 && otherTerms.stderr.contains("are not the terms of JW-1"), "\(otherTerms.stderr)")
        let selfApproval = try CLIProcess.run(["warrant", "approve", "JW-1", "--operator", "clerk-a"] + CLIProcess.terms(of: "JW-1", db) + db)
        #expect(selfApproval.status == 3)
        #expect(selfApproval.stderr.contains("two-person rule"))
        let approved = try CLIProcess.run(["warrant", "approve", "JW-1"] + CLIProcess.terms(of: "JW-1", db) + db, environment: ["WARRANT_GATE_OPERATOR": "sgt-lee"])
        #expect(approved.status == 0, "\(approved.stderr)")

        let ice = try CLIProcess.run(["warrant", "register", "--time-zone", "America/Denver", "--reference", "I200-1", "--kind", "administrative-warrant", "--agency", "ice-ero",
                                      "--subject", "2017-000456", "--scope", "records.read", "--expires", "2099-12-31"] + db)
        #expect(ice.status == 0)
        #expect(ice.stdout.contains("signed by an immigration officer, not by a judge"))

        let matching = try CLIProcess.run(["warrant", "verify-document", "JW-1", document.path] + db)
        #expect(matching.status == 0 && matching.stdout.contains("which is active"), "\(matching.stdout)")
        // A helper's pass: one scan registered again under another reference (or for other inmates) was accepted.
        let again = try CLIProcess.run(full + ["--reference", "JW-1-B", "--document", document.path, "--operator", "clerk-a"] + db)
        #expect(again.status == 3 && again.stderr.contains("is already registered, as JW-1 (active)"), "\(again.stderr)")
        let forged = scratch.url.appendingPathComponent("forged.pdf")
        try Data("%PDF-1.4 altered warrant".utf8).write(to: forged)
        let mismatch = try CLIProcess.run(["warrant", "verify-document", "JW-1", forged.path] + db)
        #expect(mismatch.status == 3)
        #expect(mismatch.stderr.contains("does NOT match"))
        let stored = scratch.url.appendingPathComponent("documents")
        #expect(try FileManager.default.contentsOfDirectory(atPath: stored.path).count == 1)

        let renewal = try CLIProcess.run(full + ["--reference", "JW-2", "--no-document", "faxed by the court", "--operator", "clerk-a"] + db)
        #expect(renewal.status == 0)
        #expect(try CLIProcess.run(["warrant", "supersede", "JW-1", "--by", "JW-2"] + db).status == 3)  // JW-2 not yet approved
        #expect(try CLIProcess.run(["warrant", "approve", "JW-2", "--operator", "sgt-lee"] + CLIProcess.terms(of: "JW-2", db) + db).status == 0)
        #expect(try CLIProcess.run(["warrant", "supersede", "JW-1", "--by", "JW-2", "--operator", "clerk-a"] + db).status == 0)

        let listed = try CLIProcess.run(["warrant", "list", "--json", "--status", "active"] + db)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        #expect(entries.count == 1)
        let table = try CLIProcess.run(["warrant", "list", "--agency", "ice-ero"] + db)
        #expect(table.stdout.contains("REFERENCE") && table.stdout.contains("I200-1") && table.stdout.contains("superseded"))
        #expect(try CLIProcess.run(["warrant", "list", "--expiring-within", "7d"] + db).stdout.contains("no documents match"))
        #expect(try CLIProcess.run(["warrant", "list", "--expiring-within", "soon"] + db).status == 2)

        let revoked = try CLIProcess.run(["warrant", "revoke", "JW-2", "--reason", "quashed", "--operator", "clerk-b"] + db)
        #expect(revoked.status == 0)
        let shown = try CLIProcess.run(["warrant", "show", "JW-1"] + db)
        #expect(shown.stdout.contains("status:      superseded (superseded by JW-2)"))
        let superseded = try CLIProcess.run(["warrant", "verify-document", "JW-1", document.path] + db)
        #expect(superseded.stdout.contains("which is superseded") && superseded.stdout.contains("authorises nothing now"), "\(superseded.stdout)")
        #expect(shown.stdout.contains("warrant.register  by clerk-a"))
        #expect(shown.stdout.contains("warrant.approve  by sgt-lee") && shown.stdout.contains("terms=\(terms[1])"), "\(shown.stdout)")
        #expect(shown.stdout.contains("warrant.supersede  by clerk-a"))
        #expect(shown.stdout.contains("warrant.verify-document"))
        #expect(shown.stdout.contains("document:    sha256:"))
        #expect(try CLIProcess.run(["warrant", "show", "JW-2"] + db).stdout.contains("warrant.revoke  by clerk-b"))

        let unknown = try CLIProcess.run(["warrant", "revoke", "JW-404", "--reason", "x"] + db)
        #expect(unknown.status == 4)
        #expect(unknown.stderr.contains("no document with reference JW-404"))
        #expect(try CLIProcess.run(["warrant", "revoke", "JW-2", "--reason", "x"] + db).status == 3)
    }

    @Test("the two-person rule can be switched off for a one-person office, and the log says so")
    func onePersonOffice() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        #expect(try CLIProcess.run(["settings", "two-person-rule", "off", "--reason", "night shift", "--operator", "undersheriff"] + db).status == 0)
        let registered = try CLIProcess.run(["warrant", "register", "--time-zone", "America/Denver", "--reference", "CO-1", "--kind", "court-order", "--agency", "ice-ero",
                                             "--subject", "2017-000123", "--scope", "records.read", "--expires", "2099-01-01", "--court", "Denver District Court",
                                             "--judge", "Hon. P. Ortiz", "--case", "26CR1", "--no-document", "read into the record",
                                             // Repeated options add to the list, as commas do.
                                             "--subject", "2017-000456", "--scope", "visitation.schedule,visitation.cancel"] + db)
        #expect(registered.stdout.contains("as active"))
        let shown = try CLIProcess.run(["warrant", "show", "CO-1"] + db).stdout
        #expect(shown.contains("two-person rule off"))
        #expect(shown.contains("records.read, visitation.schedule, visitation.cancel") && shown.contains("2017-000123, 2017-000456"), "\(shown)")
    }

    @Test("a Persian reason and a Vietnamese name typed with separate accents are stored and read back composed (NFC)")
    func textInAnyScript() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        let decomposed = "Nguye\u{0302}\u{0303}n Thi\u{0323} Ha\u{0300}"
        let composed = "Nguy\u{1EC5}n Th\u{1ECB} H\u{E0}"
        let reason = "می\u{200C}خواهم نسخه را فردا بیاورم ✔\u{FE0F}"
        let registered = try CLIProcess.run([
            "warrant", "register", "--time-zone", "America/Denver", "--reference", "JW-7", "--kind", "judicial-warrant", "--agency", "ice-ero",
            "--subject", "2017-000123", "--scope", "records.read", "--expires", "2099-12-31", "--court", "D. Colo.", "--judge", "Hon. Tra\u{0300}n",
            "--case", "1", "--no-document", reason, "--operator", decomposed,
        ] + db)
        #expect(registered.status == 0, "\(registered.stderr)")
        // The same person under either form cannot approve; a Persian name with its ZWNJ can.
        #expect(try CLIProcess.run(["warrant", "approve", "JW-7", "--operator", composed] + CLIProcess.terms(of: "JW-7", db) + db).status == 3)
        let approved = try CLIProcess.run(["warrant", "approve", "JW-7", "--operator", "مهرآسا\u{200C}ی"] + CLIProcess.terms(of: "JW-7", db) + db)
        #expect(approved.status == 0, "\(approved.stderr)")

        let shown = try CLIProcess.run(["warrant", "show", "JW-7", "--json"] + db)
        #expect(shown.status == 0, "\(shown.stderr)")
        struct Shown: Decodable {
            struct Entry: Decodable {
                struct Document: Decodable { let judge: String? }
                let document: Document
                let registeredBy: String
                let approvedBy: String?
                let noDocumentReason: String?
            }
            let entry: Entry
        }
        let entry = try JSONDecoder().decode(Shown.self, from: Data(shown.stdout.utf8)).entry
        // By scalars: Swift's `==` holds a decomposed accent equal to the composed one.
        #expect(Array(entry.registeredBy.unicodeScalars) == Array(composed.unicodeScalars))
        #expect(Array((entry.document.judge ?? "").unicodeScalars) == Array("Hon. Tr\u{E0}n".unicodeScalars))
        #expect(Array((entry.noDocumentReason ?? "").unicodeScalars) == Array(reason.unicodeScalars))
        #expect(Array((entry.approvedBy ?? "").unicodeScalars) == Array("مهرآسا\u{200C}ی".unicodeScalars))
        let text = try CLIProcess.run(["warrant", "show", "JW-7"] + db).stdout
        #expect(Data(text.utf8).range(of: Data("by \(composed) (two-person rule on)".utf8)) != nil, "\(text)")
        #expect(Data(text.utf8).range(of: Data("document:    none (\(reason))".utf8)) != nil, "\(text)")
        #expect(Data(text.utf8).range(of: Data("\u{0302}".utf8)) == nil && !text.contains("<U+"))
    }

    @Test("each admin record holds the account that ran the command beside the name the operator gave")
    func accountBesideOperator() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        let registered = try CLIProcess.run([
            "warrant", "register", "--time-zone", "America/Denver", "--reference", "JW-8", "--kind", "judicial-warrant", "--agency", "ice-ero",
            "--subject", "2017-000123", "--scope", "records.read", "--expires", "2099-12-31", "--court", "D. Colo.", "--judge", "Hon. Lee",
            "--case", "1", "--no-document", "test", "--operator", "Sgt. A. Ruiz",
        ] + db, environment: ["SUDO_UID": "0"])
        #expect(registered.status == 0, "\(registered.stderr)")
        let approved = try CLIProcess.run(["warrant", "approve", "JW-8", "--operator", "Sgt. K. Lee"] + CLIProcess.terms(of: "JW-8", db) + db, environment: ["SUDO_UID": ""])
        #expect(approved.status == 0, "\(approved.stderr)")

        let me = ProcessAccountName.current
        let history = try CLIProcess.run(["warrant", "show", "JW-8"] + db).stdout
        #expect(history.contains("warrant.register  by Sgt. A. Ruiz [\(me), SUDO_UID root (uid 0)]"), "\(history)")
        #expect(history.contains("warrant.approve  by Sgt. K. Lee [\(me)]"), "\(history)")
        let shown = try CLIProcess.run(["warrant", "show", "JW-8", "--json"] + db)
        struct Shown: Decodable { struct Record: Decodable { let account: String? }; let history: [Record] }
        let accounts = try JSONDecoder().decode(Shown.self, from: Data(shown.stdout.utf8)).history.map(\.account)
        #expect(accounts == ["\(me), SUDO_UID root (uid 0)", me], "\(shown.stdout)")
    }

    /// Whether this machine lets a process set its audit login id (root with CAP_AUDIT_CONTROL, once per process).
    static let canSetLogin: Bool = {
        let probe = try? CLIProcess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "echo 4242 > /proc/self/loginuid && grep -qx 4242 /proc/self/loginuid"])
        return probe?.status == 0
    }()

    /// The typed names differ, but the kernel's audit login id, which sudo and su keep, says one person did both.
    @Test("the two-person rule refuses an approval by the person logged in who registered, whatever names they type",
          .enabled(if: canSetLogin))
    func twoPersonRuleByLogin() throws {
        let scratch = try Scratch()
        /// Runs the CLI with audit login id `uid`; in a new user namespace when `arguments` start with `--unshare-user`.
        func asLogin(_ uid: Int, _ arguments: [String]) throws -> CLIProcess.Result {
            let namespaced = arguments.first == "--unshare-user"
            let command = (namespaced ? ["unshare", "-U"] : []) + [CLIProcess.executable.path] + arguments.dropFirst(namespaced ? 1 : 0) + ["--db", scratch.db]
            let quoted = command.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
            return try CLIProcess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "echo \(uid) > /proc/self/loginuid && exec " + quoted.joined(separator: " ")])
        }
        for reference in ["JW-1", "JW-2", "JW-3"] {
            let registered = try asLogin(4242, [
                "warrant", "register", "--time-zone", "America/Denver", "--kind", "judicial-warrant", "--agency", "ice-ero", "--subject", "2017-000123",
                "--scope", "records.read", "--expires", "2099-12-31", "--court", "D. Colo.", "--judge", "Hon. X", "--case", "1",
                "--no-document", "faxed", "--reference", reference, "--operator", "Alice Smith",
            ])
            #expect(registered.status == 0, "\(registered.stderr)")
        }
        let sameLogin = try asLogin(4242, ["warrant", "approve", "JW-1", "--operator", "Bob Jones"] + CLIProcess.terms(of: "JW-1", ["--db", scratch.db]))
        #expect(sameLogin.status == 3, "\(sameLogin.stdout)")
        #expect(sameLogin.stderr.contains("registered by the person logged in as uid 4242"), "\(sameLogin.stderr)")
        let otherLogin = try asLogin(4243, ["warrant", "approve", "JW-2", "--operator", "Bob Jones"] + CLIProcess.terms(of: "JW-2", ["--db", scratch.db]))
        #expect(otherLogin.status == 0, "\(otherLogin.stderr)")
        // In a user namespace, which any user may make, the login can be made up: not a second person.
        if try CLIProcess.run(URL(fileURLWithPath: "/usr/bin/unshare"), ["-U", "true"]).status == 0 {
            let namespaced = try asLogin(4243, ["--unshare-user", "warrant", "approve", "JW-3", "--operator", "Bob Jones"] + CLIProcess.terms(of: "JW-3", ["--db", scratch.db]))
            #expect(namespaced.status == 3, "\(namespaced.stdout)")
            #expect(namespaced.stderr.contains("in a user namespace"), "\(namespaced.stderr)")
        }
    }

    /// An attacker's pass over the Debian package: under a sudo rule with SETENV, `SUDO_UID` set to the service
    /// account's own uid skipped every operator restriction (and the refusal of `serve`), and `SUDO_USER=bob` made
    /// alice's approval bob's. Where the kernel's login id is set, the environment must agree with it.
    @Test("SUDO_UID and SUDO_USER that the kernel's login id contradicts are refused", .enabled(if: canSetLogin))
    func forgedSudoEnvironment() throws {
        /// Runs the CLI with audit login id `login`, as uid `uid` (root when nil), with `environment`.
        func run(
            login: Int, uid: Int?, _ environment: [String: String], _ arguments: [String] = ["warrant", "list", "--db", "/nonexistent/warrant-gate.sqlite"]
        ) throws -> CLIProcess.Result {
            let switched = uid.map { ["setpriv", "--reuid=\($0)", "--regid=\($0)", "--clear-groups"] } ?? []
            let command = switched + ["env"] + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                + [CLIProcess.executable.path] + arguments
            let quoted = command.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
            return try CLIProcess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "echo \(login) > /proc/self/loginuid && exec " + quoted.joined(separator: " ")])
        }
        let switched = try run(login: 4242, uid: 1, ["SUDO_UID": "1", "SUDO_USER": "daemon"])
        #expect(switched.status == 3 && switched.stderr.contains("not through sudo as sudo runs it"), "\(switched.stderr)")
        let runuser = try run(login: 4242, uid: 1, [:])
        #expect(runuser.status == 3 && runuser.stderr.contains("not through sudo as sudo runs it"), "\(runuser.stderr)")
        // Root's own login, switched with runuser (docs/debian.md's way to apply what only the service account may):
        // root is the person, and the command runs (and finds no database).
        let rootLogin = try run(login: 0, uid: 1, [:])
        #expect(rootLogin.status == 4, "\(rootLogin.stderr)")
        let otherPerson = try run(login: 4242, uid: nil, ["SUDO_UID": "4243", "SUDO_USER": "bob"])
        #expect(otherPerson.status == 3 && otherPerson.stderr.contains("SUDO_UID says uid 4243 ran sudo, but uid 4242 logged in"), "\(otherPerson.stderr)")
        let otherName = try run(login: 1, uid: nil, ["SUDO_UID": "1", "SUDO_USER": "bob"])
        #expect(otherName.status == 3 && otherName.stderr.contains("SUDO_USER says bob, but SUDO_UID is daemon (uid 1)"), "\(otherName.stderr)")
        let unnamed = try run(login: 1, uid: 2, ["SUDO_UID": "1"])
        #expect(unnamed.status == 3 && unnamed.stderr.contains("SUDO_UID is set without SUDO_USER"), "\(unnamed.stderr)")
        // As sudo sets them, the command runs (and finds no database).
        let genuine = try run(login: 1, uid: 2, ["SUDO_UID": "1", "SUDO_USER": "daemon"])
        #expect(genuine.status == 4, "\(genuine.stderr)")
        // A re-pass: SUDO_UID=0 (sudo from a root shell, or set by hand) lent root's rights to whoever logged in. The
        // operator is now the person logged in.
        let throughRoot = try run(login: 1, uid: 2, ["SUDO_UID": "0", "SUDO_USER": "root"], ["serve", "--config", "/nonexistent/gateway.yaml"])
        #expect(throughRoot.status == 3 && throughRoot.stderr.contains("(daemon ran it)"), "\(throughRoot.stderr)")
        // Without --operator, that person is the operator, not root (a second re-pass: every command failed with exit 2).
        let listed = try run(login: 1, uid: 2, ["SUDO_UID": "0", "SUDO_USER": "root"])
        #expect(listed.status == 4, "\(listed.stderr)")
        // SUDO_GID set by hand lent a group's read rights: the operator's own primary group counts, not the variable.
        let scratch = try Scratch()
        let secret = scratch.url.appendingPathComponent("db-password").path
        #expect(FileManager.default.createFile(atPath: secret, contents: Data("pw\n".utf8), attributes: [.posixPermissions: 0o640]))
        #expect(chown(secret, 0, 2) == 0)  // the service's group (uid and gid 2 here), as docs/postgresql.md has it
        let grouped = try run(login: 1, uid: 2, ["SUDO_UID": "1", "SUDO_USER": "daemon", "SUDO_GID": "2"], [
            "warrant", "list", "--db", "postgres://wg@127.0.0.1:1/wg", "--db-password-file", secret,
        ])
        #expect(grouped.status == 3 && grouped.stderr.contains("may name only a file daemon may read"), "\(grouped.stderr)")
    }

    @Test("a refused registration records no time zone: the next one may give another")
    func refusedRegistrationRecordsNoZone() throws {
        let scratch = try Scratch()
        let base = ["warrant", "register", "--kind", "judicial-warrant", "--agency", "ice-ero", "--subject", "2017-000123",
                    "--scope", "records.read", "--expires", "2099-12-31", "--db", scratch.db]
        let refused = try CLIProcess.run(base + ["--time-zone", "America/New_York", "--reference", "JW-1"])
        #expect(refused.status == 3 && refused.stderr.contains("--court"), "\(refused.stderr)")
        let registered = try CLIProcess.run(base + [
            "--time-zone", "America/Denver", "--reference", "JW-1", "--court", "D. Colo.", "--judge", "Hon. X", "--case", "1",
            "--no-document", "faxed",
        ])
        #expect(registered.status == 0, "\(registered.stderr)")
        #expect(registered.stdout.contains("2099-12-31 America/Denver"), "\(registered.stdout)")
    }

    /// A red-team pass: ICE's own warrant (a deportation officer's I-200) and an immigration judge's order, registered
    /// under judicial kinds, were stored, and once approved opened records to ICE.
    @Test("an ICE form or an immigration court's order registered under a judicial kind is refused (exit 3), and nothing is stored")
    func executiveIssuerRefused() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        let base = ["warrant", "register", "--time-zone", "America/Denver", "--agency", "ice-ero", "--subject", "2017-000123",
                    "--scope", "records.read", "--expires", "2099-12-31", "--no-document", "handed over at the desk"]
        let form = ["--court", "U.S. Department of Homeland Security, ICE Enforcement and Removal Operations",
                    "--judge", "SDDO J. Smith, Supervisory Detention and Deportation Officer", "--case", "Form I-200"]
        let asWarrant = try CLIProcess.run(base + ["--reference", "JW-I200", "--kind", "judicial-warrant"] + form + db)
        #expect(asWarrant.status == 3, "\(asWarrant.stderr)")
        for said in ["--court names the Department of Homeland Security ('homeland security')", "--judge names an immigration officer ('sddo')",
                     "--case names an ICE administrative warrant (Form I-200 or I-205) ('i 200')", "register the paper as an administrative-warrant, not as a judicial-warrant"] {
            #expect(asWarrant.stderr.contains(said), "\(said): \(asWarrant.stderr)")
        }
        let asOrder = try CLIProcess.run(base + [
            "--reference", "CO-EOIR", "--kind", "court-order", "--court", "Executive Office for Immigration Review, Denver Immigration Court",
            "--judge", "Immigration Judge A. Example", "--case", "A-2026-0001",
        ] + db)
        #expect(asOrder.status == 3, "\(asOrder.stderr)")
        #expect(asOrder.stderr.contains("register the paper as an immigration-judge-order, not as a court-order"), "\(asOrder.stderr)")
        let listed = try CLIProcess.run(["warrant", "list"] + db)
        #expect(!listed.stdout.contains("JW-I200") && !listed.stdout.contains("CO-EOIR"), "\(listed.stdout)")
        // Under its own kind the same paper is kept on record, and can never authorise.
        let onRecord = try CLIProcess.run(base + ["--reference", "I200-1", "--kind", "administrative-warrant"] + form + db)
        #expect(onRecord.status == 0, "\(onRecord.stderr)")
        #expect(onRecord.stdout.contains("can never authorise access"))
    }

    @Test("usage errors exit 2; a missing database is not created by a read")
    func usage() throws {
        let scratch = try Scratch()
        let wrongKind = try CLIProcess.run(["warrant", "register", "--time-zone", "America/Denver", "--reference", "X", "--kind", "i-200", "--db", scratch.db])
        #expect(wrongKind.status == 2)
        let noDatabase = try CLIProcess.run(["warrant", "list", "--db", scratch.db])
        #expect(noDatabase.status == 4)
        #expect(!FileManager.default.fileExists(atPath: scratch.db))
        // A re-pass: a log named with a space, a '+', a newline or nothing signed checkpoints no one could verify.
        for name in ["Denver County Jail", "a+b", "", "a\nb"] {
            let refused = try CLIProcess.run(["log", "init-key", "--name", name, "--db", scratch.db])
            #expect(refused.status == 2 && refused.stderr.contains("the log's name"), "\(name.debugDescription): \(refused.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.url.appendingPathComponent("log-signing.key").path))
        let help = try CLIProcess.run(["warrant", "register", "--time-zone", "America/Denver", "--help"])
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
        #expect(badTime.stderr.contains("is not a time: use ISO 8601"))
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

@Suite("Fuzz corpus replay", .ownThreads)
struct FuzzCorpusReplayTests {
    @Test("every seed of the fuzz corpus runs through its target without a crash", arguments: ["canonical-target", "classification", "policy", "redaction", "pdf-signature"])
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

@Suite("Policy tooling, run as a process", .ownThreads)
struct PolicyCLITests {
    @Test("policy test runs the shipped cases; explain names the rules; facts feed explanations")
    func tooling() throws {
        let scratch = try Scratch()
        let policies = Repository.root.appendingPathComponent("policies").path
        let tested = try CLIProcess.run(["policy", "test", "\(policies)/tests"])
        #expect(tested.status == 0, "\(tested.stdout)")
        #expect(tested.stdout.contains(" passed, 0 failed"))

        let explained = try CLIProcess.run(["policy", "explain", "--policy", "\(policies)/california.yaml", "--agencies", "\(policies)/agencies.yaml",
                                            "--agency", "ice-ero", "--path", "/records/inmates/2017-000456", "--db", scratch.db])
        #expect(explained.status == 0, "\(explained.stderr)")
        #expect(explained.stdout.contains("decision:  deny (warrant_or_public_record_required)"))
        #expect(explained.stdout.contains("✔ forbid immigration-records-need-warrant-or-conviction"))
        #expect(explained.stdout.contains("when: warrant verified, kind in [criminal-arrest-warrant, judicial-warrant, search-warrant] does not hold (warrant_missing)"))

        // No gateway has recorded its policy's facts in this store: the policy is named, and the fact must be its.
        let setFact = ["subject", "set-fact", "--subject", "2017-000456", "--name", "conviction", "--db", scratch.db]
        let unrecorded = try CLIProcess.run(setFact + ["--value", "serious-felony"])
        #expect(unrecorded.status != 0 && unrecorded.stderr.contains("no gateway has recorded its policy's facts"), "\(unrecorded.stderr)")
        let undeclared = try CLIProcess.run(setFact + ["--value", "Guatemalan national", "--policy", "\(policies)/california.yaml"])
        #expect(undeclared.status != 0 && undeclared.stderr.contains("is not a value of fact 'conviction'"), "\(undeclared.stderr)")
        #expect(try CLIProcess.run(setFact + ["--value", "serious-felony", "--policy", "\(policies)/california.yaml"]).status == 0)
        // Through sudo, the operator's own policy file would say what the store takes: refused.
        let throughSudo = try SystemTool.run(CLIProcess.executable.path, setFact + ["--value", "none", "--policy", "\(policies)/california.yaml"], environment: [
            "SUDO_USER": "alice", "SUDO_UID": String(getuid() + 1), "USER": "warrant-gate", "LOGNAME": "warrant-gate",
        ])
        #expect(throughSudo.status == 3 && throughSudo.stderr.contains("--policy is for a store no gateway has used"), "\(throughSudo.stderr)")
        // The date answers ICE's notification request (I-247N), on the conviction.
        #expect(try CLIProcess.run([
            "warrant", "register", "--time-zone", "America/Denver", "--kind", "notification-request", "--agency", "ice-ero", "--subject", "2017-000456", "--scope", "records.release-date",
            "--expires", "2099-12-31", "--no-document", "faxed", "--reference", "I247N-1", "--operator", "clerk-a", "--db", scratch.db,
        ]).status == 0)
        #expect(try CLIProcess.run(["warrant", "approve", "I247N-1", "--operator", "sgt-lee", "--db", scratch.db] + CLIProcess.terms(of: "I247N-1", ["--db", scratch.db])).status == 0)
        let withFact = try CLIProcess.run(["policy", "explain", "--policy", "\(policies)/california.yaml", "--agencies", "\(policies)/agencies.yaml",
                                           "--agency", "ice-ero", "--path", "/records/inmates/2017-000456/release", "--db", scratch.db])
        #expect(withFact.stdout.contains("decision:  allow"))
        #expect(withFact.stdout.contains("duties:    public-record, notify-inmate-in-writing, notify-attorney-in-writing"))

        // A date alone is the start of that day where the policy is: JW-9 ends with 2027-06-03 in Denver, which is
        // 06:00 UTC on the 4th, so at midnight UTC it was still good.
        #expect(try CLIProcess.run([
            "warrant", "register", "--time-zone", "America/Denver", "--kind", "judicial-warrant", "--agency", "ice-ero", "--subject", "2017-000456",
            "--scope", "records.read", "--expires", "2027-06-03", "--court", "D. Colo.", "--judge", "Hon. X", "--case", "1",
            "--no-document", "faxed", "--reference", "JW-9", "--operator", "clerk-a", "--db", scratch.db,
        ]).status == 0)
        #expect(try CLIProcess.run(["warrant", "approve", "JW-9", "--operator", "sgt-lee", "--db", scratch.db] + CLIProcess.terms(of: "JW-9", ["--db", scratch.db])).status == 0)
        for (day, decision) in [("2027-06-03", "decision:  allow"), ("2027-06-04", "decision:  deny (warrant_expired)")] {
            let onDay = try CLIProcess.run(["policy", "explain", "--policy", "\(policies)/denver.yaml", "--agencies", "\(policies)/agencies.yaml",
                                            "--agency", "ice-ero", "--path", "/records/inmates/2017-000456", "--warrant", "JW-9", "--at", day, "--db", scratch.db])
            #expect(onDay.stdout.contains(decision), "\(day): \(onDay.stdout)")
        }

        let diff = try CLIProcess.run(["log", "shadow-diff", "--db", scratch.db])
        #expect(diff.stdout.contains("no disagreements"))
        // For scripts: which candidate, its groups, and the others (review 250).
        let diffJSON = try CLIProcess.run(["log", "shadow-diff", "--json", "--db", scratch.db])
        let summary = try JSONSerialization.jsonObject(with: Data(diffJSON.stdout.utf8)) as? [String: Any]
        #expect(summary?["shadowPolicy"] == nil && (summary?["groups"] as? [Any])?.isEmpty == true
                && (summary?["otherPolicies"] as? [Any])?.isEmpty == true, "\(diffJSON.stdout)")
    }
}

/// This test process's account as `ProcessAccount` writes it: `name (uid N) on host`, and its audit login if set.
private enum ProcessAccountName {
    static var current: String {
        var host = [CChar](repeating: 0, count: 256)
        _ = gethostname(&host, host.count - 1)
        var text = named(getuid()) + " on " + String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let map = (try? String(contentsOfFile: "/proc/self/uid_map", encoding: .utf8)) ?? ""
        if map.split(whereSeparator: \.isWhitespace) != ["0", "0", "4294967295"] { text += ", in a user namespace (ids and login as it shows them)" }
        if let login = try? String(contentsOfFile: "/proc/self/loginuid", encoding: .utf8),
           let id = uid_t(login.trimmingCharacters(in: .whitespacesAndNewlines)), id != uid_t.max {
            text += ", login " + named(id)
        }
        return text
    }

    private static func named(_ uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return "\(String(cString: name)) (uid \(uid))"
    }
}
