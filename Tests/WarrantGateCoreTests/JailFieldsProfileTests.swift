import Foundation
import Testing
@testable import WarrantGateCore

/// The shipped profile of the plain names records systems give citizenship and immigration facts.
@Suite("Jail fields profile")
struct JailFieldsProfileTests {
    static let profile = try! RedactionProfile.load(path: Repository.path("policies/profiles/jail-fields.yaml"))

    @Test("its concepts are the NIEM profile's, each listing plain field names")
    func concepts() throws {
        let niem = try RedactionProfile.load(path: Repository.path("policies/profiles/niem-immigration.yaml"))
        #expect(Set(Self.profile.concepts.keys).isSubset(of: Set(niem.concepts.keys)))
        #expect(Self.profile.concepts.values.joined().allSatisfy { !$0.hasPrefix("{") && $0 == $0.lowercased() })
    }

    /// An audit's pass: a records system's own names for the facts (an alien registration number as `alienRegNo`, a
    /// visa's type, a birth city) reached local police under Denver's policy, which listed a few names each.
    @Test("Denver's policy strips the facts from JSON under the names records systems give them, in any spelling")
    func denverRecord() throws {
        let policy = try Repository.denver()
        let document = #"{"bookingNumber":"2017-000123","alien_reg_no":"A1","USCIS-Number":"U1","VisaType":"H-2A","birthCity":"Juarez","#
            + #""citizenshipCountry":"MX","nationalityCode":"MX","isUSCitizen":false,"immigration":{"hold":true},"housingUnit":"4B"}"#
        let (outcome, _) = JSONStreamingRedactionTests.streamed(document, names: Array(policy.redactAlways))
        #expect(outcome == .accepted(#"{"bookingNumber":"2017-000123","housingUnit":"4B"}"#, removed: 8))
    }

    @Test("a profile may list plain names without namespaces; one listed twice in another spelling is refused")
    func plainNames() throws {
        let profile = try RedactionProfile.parse("profile: p\nconcepts:\n  c: [alienNumber, field:Número de extranjero]\n", file: "p.yaml")
        #expect(profile.concepts["c"] == ["aliennumber", "número de extranjero"])
        #expect(throws: (any Error).self) {
            try RedactionProfile.parse("profile: p\nconcepts:\n  c: [alienNumber, alien_number]\n", file: "p.yaml")
        }
        #expect(throws: (any Error).self) {
            try RedactionProfile.parse("profile: p\nconcepts:\n  c: [nc:PersonCitizenship]\n", file: "p.yaml")
        }
    }
}
