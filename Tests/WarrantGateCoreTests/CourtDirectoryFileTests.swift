import Foundation
import Testing
@testable import WarrantGateCore
import X509

@Suite("courts.yaml")
struct CourtDirectoryFileTests {
    /// Copies the example `courts.yaml` beside CA files made now, and loads it.
    @Test("the example file loads, with its courts, platform patterns and time-stamping authorities")
    func example() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let example = try String(contentsOfFile: Repository.path("Tests/WarrantGateCoreTests/Fixtures/courts/courts.yaml"), encoding: .utf8)
        try scratch.write("courts.yaml", Array(example.utf8))
        let court = try TestCourtCA(name: "Denver County Court")
        let platform = try TestCourtCA(name: "E-Sign Platform")
        let tsa = try TestCourtCA(name: "E-Sign TSA")
        try scratch.write("denver-county-court-ca.pem", Array(court.certificatePEM.utf8))
        try scratch.write("esign-platform-ca.pem", Array((platform.certificatePEM + "\n" + court.certificatePEM).utf8))
        try scratch.write("esign-tsa.pem", Array(tsa.certificatePEM.utf8))

        let directory = try CourtDirectoryFile.load(path: scratch.path("courts.yaml"))
        #expect(directory.courts.map(\.id) == ["denver-county-court", "denver-district-court-esign"])
        let county = try #require(directory.court(id: "denver-county-court"))
        #expect(county.kind == .court)
        #expect(county.signingAuthorities == [court.certificate])
        #expect(county.subjectPatterns.isEmpty)
        let esign = try #require(directory.court(id: "denver-district-court-esign"))
        #expect(esign.kind == .platform)
        #expect(esign.signingAuthorities.count == 2)
        #expect(esign.subjectPatterns == [SubjectPattern(attributes: ["O": "Denver District Court", "OU": "Criminal Division"])])
        #expect(esign.timestampAuthorities == [tsa.certificate])
    }

    private func error(_ yaml: String, files: [String: String] = [:]) throws -> FileError? {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let ca = try TestCourtCA(name: "Court")
        try scratch.write("ca.pem", Array(ca.certificatePEM.utf8))
        for (name, text) in files { try scratch.write(name, Array(text.utf8)) }
        try scratch.write("courts.yaml", Array(yaml.utf8))
        do {
            _ = try CourtDirectoryFile.load(path: scratch.path("courts.yaml"))
            return nil
        } catch let error as FileError {
            return error
        }
    }

    @Test("errors name the line and the field")
    func errors() throws {
        let unknownKey = try error("courts:\n  - id: c\n    certificates: ca.pem\n    signers: []\n")
        #expect(unknownKey?.line == 4)
        #expect(unknownKey?.message.contains("unknown key 'signers'") == true)

        let platform = try error("courts:\n  - id: p\n    kind: platform\n    certificates: ca.pem\n")
        #expect(platform?.message.contains("needs subjects") == true)

        let attribute = try error("courts:\n  - id: c\n    certificates: ca.pem\n    subjects:\n      - { O: Court, X: y }\n")
        #expect(attribute?.line == 5)
        #expect(attribute?.message.contains("unknown key 'X'") == true)

        let missing = try error("courts:\n  - id: c\n    certificates: [ca.pem, missing.pem]\n")
        #expect(missing?.line == 3)
        #expect(missing?.message.contains("missing.pem") == true)

        let notPEM = try error("courts:\n  - id: c\n    certificates: key.pem\n", files: ["key.pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
        #expect(notPEM?.message.contains("PRIVATE KEY") == true)

        let twice = try error("courts:\n  - id: c\n    certificates: ca.pem\n  - id: c\n    certificates: ca.pem\n")
        #expect(twice?.line == 4)
        #expect(twice?.message.contains("listed twice") == true)

        let badID = try error("courts:\n  - id: Denver Court\n    certificates: ca.pem\n")
        #expect(badID?.message.contains("court id") == true)

        let kind = try error("courts:\n  - id: c\n    kind: judge\n    certificates: ca.pem\n")
        #expect(kind?.line == 3)

        let topLevel = try error("courts: []\nagencies: []\n")
        #expect(topLevel?.message.contains("unknown key 'agencies'") == true)

        let alias = try error("courts:\n  - &a { id: c, certificates: ca.pem }\n  - *a\n")
        #expect(alias?.message.contains("aliases") == true)

        // Loaded, these looked narrower than they were: any signer, or any customer of the platform who calls
        // themselves "clerk".
        let noSubjects = try error("courts:\n  - id: c\n    certificates: ca.pem\n    subjects: []\n")
        #expect(noSubjects?.message.contains("would accept any signer") == true, "\(String(describing: noSubjects))")
        let commonNameOnly = try error("courts:\n  - id: p\n    kind: platform\n    certificates: ca.pem\n    subjects:\n      - { CN: clerk }\n")
        #expect(commonNameOnly?.message.contains("must name O or serialNumber") == true, "\(String(describing: commonNameOnly))")
        // An attacker's pass (helper 241): `{ C: US }` took any US customer of the platform for the court.
        for subject in ["{ C: US }", "{ ST: Colorado, CN: clerk }", "{ L: Denver, OU: Criminal Division, emailAddress: a@b.example }"] {
            let loose = try error("courts:\n  - id: p\n    kind: platform\n    certificates: ca.pem\n    subjects:\n      - \(subject)\n")
            #expect(loose?.message.contains("must name O or serialNumber") == true, "\(subject): \(String(describing: loose))")
        }
    }

    @Test("a subject pattern matches the value as the certificate holds it, not as RFC 4514 escapes it")
    func unescapedValues() throws {
        let name = "U.S. District Court, D. Colo. + \"Criminal\"; <1>"
        let subject = try DistinguishedName {
            OrganizationName(name)
            CommonName("Clerk")
        }
        let organization = try #require(subject.first.flatMap(\.first)?.value)
        #expect(String(describing: organization) != name, "RFC 4514 escapes the value")
        let pattern = try #require(SubjectPattern(attributes: ["O": name]))
        #expect(pattern.matches(subject))
    }
}
