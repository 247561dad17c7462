import Foundation
import Testing
@testable import WarrantGateCore

/// The shipped NIEM profile, and the shipped policies' redaction of real NIEM documents of four releases.
@Suite("NIEM profile")
struct NIEMProfileTests {
    static let profile = try! RedactionProfile.load(path: Repository.path("policies/profiles/niem-immigration.yaml"))
    static let fixtures = ["niem-2.0", "niem-4.0", "niem-5.2", "niem-6.0"]
    /// The profile's elements: each is a qualified name.
    static let elements = profile.concepts.values.joined().map { QualifiedName(clark: $0)! }

    /// Every element's expanded name, in document order, read by libxml2 (through ``XMLEvents``).
    private static func elements(_ document: [UInt8]) throws -> [QualifiedName] {
        let parsed = XMLEvents(parsing: document)
        guard parsed.accepted else { throw RedactionError(.malformed, "libxml2 refused the document: \(parsed.errors)", offset: 0) }
        return parsed.events.compactMap { event in
            if case .start(let uri, let local, _) = event { QualifiedName(namespace: uri, local: local) } else { nil }
        }
    }

    private static func redact(_ document: [UInt8], names: some Sequence<String>) throws -> (output: [UInt8], removed: Int) {
        let redaction = XMLRedaction(names: RedactedNames(names))
        var output: [UInt8] = []
        try document.withUnsafeBytes { try redaction.feed($0) { output.append(contentsOf: $0) } }
        try redaction.finish { output.append(contentsOf: $0) }
        return (output, redaction.removed)
    }

    @Test("covers every release's core namespace and six concepts, each listing concrete elements")
    func coverage() {
        #expect(Set(Self.profile.concepts.keys) == ["citizenship", "nationality", "birthplace", "alien-number", "immigration-status", "illegal-alien-indicator"])
        let namespaces = Set(Self.elements.map(\.namespace))
        for core in [
            "http://niem.gov/niem/niem-core/2.0", "http://release.niem.gov/niem/niem-core/3.0/", "http://release.niem.gov/niem/niem-core/4.0/",
            "http://release.niem.gov/niem/niem-core/5.0/", "https://docs.oasis-open.org/niemopen/ns/model/niem-core/6.0/",
        ] {
            #expect(namespaces.contains(core), "\(core)")
        }
        // Abstract substitution heads never appear in documents.
        #expect(!Self.elements.contains { $0.local.hasSuffix("Abstract") })
    }

    @Test("Denver's policy strips profile elements from NIEM JSON-LD, whose 3.0 to 5.2 contexts add '#' to the namespace")
    func jsonLD() throws {
        let policy = try Repository.denver()
        for (context, citizenship) in [
            ("http://release.niem.gov/niem/niem-core/5.0/#", "PersonCitizenship"), ("http://release.niem.gov/niem/niem-core/4.0/#", "PersonCitizenshipText"),
            ("http://release.niem.gov/niem/niem-core/3.0/#", "PersonCitizenshipISO3166Alpha2Code"), ("http://release.niem.gov/niem/niem-core/5.0/", "PersonCitizenship"),
            ("https://docs.oasis-open.org/niemopen/ns/model/niem-core/6.0/", "PersonCitizenship"),
        ] {
            let document = #"{"@context":{"nc":"\#(context)"},"nc:\#(citizenship)":{"nc:CountryRepresentation":"MX"},"nc:PersonName":{"nc:PersonGivenName":"Ana"}}"#
            let (outcome, _) = JSONStreamingRedactionTests.streamed(document, names: Array(policy.redactAlways))
            #expect(outcome == .accepted(#"{"@context":{"nc":"\#(context)"},"nc:PersonName":{"nc:PersonGivenName":"Ana"}}"#, removed: 1), "\(context)")
        }
    }

    @Test("Denver's policy strips profile elements from JSON that uses NIEM's names as plain keys, without a context")
    func plainJSON() throws {
        let policy = try Repository.denver()
        let document = #"{"PersonName":{"PersonGivenName":"Ana"},"PersonCitizenshipText":"MX","Person":{"PersonBirthLocation":{"LocationCityName":"X"},"#
            + #""nc:PersonCitizenshipISO3166Alpha2Code":"MX","AlienNumber":"A123"}}"#
        let (outcome, _) = JSONStreamingRedactionTests.streamed(document, names: Array(policy.redactAlways))
        #expect(outcome == .accepted(#"{"PersonName":{"PersonGivenName":"Ana"},"Person":{}}"#, removed: 4))
    }

    @Test("Denver's policy strips every profile element from NIEM 2.0, 4.0, 5.2 and 6.0 bookings and keeps the rest", arguments: fixtures)
    func fixture(_ name: String) throws {
        let policy = try Repository.denver()
        let profileNames = Set(Self.elements)
        #expect(profileNames.allSatisfy { policy.redactAlways.contains($0.clark) })
        let document = Array(try Data(contentsOf: URL(fileURLWithPath: Repository.path("Tests/WarrantGateCoreTests/Fixtures/niem/\(name).xml"))))
        let before = try Self.elements(document)
        let present = before.filter(profileNames.contains)
        #expect(present.count >= 5, "the fixture carries immigration elements")

        let (output, removed) = try Self.redact(document, names: policy.redactAlways)
        let after = try Self.elements(output)
        #expect(!after.contains(where: profileNames.contains))
        #expect(removed >= 5)
        #expect(after.contains { $0.local == "PersonGivenName" })
        // Only profile elements and their descendants went: everything else is still there, in order.
        #expect(after.count < before.count)
        #expect(Set(after).isSubset(of: Set(before)))
    }

    /// The screening domain's birthplace city is `BirthPlaceNearLargeCityName` in NIEM 2.0 and 2.1 and
    /// `BirthplaceNearLargeCityName` from 3.0; its `BiographicType` container is not removed, so each spelling must be
    /// listed in its releases.
    @Test("the screening domain's birthplace city is removed under each release's spelling")
    func screeningBirthplaceCity() throws {
        let policy = try Repository.denver()
        for (namespace, local) in [
            ("http://niem.gov/niem/domains/screening/2.0", "BirthPlaceNearLargeCityName"),
            ("http://niem.gov/niem/domains/screening/2.1", "BirthPlaceNearLargeCityName"),
            ("http://release.niem.gov/niem/domains/screening/3.0/", "BirthplaceNearLargeCityName"),
        ] {
            let document = #"<scr:Biographic xmlns:scr="\#(namespace)"><scr:\#(local)>Guadalajara</scr:\#(local)></scr:Biographic>"#
            let (output, removed) = try Self.redact(Array(document.utf8), names: policy.redactAlways)
            #expect(String(decoding: output, as: UTF8.self) == #"<scr:Biographic xmlns:scr="\#(namespace)"></scr:Biographic>"#, "\(namespace)")
            #expect(removed == 1)
        }
    }

    /// An attacker's pass: a records system that borrows NIEM's names without its namespaces (none, a county's own,
    /// or NIEM's URI written with https) passed citizenship in XML, while JSON removed the same names.
    @Test("the same elements under other prefixes, as the default namespace, in another namespace or none, are removed")
    func prefixes() throws {
        let nc = "http://release.niem.gov/niem/niem-core/4.0/"
        let document = """
            <r xmlns:core="\(nc)" xmlns:x="urn:county:ext"><core:PersonCitizenshipText>GT</core:PersonCitizenshipText>\
            <PersonCitizenshipText xmlns="\(nc)">GT</PersonCitizenshipText><x:PersonCitizenshipText>MX</x:PersonCitizenshipText>\
            <PersonNationalityText>MX</PersonNationalityText><y:PersonCitizenshipISO3166Alpha2Code xmlns:y="https://release.niem.gov/niem/niem-core/4.0/">\
            MX</y:PersonCitizenshipISO3166Alpha2Code><PersonName>kept</PersonName></r>
            """
        let policy = try Repository.denver()
        let (output, removed) = try Self.redact(Array(document.utf8), names: policy.redactAlways)
        #expect(String(decoding: output, as: UTF8.self) == #"<r xmlns:core="\#(nc)" xmlns:x="urn:county:ext"><PersonName>kept</PersonName></r>"#)
        #expect(removed == 5)
    }
}
