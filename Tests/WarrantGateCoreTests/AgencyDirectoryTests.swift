import Foundation
import Testing
import WarrantGateDevPKI
import X509
@testable import WarrantGateCore

@Suite("Agency identity from certificates")
struct AgencyDirectoryTests {
    @Test("subject attributes count only under the named authority; pins match exactly")
    func identifies() throws {
        let ca = try DevCertificateAuthority(commonName: "Test CA")
        let foreign = try DevCertificateAuthority(commonName: "Test CA")  // same name, different key
        let ice = try ClientCertificate(certificate: ca.issueClient(commonName: "ice-ero", organizationalUnit: "ice-ero").certificate)
        let impostor = try ClientCertificate(certificate: foreign.issueClient(commonName: "ice-ero", organizationalUnit: "ice-ero").certificate)
        let pinned = try ClientCertificate(certificate: foreign.issueClient(commonName: "x", organizationalUnit: "x").certificate)
        let directory = AgencyDirectory(
            agencies: [
                Agency(id: "ice-ero", name: "ICE", category: .federalImmigration,
                       subjectMatchers: [SubjectMatcher(authority: "ca", attributes: ["O": "WarrantGate Demo", "OU": "ice-ero"])]),
                Agency(id: "pinned", name: "Pinned", category: .court, spkiPins: [pinned.spkiSHA256]),
            ],
            authorities: [NamedAuthority(name: "ca", certificate: ca.certificate)]
        )
        #expect(directory.identify(ice) == .agency(directory.agency(id: "ice-ero")!))
        #expect(directory.identify(impostor) == .unknown)
        #expect(directory.identify(pinned) == .agency(directory.agency(id: "pinned")!))
        let revoked = directory.amended(agencies: [], extending: [], revocations: [ice.spkiSHA256: "lost laptop"])
        #expect(revoked.identify(ice) == .revoked(reason: "lost laptop", agency: directory.agency(id: "ice-ero")!))
        let unmatched = directory.amended(agencies: [], extending: [], revocations: [impostor.spkiSHA256: "never issued"])
        #expect(unmatched.identify(impostor) == .revoked(reason: "never issued", agency: nil))

        // `agency add ice-ero --category local-law-enforcement --cert …` by one operator: the certificate is added to
        // ICE, which stays federal immigration, still identified by its subject as before.
        let recategorised = directory.amended(
            agencies: [Agency(id: "ice-ero", name: "Local police", category: .localLawEnforcement, spkiPins: [pinned.spkiSHA256])], extending: ["ice-ero"],
            revocations: [:]
        )
        let ero = try #require(recategorised.agency(id: "ice-ero"))
        #expect(ero.category == .federalImmigration && ero.name == "ICE")
        #expect(recategorised.identify(ice) == .agency(ero))
        #expect(recategorised.identify(pinned) == .ambiguous(["ice-ero", "pinned"]))
        // An id the file does not list is added as the registry has it.
        let added = directory.amended(agencies: [Agency(id: "aurora-pd", name: "Aurora", category: .localLawEnforcement)], extending: [], revocations: [:])
        #expect(added.agency(id: "aurora-pd")?.category == .localLawEnforcement)
        // A re-pass: ICE's key pinned in the registry to a new id (`ice-er0`, as a court) locked ICE out as ambiguous.
        // The file's agency wins; two registry agencies on one key are still ambiguous.
        let lookalike = Agency(id: "ice-er0", name: "County court clerk", category: .court, spkiPins: [ice.spkiSHA256])
        let shadowed = directory.amended(agencies: [lookalike], extending: [], revocations: [:])
        #expect(shadowed.identify(ice) == .agency(directory.agency(id: "ice-ero")!))
        let twice = directory.amended(agencies: [Agency(id: "a", name: "A", category: .court, spkiPins: [impostor.spkiSHA256]),
                                                 Agency(id: "b", name: "B", category: .court, spkiPins: [impostor.spkiSHA256])], extending: [],
                                      revocations: [:])
        #expect(twice.identify(impostor) == .ambiguous(["a", "b"]))

        // The file no longer lists ICE: the certificate the registry added to it identifies no one, not an agency of
        // the registry's own with the category it was added under. An agency the registry made itself stays.
        let delisted = AgencyDirectory(agencies: [directory.agency(id: "pinned")!], authorities: [NamedAuthority(name: "ca", certificate: ca.certificate)])
        let leftovers = [
            Agency(id: "ice-ero", name: "ICE", category: .federalImmigration, spkiPins: [ice.spkiSHA256]),
            Agency(id: "aurora-pd", name: "Aurora", category: .localLawEnforcement, spkiPins: [impostor.spkiSHA256]),
        ]
        let ended = delisted.amended(agencies: leftovers, extending: ["ice-ero"], revocations: [:])
        #expect(ended.identify(ice) == .unknown && ended.agency(id: "ice-ero") == nil)
        #expect(ended.identify(impostor) == .agency(leftovers[1]))
        #expect(delisted.amended(agencies: leftovers, extending: [], revocations: [:]).identify(ice) == .agency(leftovers[0]))
    }

    @Test("the shipped directory parses; errors are located")
    func fileErrors() throws {
        let ca = try DevCertificateAuthority(commonName: "Test CA")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-agencies-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let caPath = directory.appendingPathComponent("ca.pem").path
        try ca.certificatePEM.write(toFile: caPath, atomically: true, encoding: .utf8)
        let shipped = try AgencyDirectoryFile.load(path: Repository.path("policies/agencies.yaml"), authorityOverrides: ["demo-ca": caPath])
        #expect(shipped.agency(id: "ice-ero")?.category == .federalImmigration)

        let bad = directory.appendingPathComponent("agencies.yaml")
        try "agencies:\n  - id: x\n    category: spies\n    certificates: [{ spki-sha256: \"00\" }]\n".write(to: bad, atomically: true, encoding: .utf8)
        #expect(throws: FileError.self) { try AgencyDirectoryFile.load(path: bad.path) }
        do {
            _ = try AgencyDirectoryFile.load(path: bad.path)
        } catch let error as FileError {
            #expect(error.line == 3)
            #expect(error.message.contains("unknown category 'spies'"))
        }

        // The package once named the client-CA bundle as its authority: a bundle is said to be one, not "no PEM".
        let bundlePath = directory.appendingPathComponent("bundle.pem").path
        let other = try DevCertificateAuthority(commonName: "Other CA")
        try (ca.certificatePEM + "\n" + other.certificatePEM).write(toFile: bundlePath, atomically: true, encoding: .utf8)
        let bundled = directory.appendingPathComponent("bundled.yaml")
        try "authorities:\n  - name: county-ca\n    certificate: bundle.pem\nagencies: []\n".write(to: bundled, atomically: true, encoding: .utf8)
        let error = try #require(throws: FileError.self) { try AgencyDirectoryFile.load(path: bundled.path) }
        #expect(error.message.contains("holds 2 certificates") && error.message.contains("county-ca"), "\(error.message)")
    }
}
