import Foundation
import Testing
import WarrantGateTestSupport

/// Registering digitally signed warrants (issue 23), run as a process: a court CA made at test time with openssl,
/// PDFs signed the way PAdES signers do, and detached `.p7s` signatures, with RSA and EC signers.
@Suite("Signed warrants, run as a process", .ownThreads)
struct SignedWarrantCLITests {
    static let terms = [
        "warrant", "register", "--time-zone", "America/Denver", "--kind", "judicial-warrant", "--agency", "ice-ero", "--subject", "2017-000123", "--scope", "records.read",
        "--expires", "2099-12-31", "--court", "Denver County Court", "--judge", "Hon. R. Jackson", "--case", "26-M-1",
    ]

    /// A scratch store, a listed court's CA in `courts.yaml`, and an unlisted CA.
    struct Setup {
        let scratch: Scratch
        let court: TestCA
        let unlisted: TestCA
        var db: [String] { ["--db", scratch.db] }
        var courts: [String] { ["--courts", scratch.url.appendingPathComponent("courts.yaml").path] }

        init() throws {
            scratch = try Scratch()
            court = try TestCA(name: "court", organization: "Denver County Court", in: scratch.url)
            unlisted = try TestCA(name: "unlisted", organization: "Elsewhere Court", in: scratch.url)
            try """
                courts:
                  - id: denver-county-court
                    name: Denver County Court
                    certificates: court-ca.pem
                """.write(to: scratch.url.appendingPathComponent("courts.yaml"), atomically: true, encoding: .utf8)
        }

        func file(_ name: String, _ bytes: [UInt8]) throws -> String {
            let url = scratch.url.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            return url.path
        }

        func register(_ reference: String, _ extra: [String]) throws -> CLIProcess.Result {
            try CLIProcess.run(SignedWarrantCLITests.terms + ["--reference", reference, "--operator", "clerk-a"] + extra + db + courts)
        }

        func show(_ reference: String) throws -> CLIProcess.Result {
            try CLIProcess.run(["warrant", "show", reference] + db)
        }

        var storedDocuments: Int {
            (try? FileManager.default.contentsOfDirectory(atPath: scratch.url.appendingPathComponent("documents").path).count) ?? 0
        }
    }

    @Test("a PDF signed by a listed court's clerk registers verified, RSA and EC; show, approve and the log say so")
    func verifiedPDF() throws {
        let setup = try Setup()
        for key in [TestCA.Key.rsa, .ec] {
            let clerk = try setup.court.issue("clerk-\(key)", key: key)
            let pdf = try TestPDF.signed(text: "WARRANT \(key)") { try clerk.sign($0) }
            let reference = "JW-\(key)"
            let registered = try setup.register(reference, ["--document", try setup.file("\(key).pdf", pdf)])
            #expect(registered.status == 0, "\(key): \(registered.stderr)")
            #expect(registered.stdout.contains("signature:   verified"), "\(key): \(registered.stdout)")
            #expect(registered.stdout.contains("court:     denver-county-court"))

            let shown = try setup.show(reference)
            #expect(shown.stdout.contains("signature:   verified"), "\(shown.stdout)")
            #expect(shown.stdout.contains("CN=clerk-\(key)"))
            #expect(shown.stdout.contains("signature=verified"), "the registration's log record carries the status")
            #expect(shown.stdout.contains("signatureCourt=denver-county-court"))
            let json = try CLIProcess.run(["warrant", "show", reference, "--json"] + setup.db)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let signature = ((object["entry"] as? [String: Any])?["document"] as? [String: Any])?["signature"] as? [String: Any]
            #expect(signature?["status"] as? String == "verified")
            #expect(signature?["court"] as? String == "denver-county-court")

            let approved = try CLIProcess.run(["warrant", "approve", reference, "--operator", "sgt-lee"] + CLIProcess.terms(of: reference, setup.db) + setup.db)
            #expect(approved.status == 0, "\(approved.stderr)")
            #expect(approved.stdout.contains("signature:   verified"), "the approver sees the status first: \(approved.stdout)")
            #expect(approved.stdout.contains("shown for review only"))

            let again = try CLIProcess.run(["warrant", "verify-document", reference, try setup.file("\(key).pdf", pdf)] + setup.db + setup.courts)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout.contains("signature recorded at registration: verified"))
            #expect(again.stdout.contains("checked now:  verified"))
            let withoutCourts = try CLIProcess.run(["warrant", "verify-document", reference, try setup.file("\(key).pdf", pdf)] + setup.db, in: setup.scratch.url)
            #expect(withoutCourts.stdout.contains("checked now:  unverified: "), "no courts.yaml lists no court: \(withoutCourts.stdout)")
        }
    }

    /// The signer's name comes from the certificate in the document the agency hands over.
    @Test("a signer's name with terminal codes is shown escaped by register, approve and verify-document")
    func signerNameEscaped() throws {
        let setup = try Setup()
        let forger = try setup.court.issue("forger", key: .ec, subjectName: "x\r\u{1B}[1A\u{1B}[2Ksignature:   verified")
        let pdf = try TestPDF.signed(text: "WARRANT") { try forger.sign($0) }
        let path = try setup.file("forged.pdf", pdf)
        let registered = try setup.register("JW-ESC", ["--document", path])
        let approved = try CLIProcess.run(["warrant", "approve", "JW-ESC", "--operator", "sgt-lee"] + CLIProcess.terms(of: "JW-ESC", setup.db) + setup.db)
        let checked = try CLIProcess.run(["warrant", "verify-document", "JW-ESC", path] + setup.db + setup.courts)
        for (name, result) in [("register", registered), ("approve", approved), ("verify-document", checked)] {
            #expect(result.status == 0, "\(name): \(result.stderr)")
            #expect(!result.stdout.contains("\u{1B}") && !result.stdout.unicodeScalars.contains("\r"), "\(name): \(result.stdout.debugDescription)")
        }
        for (name, result) in [("register", registered), ("approve", approved)] {
            #expect(result.stdout.contains("x<U+000D><U+001B>[1A"), "\(name): \(result.stdout.debugDescription)")
        }
    }

    @Test("a detached .p7s over any document, RSA and EC: verified; --signature without --document is a usage error")
    func detachedSignature() throws {
        let setup = try Setup()
        for key in [TestCA.Key.rsa, .ec] {
            let document = Array("a scanned warrant, not a PDF, signed with \(key)".utf8)
            let clerk = try setup.court.issue("detached-\(key)", key: key)
            let signature = try setup.file("\(key).p7s", try clerk.sign(document))
            let registered = try setup.register("JW-P7S-\(key)", ["--document", try setup.file("scan-\(key).txt", document), "--signature", signature])
            #expect(registered.status == 0, "\(key): \(registered.stderr)")
            #expect(registered.stdout.contains("signature:   verified"), "\(key): \(registered.stdout)")
        }
        let alone = try setup.register("JW-NONE", ["--no-document", "faxed", "--signature", try setup.file("x.p7s", [1])])
        #expect(alone.status == 2)
        #expect(alone.stderr.contains("--signature needs the --document"))
    }

    /// A helper's pass: a scan verified as signed by a county court's clerk registered with `--court` naming a federal
    /// court, which a policy's `courts:` patterns then read, while its `signed:` test read the county's signature.
    @Test("a scan verified as signed records the signing court: another --court is refused, none defaults to it")
    func signingCourtIsTheCourt() throws {
        let setup = try Setup()
        let clerk = try setup.court.issue("clerk", key: .ec)
        let terms = Self.terms.filter { $0 != "--court" && $0 != "Denver County Court" }
        func register(_ reference: String, _ court: [String]) throws -> CLIProcess.Result {
            let document = Array("the warrant \(reference)".utf8)
            let signature = try setup.file("\(reference).p7s", try clerk.sign(document))
            return try CLIProcess.run(terms + court + [
                "--reference", reference, "--document", try setup.file("\(reference).txt", document), "--signature", signature, "--operator", "clerk-a",
            ] + setup.db + setup.courts)
        }
        let federal = try register("JW-FED", ["--court", "U.S. District Court for the District of Colorado"])
        #expect(federal.status == 3 && federal.stderr.contains("the scan is signed for Denver County Court"), "\(federal.stderr)")
        #expect(try register("JW-CASE", ["--court", "denver  county court"]).status == 0)
        let omitted = try register("JW-NONE", [])
        #expect(omitted.status == 0, "\(omitted.stderr)")
        #expect(try setup.show("JW-NONE").stdout.contains("court:       Denver County Court"))
    }

    @Test("unlisted CA and expired signer register unverified with the reason; unsigned registers unsigned")
    func unverifiedAndUnsigned() throws {
        let setup = try Setup()
        let stranger = try setup.unlisted.issue("stranger", key: .ec)
        let unlisted = try setup.register("JW-UNLISTED", ["--document", try setup.file("u.pdf", try TestPDF.signed { try stranger.sign($0) })])
        #expect(unlisted.status == 0, "\(unlisted.stderr)")
        #expect(unlisted.stdout.contains("signature:   unverified: the signer does not chain to a court listed in courts.yaml"), "\(unlisted.stdout)")
        #expect(unlisted.stdout.contains("signer:    "), "the signer is still named")

        let expired = try setup.court.issue("expired", key: .rsa, start: "20200101000000Z", end: "20210101000000Z")
        // Another warrant: the same bytes signed twice are one document, whoever signed them.
        let late = try setup.register("JW-EXPIRED", ["--document", try setup.file("e.pdf", try TestPDF.signed(text: "WARRANT 2") { try expired.sign($0) })])
        #expect(late.status == 0, "\(late.stderr)")
        #expect(late.stdout.contains("signature:   unverified: the signer's certificate expired at 2021-01-01"), "\(late.stdout)")
        #expect(try setup.show("JW-EXPIRED").stdout.contains("signature=unverified: "))

        let plain = try setup.register("JW-PLAIN", ["--document", try setup.file("p.pdf", TestPDF.unsigned())])
        #expect(plain.status == 0)
        #expect(plain.stdout.contains("signature:   unsigned"))
        #expect(setup.storedDocuments == 3)
        let listed = try CLIProcess.run(["warrant", "list"] + setup.db).stdout
        let rows = listed.split(separator: "\n").map { $0.split(separator: " ").last.map(String.init) ?? "" }
        #expect(rows.first == "SIGNATURE" && rows.dropFirst(2) == ["unverified", "unverified", "unsigned"], "\(listed)")
    }

    /// A red-team pass: a quashed warrant's signed PDF, a newline appended, registered again as a new warrant; its
    /// signature still verified, and the registry compared the files' digests.
    @Test("a copy of a registered signed PDF, changed only where its signature does not reach, is refused (exit 3) and not stored")
    func copyOfSignedPDF() throws {
        let setup = try Setup()
        let clerk = try setup.court.issue("clerk-copy", key: .ec)
        let pdf = try TestPDF.signed(text: "WARRANT, LATER QUASHED") { try clerk.sign($0) }
        let registered = try setup.register("JW-Q", ["--document", try setup.file("quashed.pdf", pdf)])
        #expect(registered.status == 0, "\(registered.stderr)")
        #expect(try CLIProcess.run(["warrant", "revoke", "JW-Q", "--reason", "quashed by the court", "--operator", "clerk-a"] + setup.db).status == 0)
        let stored = setup.storedDocuments
        let contents = try #require(TestPDF.find("/Contents <", in: pdf)) + "/Contents <".utf8.count
        var lowerCase = pdf
        for index in contents..<contents + 2 * TestPDF.placeholderBytes where (65...70).contains(lowerCase[index]) { lowerCase[index] += 32 }
        for (name, copy) in [("newline", pdf + [0x0A]), ("lower-case", lowerCase)] {
            let path = try setup.file("\(name).pdf", copy)
            #expect(try CLIProcess.run(["warrant", "verify-document", "JW-Q", path] + setup.db + setup.courts).stdout.contains("checked now:  verified"))
            let again = try setup.register("JW-Q-\(name)", ["--document", path])
            #expect(again.status == 3, "\(name): \(again.stdout)")
            #expect(again.stderr.contains("is a copy of the one registered as JW-Q (revoked)"), "\(name): \(again.stderr)")
        }
        #expect(setup.storedDocuments == stored, "a refused copy is not stored")
        #expect(try setup.show("JW-Q-newline").status == 4)
    }

    @Test("a tampered PDF or a signature over another document is refused, exit 3, and nothing is stored")
    func tamperedRefused() throws {
        let setup = try Setup()
        let clerk = try setup.court.issue("clerk", key: .ec)
        var pdf = try TestPDF.signed(text: "WARRANT") { try clerk.sign($0) }
        let text = try #require(TestPDF.find("(WARRANT)", in: pdf))
        pdf[text + 1] = UInt8(ascii: "V")
        let tampered = try setup.register("JW-TAMPERED", ["--document", try setup.file("t.pdf", pdf)])
        #expect(tampered.status == 3, "\(tampered.stdout)")
        #expect(tampered.stderr.contains("is not registered: its signature is invalid: "), "\(tampered.stderr)")
        #expect(try setup.show("JW-TAMPERED").status == 4)

        let other = try setup.file("other.p7s", try clerk.sign(Array("another document".utf8)))
        let misplaced = try setup.register("JW-OTHER", ["--document", try setup.file("doc.txt", Array("this document".utf8)), "--signature", other])
        #expect(misplaced.status == 3)
        #expect(misplaced.stderr.contains("invalid: "), "\(misplaced.stderr)")
        #expect(try setup.show("JW-OTHER").status == 4)

        let garbage = try setup.register("JW-GARBAGE", ["--document", try setup.file("g.txt", [1, 2, 3]), "--signature", try setup.file("g.p7s", Array("not CMS".utf8))])
        #expect(garbage.status == 3)
        #expect(garbage.stderr.contains("invalid: malformed CMS signature"), "\(garbage.stderr)")

        let appended = try TestPDF.signed { try clerk.sign($0) } + Array("1 0 obj\n<< /Type /Catalog >>\nendobj\n".utf8)
        let modified = try setup.register("JW-APPENDED", ["--document", try setup.file("a.pdf", appended)])
        #expect(modified.status == 3, "\(modified.stdout)")
        #expect(modified.stderr.contains("invalid: "), "\(modified.stderr)")
        #expect(setup.storedDocuments == 0)

        try "courts: [ { id: Bad Id } ]\n".write(to: setup.scratch.url.appendingPathComponent("courts.yaml"), atomically: true, encoding: .utf8)
        let malformed = try setup.register("JW-BADCOURTS", ["--document", try setup.file("p.pdf", TestPDF.unsigned())])
        #expect(malformed.status == 1)
        #expect(malformed.stderr.contains("courts.yaml:1"), "\(malformed.stderr)")
    }

    @Test("policy explain: an unverified warrant fails warrant: { signed: true }, and says why")
    func policyRefusesUnverified() throws {
        let setup = try Setup()
        let stranger = try setup.unlisted.issue("stranger", key: .ec)
        let pdf = try setup.file("u.pdf", try TestPDF.signed { try stranger.sign($0) })
        #expect(try setup.register("JW-U", ["--document", pdf]).status == 0)
        #expect(try CLIProcess.run(["warrant", "approve", "JW-U", "--operator", "sgt-lee"] + CLIProcess.terms(of: "JW-U", setup.db) + setup.db).status == 0)
        let policy = setup.scratch.url.appendingPathComponent("signed.yaml").path
        try """
            policy: signed
            time-zone: America/Denver
            subject-format: "####-######"
            routes:
              - { id: inmate-record, method: GET, path: "/records/inmates/{booking}", action: records.read, subject: { path: booking }, upstream: records, data: [record] }
            rules:
              - id: immigration-needs-signed-warrant
                effect: forbid
                when: { category: federal-immigration }
                unless: { warrant: { signed: true } }
                reason: warrant-failure
              - id: immigration-with-warrant
                effect: permit
                when: { category: federal-immigration, warrant: verified }
            """.write(toFile: policy, atomically: true, encoding: .utf8)
        #expect(try CLIProcess.run(["policy", "check", policy]).status == 0)
        let byCourt = setup.scratch.url.appendingPathComponent("signed-by.yaml").path
        try String(contentsOfFile: policy, encoding: .utf8).replacingOccurrences(of: "{ signed: true }", with: "{ signed-by: [denver-county-court, elsewhere] }")
            .write(toFile: byCourt, atomically: true, encoding: .utf8)
        let checked = try CLIProcess.run(["policy", "check", byCourt] + setup.courts)
        #expect(checked.status == 0, "\(checked.stdout)")
        #expect(checked.stdout.contains("signed-by names court 'elsewhere', which courts.yaml does not list"), "\(checked.stdout)")
        #expect(!checked.stdout.contains("'denver-county-court'"))
        let explained = try CLIProcess.run(
            ["policy", "explain", "--policy", policy, "--agency", "ice-ero", "--path", "/records/inmates/2017-000123",
             "--warrant", "JW-U"] + setup.db
        )
        #expect(explained.status == 0, "\(explained.stderr)")
        #expect(explained.stdout.contains("decision:  deny (warrant_signature_unverified)"), "\(explained.stdout)")
        #expect(explained.stdout.contains("signature: warrant JW-U signature is unverified: the signer does not chain"))
        #expect(explained.stdout.contains("applies; warrant JW-U signature is unverified: "), "the forbid says which warrant failed and why")

        // Counsel states a warrant's signature in a policy test file.
        let tests = setup.scratch.url.appendingPathComponent("tests")
        try FileManager.default.createDirectory(at: tests, withIntermediateDirectories: true)
        try """
            policy: ../signed.yaml
            cases:
              - name: a warrant verified as signed by a listed court
                agency: { id: ice-ero, category: federal-immigration }
                request: { path: /records/inmates/2017-000123, warrant: JW-1 }
                documents:
                  - { reference: JW-1, kind: judicial-warrant, subjects: ["2017-000123"], signature: verified, signed-by: denver-county-court, scope: [records.read] }
                expect: { effect: allow, rules: [immigration-with-warrant] }
              - name: a warrant whose signature could not be verified
                agency: { id: ice-ero, category: federal-immigration }
                request: { path: /records/inmates/2017-000123, warrant: JW-2 }
                documents:
                  - { reference: JW-2, kind: judicial-warrant, subjects: ["2017-000123"], signature: unverified, scope: [records.read] }
                expect: { effect: deny, reason: warrant_signature_unverified, rules: [immigration-needs-signed-warrant] }
              - name: a warrant registered before signatures were checked
                agency: { id: ice-ero, category: federal-immigration }
                request: { path: /records/inmates/2017-000123, warrant: JW-3 }
                documents:
                  - { reference: JW-3, kind: judicial-warrant, subjects: ["2017-000123"], scope: [records.read] }
                expect: { effect: deny, reason: warrant_signature_unverified }
            """.write(to: tests.appendingPathComponent("signed.yaml"), atomically: true, encoding: .utf8)
        let tested = try CLIProcess.run(["policy", "test", tests.path])
        #expect(tested.status == 0, "\(tested.stdout)\n\(tested.stderr)")
        #expect(tested.stdout.contains("3 passed"), "\(tested.stdout)")
    }
}

/// A CA made with the openssl command line, issuing document-signing certificates with `openssl ca`.
struct TestCA {
    enum Key { case rsa, ec }

    let name: String
    let directory: URL

    static let config = """
        [ req ]
        distinguished_name = dn
        [ dn ]
        [ ca ]
        default_ca = court
        [ court ]
        database = index.txt
        new_certs_dir = .
        serial = serial
        default_md = sha256
        policy = anything
        unique_subject = no
        [ anything ]
        organizationName = optional
        commonName = supplied
        [ court_ca ]
        basicConstraints = critical, CA:TRUE, pathlen:0
        keyUsage = critical, keyCertSign, cRLSign
        subjectKeyIdentifier = hash
        [ signer ]
        basicConstraints = critical, CA:FALSE
        keyUsage = critical, digitalSignature, nonRepudiation
        """

    init(name: String, organization: String, in directory: URL) throws {
        self.name = name
        self.directory = directory.appendingPathComponent("\(name)-ca")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        try Self.config.write(to: self.directory.appendingPathComponent("ca.cnf"), atomically: true, encoding: .utf8)
        try Data().write(to: self.directory.appendingPathComponent("index.txt"))
        try "01\n".write(to: self.directory.appendingPathComponent("serial"), atomically: true, encoding: .utf8)
        try run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"])
        try run(["req", "-x509", "-new", "-config", "ca.cnf", "-extensions", "court_ca", "-key", "ca.key", "-sha256", "-days", "3650",
                 "-subj", "/O=\(organization)/CN=\(organization) Signing CA", "-out", "ca.pem"])
        try FileManager.default.copyItem(at: self.directory.appendingPathComponent("ca.pem"), to: directory.appendingPathComponent("\(name)-ca.pem"))
    }

    /// Issues a signer `CN=<commonName>` valid from `start` to `end` (openssl's `YYYYMMDDHHMMSSZ`; default: a day ago
    /// to a year ahead).
    /// A signer named `commonName` (its files too), or `subjectName` in its certificate if given.
    func issue(_ commonName: String, key: Key, start: String? = nil, end: String? = nil, subjectName: String? = nil) throws -> TestSigner {
        switch key {
        case .rsa: try run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "\(commonName).key"])
        case .ec: try run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "\(commonName).key"])
        }
        try run(["req", "-new", "-config", "ca.cnf", "-key", "\(commonName).key", "-utf8", "-subj", "/O=Denver County Court/CN=\(subjectName ?? commonName)", "-out", "\(commonName).csr"])
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        formatter.timeZone = TimeZone(identifier: "UTC")
        try run(["ca", "-batch", "-config", "ca.cnf", "-extensions", "signer", "-cert", "ca.pem", "-keyfile", "ca.key", "-notext",
                 "-startdate", start ?? formatter.string(from: Date().addingTimeInterval(-86400)),
                 "-enddate", end ?? formatter.string(from: Date().addingTimeInterval(365 * 86400)),
                 "-in", "\(commonName).csr", "-out", "\(commonName).pem"])
        return TestSigner(ca: self, name: commonName)
    }

    @discardableResult
    func run(_ arguments: [String]) throws -> CLIProcess.Result {
        let result = try CLIProcess.run(URL(fileURLWithPath: "/usr/bin/env"), ["openssl"] + arguments, in: directory)
        guard result.status == 0 else { throw SignatureTestError("openssl \(arguments.joined(separator: " ")): \(result.stderr)") }
        return result
    }
}

/// A signer's certificate and key, in its CA's directory.
struct TestSigner {
    let ca: TestCA
    let name: String

    /// A detached DER CMS signature over `bytes` by `openssl cms -sign` (RSA as `rsaEncryption`, as openssl writes it).
    func sign(_ bytes: [UInt8]) throws -> [UInt8] {
        let id = UUID().uuidString
        try Data(bytes).write(to: ca.directory.appendingPathComponent("\(id).bin"))
        try ca.run(["cms", "-sign", "-binary", "-md", "sha256", "-in", "\(id).bin", "-signer", "\(name).pem", "-inkey", "\(name).key",
                    "-outform", "DER", "-out", "\(id).p7s"])
        return Array(try Data(contentsOf: ca.directory.appendingPathComponent("\(id).p7s")))
    }
}

struct SignatureTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
