import Foundation
import Testing

/// `policy test`, `policy explain` and `policy check` on policies written for the test, run as a process.
@Suite("Policy CLI (language v2), run as a process", .ownThreads)
struct PolicyLanguageCLITests {
    static let policy = """
        policy: cli
        time-zone: America/Denver
        subject-format: "####-######"
        routes:
          - id: inmate-record
            method: GET
            path: /records/inmates/{booking}
            action: records.read
            subject: { path: booking }
            upstream: records
            data: [record]
          - id: interview-in-person
            method: POST
            path: /visitation/interviews/in-person
            action: interview.in-person
            subject: { body: bookingNumber }
            upstream: visitation
            data: [interview]
        request-facts:
          purpose: { header: Request-Purpose, values: [criminal-investigation, immigration-enforcement] }
        redact: [immigrationStatus]
        rules:
          - id: withdrawn-consent-refuses
            effect: forbid
            when: { action: [interview.in-person], consent: { status: [withdrawn, declined] } }
            reason: interview_refused
          - id: ice-interview-after-advisement
            effect: permit
            when: { category: federal-immigration, action: [interview.in-person], advisement: recorded, consent: { status: [given] } }
          - id: police-investigations
            effect: permit
            when: { category: local-law-enforcement, action: [records.read], request: { purpose: [criminal-investigation] } }
          - id: counsel-records
            effect: permit
            when: { category: defense-counsel, action: [records.read] }
          - id: counsel-status-with-authorization
            effect: permit
            when: { category: defense-counsel, authorization: { covers: [immigrationStatus] } }
            lift: [immigrationStatus]
        """

    static func writePolicy(in scratch: Scratch) throws -> String {
        let path = scratch.url.appendingPathComponent("cli.yaml").path
        try policy.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("policy test: a failing and a broken case each reported with file:line, lines ended, exit 1; the passing case counts")
    func policyTestReportsEachCase() throws {
        let scratch = try Scratch()
        _ = try Self.writePolicy(in: scratch)
        let tests = scratch.url.appendingPathComponent("tests")
        try FileManager.default.createDirectory(at: tests, withIntermediateDirectories: true)
        let file = tests.appendingPathComponent("cli.yaml").path
        try """
            policy: ../cli.yaml
            cases:
              - name: police with a stated investigation
                agency: { id: city-pd, category: local-law-enforcement }
                request: { path: /records/inmates/2017-000123, headers: { Request-Purpose: criminal-investigation } }
                expect: { effect: allow, rules: [police-investigations] }
              - name: police without a purpose (expectation wrong on purpose)
                agency: { id: city-pd, category: local-law-enforcement }
                request: { path: /records/inmates/2017-000123 }
                expect: { effect: allow }
              - name: a document of a kind that does not exist
                agency: { id: ice-ero, category: federal-immigration }
                request: { path: /records/inmates/2017-000123, warrant: W-1 }
                documents:
                  - { reference: W-1, kind: imaginary-warrant, subjects: ["2017-000123"] }
                expect: { effect: deny }
              - name: withdrawn consent refuses the interview
                agency: { id: ice-ero, category: federal-immigration }
                request: { method: POST, path: /visitation/interviews/in-person, body: '{"bookingNumber":"2017-000123"}' }
                records:
                  - { subject: "2017-000123", kind: advisement }
                  - { subject: "2017-000123", kind: consent, given: "2026-11-25T09:00:00Z" }
                  - { subject: "2017-000123", kind: consent-withdrawn, given: "2026-11-25T10:00:00Z" }
                expect: { effect: deny, reason: interview_refused, rules: [withdrawn-consent-refuses] }
              - name: a body the route reads as JSON, sent as text, is refused as the gateway refuses it
                agency: { id: ice-ero, category: federal-immigration }
                request:
                  method: POST
                  path: /visitation/interviews/in-person
                  body: '{"bookingNumber":"2017-000123"}'
                  headers: { Content-Type: text/plain }
                expect: { effect: deny, reason: bad_header }
            """.write(toFile: file, atomically: true, encoding: .utf8)

        let result = try CLIProcess.run(["policy", "test", tests.path])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.hasSuffix("\n"))
        #expect(result.stderr.isEmpty || result.stderr.hasSuffix("\n"), "\(result.stderr.debugDescription)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let failing = lines.filter { $0.hasPrefix("FAIL  \(file):") && !$0.contains("cases pass") }
        #expect(failing.count == 2, "\(result.stdout)")
        #expect(failing.contains { $0.hasPrefix("FAIL  \(file):7: ") && $0.hasSuffix("police without a purpose (expectation wrong on purpose)") }, "\(failing)")
        #expect(failing.contains { $0.hasPrefix("FAIL  \(file):11: ") && $0.hasSuffix("a document of a kind that does not exist") }, "\(failing)")
        // Each failure says why on its own lines, beneath it.
        #expect(result.stdout.contains("effect: expected allow, got deny (reason no_matching_permit)"))
        #expect(result.stdout.contains("imaginary-warrant"))
        #expect(result.stdout.contains("judicial-warrant"), "the error lists the kinds there are")
        // No line holds two reports run together.
        for line in lines { #expect(line.components(separatedBy: "FAIL").count <= 2, "\(line)") }
        #expect(lines.contains("FAIL  \(file): 3/5 cases pass (policy cli)"))
        #expect(result.stdout.contains("3 passed, 2 failed"))
    }

    /// A directory of `denver.yml` printed `0 passed, 0 failed` and exited 0: counsel's tests were never run.
    @Test("policy test: a run that tests no case fails, and files not named *.yaml and subdirectories are warned about")
    func policyTestOfNothingFails() throws {
        let scratch = try Scratch()
        _ = try Self.writePolicy(in: scratch)
        let tests = scratch.url.appendingPathComponent("tests")
        try FileManager.default.createDirectory(at: tests.appendingPathComponent("more"), withIntermediateDirectories: true)
        let suite = """
            policy: ../cli.yaml
            cases:
              - name: police with a stated investigation
                agency: { id: city-pd, category: local-law-enforcement }
                request: { path: /records/inmates/2017-000123, headers: { Request-Purpose: criminal-investigation } }
                expect: { effect: allow, rules: [police-investigations] }
            """
        for name in ["cli.yml", "CLI.YAML"] { try suite.write(toFile: tests.appendingPathComponent(name).path, atomically: true, encoding: .utf8) }
        let result = try CLIProcess.run(["policy", "test", tests.path])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stderr.contains("no policy test cases in \(tests.path)"), "\(result.stderr)")
        for name in ["cli.yml", "CLI.YAML"] {
            #expect(result.stdout.contains("warn  \(tests.appendingPathComponent(name).path): not run: test files are named *.yaml"), "\(result.stdout)")
        }
        #expect(result.stdout.contains("warn  \(tests.appendingPathComponent("more").path): a directory, whose files are not run"), "\(result.stdout)")
        // Named *.yaml, the same file runs, and passes.
        try suite.write(toFile: tests.appendingPathComponent("cli.yaml").path, atomically: true, encoding: .utf8)
        let passing = try CLIProcess.run(["policy", "test", tests.path])
        #expect(passing.status == 0, "\(passing.stdout)\n\(passing.stderr)")
        #expect(passing.stdout.contains("1 passed, 0 failed"))
    }

    static func explain(_ scratch: Scratch, _ arguments: [String]) throws -> CLIProcess.Result {
        try CLIProcess.run(
            ["policy", "explain", "--policy", try writePolicy(in: scratch), "--db", scratch.url.appendingPathComponent("none.sqlite").path,
             "--at", "2026-11-25T12:00:00Z"] + arguments,
            in: scratch.url
        )
    }

    @Test("policy explain: --advisement with --consent, --consent withdrawn, --authorization and --header decide as the records and header say")
    func explainRecordsAndHeaders() throws {
        let scratch = try Scratch()
        let interview = ["--method", "POST", "--path", "/visitation/interviews/in-person", "--body", #"{"bookingNumber":"2017-000123"}"#]
        let ice = ["--agency", "ice-ero", "--category", "federal-immigration"]

        let advisedAndConsenting = try Self.explain(scratch, ice + interview + ["--advisement", "--consent", "given"])
        #expect(advisedAndConsenting.status == 0, "\(advisedAndConsenting.stderr)")
        #expect(advisedAndConsenting.stdout.contains("decision:  allow (permitted)"), "\(advisedAndConsenting.stdout)")
        #expect(advisedAndConsenting.stdout.contains("by rules:  ice-interview-after-advisement"))

        let notAdvised = try Self.explain(scratch, ice + interview + ["--consent", "given"])
        #expect(notAdvised.stdout.contains("decision:  deny (no_matching_permit)"), "\(notAdvised.stdout)")

        let withdrawn = try Self.explain(scratch, ice + interview + ["--advisement", "--consent", "withdrawn"])
        #expect(withdrawn.status == 0)
        #expect(withdrawn.stdout.contains("decision:  deny (interview_refused)"), "\(withdrawn.stdout)")
        #expect(withdrawn.stdout.contains("by rules:  withdrawn-consent-refuses"))

        let badConsent = try Self.explain(scratch, ice + interview + ["--consent", "revoked"])
        #expect(badConsent.status != 0)

        let counsel = ["--agency", "public-defender", "--category", "defense-counsel", "--path", "/records/inmates/2017-000123"]
        let unauthorized = try Self.explain(scratch, counsel)
        #expect(unauthorized.stdout.contains("redacts:   immigrationstatus"), "\(unauthorized.stdout)")
        let authorized = try Self.explain(scratch, counsel + ["--authorization", "immigrationStatus"])
        #expect(authorized.status == 0)
        #expect(authorized.stdout.contains("counsel-status-with-authorization"))
        let redacts = authorized.stdout.split(separator: "\n").first { $0.hasPrefix("redacts:") }
        #expect(redacts.map { !$0.contains("immigrationstatus") } == true, "\(authorized.stdout)")

        let police = ["--agency", "city-pd", "--category", "local-law-enforcement", "--path", "/records/inmates/2017-000123"]
        let stated = try Self.explain(scratch, police + ["--header", "Request-Purpose: criminal-investigation"])
        #expect(stated.status == 0)
        #expect(stated.stdout.contains("stated:    purpose=criminal-investigation"), "\(stated.stdout)")
        #expect(stated.stdout.contains("decision:  allow (permitted)"))
        let unstated = try Self.explain(scratch, police)
        #expect(unstated.stdout.contains("decision:  deny (no_matching_permit)"))
        let undeclared = try Self.explain(scratch, police + ["--header", "Request-Purpose: curiosity"])
        #expect(undeclared.stdout.contains("request_fact_invalid"), "\(undeclared.stdout)")
        #expect(undeclared.stdout.contains("criminal-investigation, immigration-enforcement"))
        let twice = try Self.explain(scratch, police + ["--header", "Request-Purpose: criminal-investigation", "--header", "request-purpose: criminal-investigation"])
        #expect(twice.stdout.contains("request_fact_invalid"), "\(twice.stdout)")
        let malformed = try Self.explain(scratch, police + ["--header", "no colon here"])
        #expect(malformed.status == 2)
    }

    /// A red-team pass: `--category` overrode the directory's category, so explain said allow where the gateway says 403.
    @Test("policy explain refuses --category for an agency the directory lists (exit 2): the gateway decides by the listed one")
    func explainKeepsListedCategory() throws {
        let scratch = try Scratch()
        let explain = [
            "policy", "explain", "--policy", Repository.root.appendingPathComponent("policies/denver.yaml").path,
            "--agencies", Repository.root.appendingPathComponent("policies/agencies.yaml").path,
            "--db", scratch.url.appendingPathComponent("none.sqlite").path, "--path", "/records/inmates/2017-000123",
        ]
        let overridden = try CLIProcess.run(explain + ["--agency", "ice-ero", "--category", "local-law-enforcement"], in: scratch.url)
        #expect(overridden.status == 2, "\(overridden.stdout)\n\(overridden.stderr)")
        #expect(overridden.stderr.contains("agency ice-ero is listed (federal-immigration)"), "\(overridden.stderr)")
        #expect(!overridden.stdout.contains("decision:"))
        let listed = try CLIProcess.run(explain + ["--agency", "ice-ero"], in: scratch.url)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("by ice-ero (federal-immigration)") && listed.stdout.contains("decision:  deny"), "\(listed.stdout)")
        // An agency listed nowhere still takes --category, and needs it.
        let unlisted = try CLIProcess.run(explain + ["--agency", "ice-newark", "--category", "federal-immigration"], in: scratch.url)
        #expect(unlisted.status == 0 && unlisted.stdout.contains("by ice-newark (federal-immigration)"), "\(unlisted.stdout)\n\(unlisted.stderr)")
        #expect(try CLIProcess.run(explain + ["--agency", "ice-newark"], in: scratch.url).status == 4)
    }

    /// A policy, and its file's name, may hold escape sequences that would set a terminal's title or erase its screen.
    @Test("policy check prints a hostile policy's value and file name escaped")
    func checkEscapesHostileText() throws {
        let scratch = try Scratch()
        let file = scratch.url.appendingPathComponent("x\u{1B}[2J.yaml").path
        try "policy: p\ntime-zone: America/Denver\n\"\\e]0;PWNED\\a\\e[31mFAKE\": 1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let result = try CLIProcess.run(["policy", "check", scratch.url.path], in: scratch.url)
        #expect(result.status == 1)
        #expect(!(result.stdout + result.stderr).unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, "\(result.stdout.debugDescription)")
        #expect(result.stdout.contains("x\\u{1B}[2J.yaml"), "\(result.stdout)")
        // An agency directory's error goes to standard error, escaped too.
        let agencies = scratch.url.appendingPathComponent("agencies.yaml").path
        try "categories:\n  \"Bad\\e]0;PWNED\\a\\e[31mX\": d\nagencies: []\n".write(toFile: agencies, atomically: true, encoding: .utf8)
        let directory = try CLIProcess.run(["policy", "check", Repository.root.appendingPathComponent("policies/denver.yaml").path, "--agencies", agencies])
        #expect(directory.status == 1, "\(directory.stdout)\(directory.stderr)")
        #expect(directory.stderr.contains("\\u{1B}]0;PWNED"), "\(directory.stderr)")
        #expect(!(directory.stdout + directory.stderr).unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, "\(directory.stderr.debugDescription)")
    }

    @Test("policy check warns of a category the directory does not declare, not of one it does; agencies.yaml is not a policy")
    func checkUndeclaredCategory() throws {
        let scratch = try Scratch()
        let policies = scratch.url.appendingPathComponent("policies")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        let agencies = policies.appendingPathComponent("agencies.yaml").path
        try "categories:\n  prosecutor: A district attorney's office.\nagencies: []\n".write(toFile: agencies, atomically: true, encoding: .utf8)
        let file = policies.appendingPathComponent("county.yaml").path
        try """
            policy: county
            time-zone: America/Denver
            subject-format: "####-######"
            routes:
              - id: inmate-record
                method: GET
                path: /records/inmates/{booking}
                action: records.read
                subject: { path: booking }
                upstream: records
            rules:
              - id: prosecutors-and-sheriffs
                effect: permit
                when: { category: [prosecutor, sheriffs-office, court] }
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try CLIProcess.run(["policy", "check", policies.path, "--agencies", agencies])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("ok    \(file): policy county"))
        let warnings = result.stdout.split(separator: "\n").filter { $0.hasPrefix("warn  ") }
        #expect(warnings.count == 1, "\(result.stdout)")
        #expect(warnings.first?.contains("category 'sheriffs-office' is neither built in nor declared in \(agencies)") == true, "\(warnings)")
        #expect(!result.stdout.contains("'prosecutor'"))
        #expect(!result.stdout.contains("FAIL"))
        #expect(result.stdout.hasSuffix("\n"))

        // Against a directory that declares neither, both are named.
        let bare = scratch.url.appendingPathComponent("bare-agencies.yaml").path
        try "agencies: []\n".write(toFile: bare, atomically: true, encoding: .utf8)
        let strict = try CLIProcess.run(["policy", "check", file, "--agencies", bare])
        #expect(strict.stdout.contains("category 'prosecutor'"))
        #expect(strict.stdout.contains("category 'sheriffs-office'"))
        #expect(!strict.stdout.contains("category 'court'"))

        // Run where no policies/agencies.yaml is (from /etc/warrant-gate, say): said, and checked against the built-in
        // categories; a directory named and missing is an error, not a skipped check.
        let elsewhere = try CLIProcess.run(["policy", "check", file], in: policies)
        #expect(elsewhere.stdout.contains("warn  no agency directory at policies/agencies.yaml"), "\(elsewhere.stdout)")
        #expect(elsewhere.stdout.contains("category 'sheriffs-office' is not built in"), "\(elsewhere.stdout)")
        let missing = try CLIProcess.run(["policy", "check", file, "--agencies", "nowhere.yaml"], in: policies)
        #expect(missing.status == 4, "\(missing.stderr)")
    }
}
