import Testing
@testable import WarrantGateCore

@Suite("Classification against Denver's routes")
struct ClassifierTests {
    let classifier: Classifier

    init() throws {
        classifier = try Repository.denver().classifier
    }

    private func classify(_ method: String, _ raw: String, body: String? = nil) throws -> Classification {
        let target = try CanonicalTarget(raw: raw)
        let match = try classifier.match(method: method, target: target)
        return try classifier.classify(route: match.route, parameters: match.parameters, target: target, body: body.map { Array($0.utf8) })
    }

    @Test func subjectFromPath() throws {
        let classification = try classify("GET", "/records/inmates/2017-000123")
        #expect(classification.action == "records.read")
        #expect(classification.subject == "2017-000123")
        #expect(try classify("GET", "/records/inmates/2017-000123/release").action == "records.release-date")
    }

    @Test func subjectFromQuery() throws {
        let classification = try classify("GET", "/visitation/visits?booking=2017-000456")
        #expect(classification.action == "visitation.list")
        #expect(classification.subject == "2017-000456")
    }

    @Test func subjectFromBody() throws {
        let classification = try classify("POST", "/visitation/visits", body: #"{"bookingNumber":"2017-000789","visitor":"A. Lawyer"}"#)
        #expect(classification.action == "visitation.schedule")
        #expect(classification.subject == "2017-000789")
    }

    @Test("refuses a subject given twice, in any letter case")
    func duplicates() {
        #expect(throws: ClassificationFailure.self) { try classify("GET", "/visitation/visits?booking=2017-000456&booking=2017-000123") }
        #expect(throws: ClassificationFailure.self) {
            try classify("POST", "/visitation/visits", body: #"{"bookingNumber":"2017-000789","BookingNumber":"2017-000123"}"#)
        }
        // A member name that only Unicode's upper-case mapping makes the subject's (dotless ı), as Java's
        // equalsIgnoreCase reads it.
        for variant in ["bookıngNumber", "bookİngNumber", "BOOKİNGNUMBER"] {
            #expect(throws: ClassificationFailure.self, "\(variant)") {
                try classify("POST", "/visitation/visits", body: #"{"bookingNumber":"2017-000789","\#(variant)":"2017-000123"}"#)
            }
        }
        #expect(throws: ClassificationFailure.self) { try classify("POST", "/visitation/visits", body: #"{"visitor":"x"}"#) }
        #expect(throws: ClassificationFailure.self) { try classify("POST", "/visitation/visits", body: "not json") }
    }

    @Test("a subject read from the path or the body is not named in the query too")
    func subjectNamedInTheQuery() throws {
        #expect(throws: ClassificationFailure.subjectMissing("the subject's name 'booking' must not also stand in the query")) {
            try classify("GET", "/records/inmates/2017-000123?Booking%5B%5D=2017-000456")
        }
        #expect(throws: ClassificationFailure.self) {
            try classify("POST", "/visitation/visits?bookingnumber=2017-000456", body: #"{"bookingNumber":"2017-000789"}"#)
        }
        #expect(try classify("GET", "/records/inmates/2017-000123?view=summary").subject == "2017-000123")
    }

    @Test("no route for unknown paths, wrong methods, case variants and trailing dots")
    func noRoute() {
        for (method, path) in [("GET", "/records/admin"), ("PUT", "/records/inmates/2017-000123"), ("GET", "/Records/Inmates/2017-000123")] {
            #expect(throws: ClassificationFailure.noRoute) { try classify(method, path) }
        }
        #expect(throws: ClassificationFailure.self) { try classify("GET", "/records/inmates/2017-000123.") }
    }

    @Test func subjectFormat() {
        let format = SubjectFormat(pattern: "####-######")
        #expect(format.accepts("2017-000123"))
        #expect(!format.accepts("2017-00012a"))
        #expect(!format.accepts("2017-0001234"))
        #expect(!format.accepts("2017-000123."))
    }
}
