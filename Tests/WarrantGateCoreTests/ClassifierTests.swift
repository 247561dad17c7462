import Testing
@testable import WarrantGateCore

@Suite("Classification against Denver's routes")
struct ClassifierTests {
    let classifier: Classifier

    init() throws {
        classifier = try Repository.denver().classifier
    }

    private func classify(_ method: String, _ raw: String, body: String? = nil, contentType: String = "application/json") throws -> Classification {
        let target = try CanonicalTarget(raw: raw)
        let match = try classifier.match(method: method, target: target)
        return try classifier.classify(
            route: match.route, parameters: match.parameters, target: target, body: body.map { Array($0.utf8) }, contentType: body.map { _ in contentType }
        )
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
        let classification = try classify(
            "POST", "/visitation/visits", body: #"{"bookingNumber":"2017-000789","visitor":"A. Lawyer","scheduledFor":"2026-12-01T16:00:00-07:00"}"#
        )
        #expect(classification.action == "visitation.schedule")
        #expect(classification.subject == "2017-000789")
        #expect(classification.until == Timestamp.parse("2026-12-01T23:00:00Z"))
    }

    /// An attacker's pass (helper 244): a visit's id that is another inmate's booking number, which an upstream that
    /// looks the visit up by any id it holds acts on.
    @Test("a path parameter other than the subject that reads as another booking number is refused")
    func secondInmateInPath() throws {
        #expect(throws: ClassificationFailure.self) { try classify("DELETE", "/visitation/visits/2019-000999?booking=2017-000123") }
        #expect(try classify("DELETE", "/visitation/visits/V-88?booking=2017-000123").subject == "2017-000123")
        #expect(try classify("DELETE", "/visitation/visits/2017-000123?booking=2017-000123").subject == "2017-000123")
    }

    /// An attacker's pass (helper 244): a body naming a second inmate in a member of its own (`inmateId`, `booking`, or
    /// deeper), which an upstream binding an alias or a fallback reads instead, was decided on the first.
    @Test("a body that names another booking number anywhere is refused; the same one elsewhere is not")
    func secondInmateInBody() throws {
        // A review's pass (helper 245): as lenient readers read it too, and as a key.
        for other in [
            #""inmateId":"2019-000999""#, #""booking":" 2019-000999""#, #""visitor":{"ids":["x","2019-000999"]}"#, #""a":"2019-000999\u0001""#,
            #""a":"２０１９-０００９９９""#, #""holds":{"2019-000999":{}}"#,
        ] {
            let body = #"{"bookingNumber":"2017-000789",\#(other),"scheduledFor":"2026-12-01T16:00:00-07:00"}"#
            do {
                _ = try classify("POST", "/visitation/visits", body: body)
                Issue.record("accepted: \(body)")
            } catch let failure as ClassificationFailure {
                #expect("\(failure)".contains("another booking number"), "\(body): \(failure)")
            }
        }
        let digits = SubjectFormat(pattern: "##########"), letters = SubjectFormat(pattern: "AA-####")
        #expect(digits.namesAnother("2.019000999e9", than: "2017000123") && digits.namesAnother("02019000999", than: "2017000123"))
        #expect(!digits.namesAnother("02017000123", than: "2017000123") && !digits.namesAnother("2017000123.0", than: "2017000123"))
        #expect(letters.namesAnother("ab-9999", than: "AB-1234") && !letters.namesAnother("ab-1234", than: "AB-1234"))
        // A review's pass (helper 246): other scripts' digits, truncated fractions, a number's lead, underscores, padding.
        for other in ["٢٠١٩٠٠٠٩٩٩", "2019000999.5", "2.0190009995e9", "2019000999abc", "2_019_000_999", String(repeating: "0", count: 5000) + "2019000999"] {
            #expect(digits.namesAnother(other, than: "2017000123"), "\(other.suffix(20))")
        }
        // A count or a page size is no booking number; a long text is none either.
        for value in ["1", "10", "0", "-0", "+", "", String(repeating: "x", count: 100_000)] {
            #expect(!digits.namesAnother(value, than: "2017000123"), "\(value.prefix(10))")
        }
        let hyphenated = SubjectFormat(pattern: "####-######")
        #expect(hyphenated.namesAnother("2019-0\u{AD}00999", than: "2017-000123") && hyphenated.namesAnother("２０１９-０００９９９", than: "2017-000123"))
        #expect(hyphenated.namesAnother(String(repeating: " ", count: 100_000) + "2019-000999", than: "2017-000123"))
        let same = #"{"bookingNumber":"2017-000789","visitor":{"regarding":"2017-000789"},"note":"2017-00078","scheduledFor":"2026-12-01T16:00:00-07:00"}"#
        #expect(try classify("POST", "/visitation/visits", body: same).subject == "2017-000789")
    }

    /// A helper's pass: a hold booked until 2099 under a warrant that expires tomorrow, and a hold filed under an I-200
    /// while the Warrant-Reference named the judicial warrant, both passed.
    @Test("a route reads when its action ends or takes place, and the document its body cites")
    func untilAndCitedDocument() throws {
        let hold = try classify(
            "POST", "/custody/holds", body: #"{"bookingNumber":"2017-000456","requestedBy":"ice-ero","documentReference":"CAW-1","holdUntil":"2027-01-01T00:00:00Z"}"#
        )
        #expect(hold.citedDocument == "CAW-1" && hold.until == Timestamp.parse("2027-01-01T00:00:00Z"))
        for (stated, utc) in [("2026-12-31T23:00:00+14:00", "2026-12-31T09:00:00Z"), ("2026-12-31T01:00:00.5-12:00", "2026-12-31T13:00:00.5Z")] {
            let body = #"{"bookingNumber":"2017-000456","requestedBy":"ice-ero","holdUntil":"\#(stated)"}"#
            #expect(try classify("POST", "/custody/holds", body: body).until == Timestamp.parse(utc), "\(stated)")
        }
        for body in [
            #"{"bookingNumber":"2017-000456","documentReference":"CAW-1"}"#,  // no end: a hold without one could be open-ended
            #"{"bookingNumber":"2017-000456","holdUntil":"2027-01-01"}"#,  // no time and offset: read differently by each parser
            #"{"bookingNumber":"2017-000456","holdUntil":"2099-12-31T17:00:00Z","hold":{"holdUntil":"2027-01-01T00:00:00Z"}}"#,
            #"{"bookingNumber":"2017-000456","holdUntil":"2027-01-01T00:00:00Z","document_reference":"I200-1"}"#,
            #"{"bookingNumber":"2017-000456","holdUntil":"2027-01-01T00:00:00Z","documentReference":7}"#,
            // A re-pass: a Kelvin sign equals K to Swift's Strings, not to the upstream; offsets no place keeps, and
            // forms a strict parser reads otherwise.
            #"{"bookingNumber":"2017-000456","holdUntil":"2027-01-01T00:00:00Z","documentReference":"\u212AW-1"}"#,
            #"{"bookingNumber":"2017-000456","holdUntil":"2026-12-11T23:00:00+23:59"}"#,
            #"{"bookingNumber":"2017-000456","holdUntil":"2026-12-11T23:00:00-13:00"}"#,
            #"{"bookingNumber":"2017-000456","holdUntil":"2026-12-11 23:00:00Z"}"#,
            #"{"bookingNumber":"2017-000456","holdUntil":"2026-12-11t23:00:00z"}"#,
        ] {
            #expect(throws: ClassificationFailure.self, "\(body)") { try classify("POST", "/custody/holds", body: body) }
        }
        // A review: the query may not carry them either, for an upstream that merges it into its input.
        let body = #"{"bookingNumber":"2017-000456","requestedBy":"ice-ero","holdUntil":"2027-01-01T00:00:00Z"}"#
        for query in ["documentReference=I200-1", "requestedBy=denver-pd", "hold%5BholdUntil%5D=2099-12-31T00:00:00Z", "HOLDUNTIL=2099-12-31T00:00:00Z"] {
            #expect(throws: ClassificationFailure.self, "\(query)") { try classify("POST", "/custody/holds?" + query, body: body) }
        }
    }

    /// An attacker's reading: a local agency allowed to book its own transfers posted `receivingAgency: ice-ero`, and
    /// the custody system filed a transfer into ICE's custody that no policy stage had weighed as ICE's.
    @Test("a route reads the agency its body makes the request for, once and as a string")
    func statedAgency() throws {
        let transfer = try classify(
            "POST", "/custody/transfers", body: #"{"bookingNumber":"2017-000456","receivingAgency":"ice-ero","at":"2027-01-01T00:00:00Z"}"#
        )
        #expect(transfer.statedAgency == "ice-ero")
        for body in [
            #"{"bookingNumber":"2017-000456","at":"2027-01-01T00:00:00Z"}"#,
            #"{"bookingNumber":"2017-000456","receivingAgency":null,"at":"2027-01-01T00:00:00Z"}"#,
            #"{"bookingNumber":"2017-000456","receivingAgency":"denver-pd","receiving_agency":"ice-ero","at":"2027-01-01T00:00:00Z"}"#,
            #"{"bookingNumber":"2017-000456","receivingAgency":"denver-pd","transfer":{"receivingAgency":"ice-ero"},"at":"2027-01-01T00:00:00Z"}"#,
        ] {
            #expect(throws: ClassificationFailure.self, "\(body)") { try classify("POST", "/custody/transfers", body: body) }
        }
    }

    /// A red-team pass: the snake and kebab spellings the body check refuses passed in the query, where an upstream that
    /// merges the query into its input and maps camelCase to snake_case (Rails with a parameter-key middleware, the
    /// query winning) reads them.
    @Test("the query names no member the body is read for, in any spelling the body check refuses")
    func bodyMembersSpeltOtherwiseInTheQuery() throws {
        let transfer = #"{"bookingNumber":"2017-000456","receivingAgency":"denver-pd","at":"2027-01-01T00:00:00Z"}"#
        let agency = ClassificationFailure.bodyInvalid("the body member 'receivingAgency' must not also stand in the query")
        // `receiving%20agency` is PHP's `receiving_agency`; `Receiving.Agency` a dotted one.
        for query in ["receiving_agency", "receiving-agency", "receiving%20agency", "transfer%5Breceiving_agency%5D", "RECEIVING_AGENCY", "Receiving.Agency"] {
            #expect(throws: agency, "\(query)") { try classify("POST", "/custody/transfers?\(query)=ice-ero", body: transfer) }
        }
        #expect(throws: ClassificationFailure.subjectMissing("the subject's name 'bookingNumber' must not also stand in the query")) {
            try classify("POST", "/custody/transfers?booking_number=2017-000123", body: transfer)
        }
        let hold = #"{"bookingNumber":"2017-000456","requestedBy":"ice-ero","holdUntil":"2027-01-01T00:00:00Z"}"#
        #expect(throws: ClassificationFailure.bodyInvalid("the body member 'holdUntil' must not also stand in the query")) {
            try classify("POST", "/custody/holds?hold_until=2099-12-31T00:00:00Z", body: hold)
        }
        #expect(throws: ClassificationFailure.bodyInvalid("the body member 'documentReference' must not also stand in the query")) {
            try classify("POST", "/custody/holds?document-reference=I200-1", body: hold)
        }
        #expect(throws: ClassificationFailure.queryUndeclared("the query holds a parameter this route does not take")) { try classify("POST", "/custody/transfers?receiving=1&agency=2", body: transfer) }
    }

    /// A red-team pass: a member spelt in another letter case was decided on as the member, while an upstream that
    /// binds names exactly (Codable, System.Text.Json and Jackson by default) read none: `ReceivingAgency` passed the
    /// agency check, `HOLDUNTIL` the warrant's in-force check.
    @Test("a member the route reads is spelt exactly as declared: another spelling is refused, alone or beside it, and named")
    func membersSpeltExactly() throws {
        for (path, body, key) in [
            ("/custody/transfers", #"{"bookingNumber":"2017-000456","ReceivingAgency":"denver-pd","at":"2027-01-01T00:00:00Z"}"#, "ReceivingAgency"),
            ("/custody/holds", #"{"bookingNumber":"2017-000456","requestedBy":"ice-ero","HOLDUNTIL":"2027-01-15T17:00:00Z"}"#, "HOLDUNTIL"),
            ("/custody/holds", #"{"BookingNumber":"2017-000456","requestedBy":"ice-ero","holdUntil":"2027-01-15T17:00:00Z"}"#, "BookingNumber"),
            ("/custody/holds", #"{"bookingNumber":"2017-000456","requestedBy":"ice-ero","holdUntil":"2027-01-15T17:00:00Z","DocumentReference":"I200-1"}"#, "DocumentReference"),
            ("/custody/transfers", #"{"bookingNumber":"2017-000456","receivingAgency":"denver-pd","ReceivingAgency":"ice-ero","at":"2027-01-01T00:00:00Z"}"#, "ReceivingAgency"),
        ] {
            do {
                let classification = try classify("POST", path, body: body)
                Issue.record("\(body) passed, stating \(classification.statedAgency ?? "no agency")")
            } catch let failure as ClassificationFailure {
                #expect(failure.reason == .bodyInvalid, "\(body)")
                #expect(failure.detail.contains("\"\(key)\""), "\(failure.detail)")
            }
        }
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
            try classify("POST", "/visitation/visits?bookingnumber=2017-000456", body: #"{"bookingNumber":"2017-000789","scheduledFor":"2026-12-01T16:00:00Z"}"#)
        }
        #expect(throws: ClassificationFailure.queryUndeclared("the query holds a parameter this route does not take")) { try classify("GET", "/records/inmates/2017-000123?view=summary") }
        // A helper's pass: nested under a wrapper key, as Rails and `qs` read it.
        for query in ["visit%5BbookingNumber%5D=2017-000456", "visit.bookingNumber=2017-000456", "a%5Bb%5D%5BBookingNumber%5D=1"] {
            #expect(throws: ClassificationFailure.self, "\(query)") {
                try classify("POST", "/visitation/visits?" + query, body: #"{"bookingNumber":"2017-000789","scheduledFor":"2026-12-01T16:00:00Z"}"#)
            }
        }
    }

    /// An attacker's pass: a query subject's name with other separators, or nested under a wrapper key, passed
    /// beside it, unread, to an upstream that maps names to camelCase or reads nested parameters.
    @Test("a subject read from the query is named there once, in no other spelling")
    func querySubjectSpelledTwice() throws {
        for query in ["book_ing=2017-000123", "BOOK-ING=2017-000123", "book.ing=2017-000123", "visit%5Bbooking%5D=2017-000123"] {
            #expect(throws: ClassificationFailure.self, "\(query)") { try classify("GET", "/visitation/visits?booking=2017-000456&" + query) }
        }
        #expect(try classify("GET", "/visitation/visits?booking=2017-000456").subject == "2017-000456")
        #expect(try classify("GET", "/visitation/visits?Booking=2017-000456").subject == "2017-000456")
        #expect(throws: ClassificationFailure.queryUndeclared("the query holds a parameter this route does not take")) { try classify("GET", "/visitation/visits?Booking=2017-000456&view=all") }
    }

    /// An attacker's pass: every query parameter but those that could carry the subject or a body member went to the
    /// upstream unread: another inmate's booking number under the upstream's own name for it (`id`, `inmateId`) beside
    /// the one the warrant covers, a visit's id beside the inmate the policy checked, a public locator's `$expand=record`.
    /// A route takes only the parameters it declares (`query:`), each once, by exact name.
    /// An attacker's pass: a JSON route forwarded its Content-Type's parameters as the client wrote them, and a
    /// framework that picks a controller version by one (`application/json; v=2.0`) reads the body otherwise.
    @Test("a JSON route's body type names a charset at most")
    func jsonBodyTypeParameters() throws {
        let route = try #require(classifier.routes.first { $0.id == "detainer-hold" })
        for accepted in ["application/json", "application/json; charset=utf-8", "application/json;CHARSET=\"UTF-8\""] {
            #expect(classifier.bodyTypeViolation(route: route, contentType: accepted) == nil, "\(accepted)")
        }
        for refused in ["application/json; v=2.0", "application/json; charset=utf-8; version=2", "application/json; x-api-version=2"] {
            #expect(classifier.bodyTypeViolation(route: route, contentType: refused)?.contains("no other parameter") == true, "\(refused)")
        }
    }

    @Test("a route takes only the query parameters it declares, each once")
    func declaredQuery() throws {
        let route = Route(
            id: "inmate-record", method: "GET", template: try #require(Route.parseTemplate("/records/inmates/{booking}")), action: "records.read",
            subject: .pathParameter("booking"), upstream: "records", query: ["view", "$top"]
        )
        let declaring = Classifier(routes: [route], subjectFormat: classifier.subjectFormat, factMembers: [])
        func classify(_ raw: String) throws -> Classification {
            let target = try CanonicalTarget(raw: raw)
            let match = try declaring.match(method: "GET", target: target)
            return try declaring.classify(route: match.route, parameters: match.parameters, target: target, body: nil, contentType: nil)
        }
        #expect(try classify("/records/inmates/2017-000123?view=summary&%24top=5").subject == "2017-000123")
        #expect(try classify("/records/inmates/2017-000123").subject == "2017-000123")
        for query in ["id=2017-000456", "inmateId=2017-000456", "%24expand=record", "View=summary", "view%5B%5D=a"] {
            #expect(throws: ClassificationFailure.queryUndeclared("the query holds a parameter this route does not take (it takes $top, view)"), "\(query)") {
                try classify("/records/inmates/2017-000123?" + query)
            }
        }
        #expect(throws: ClassificationFailure.queryUndeclared("query parameter 'view' is given more than once")) {
            try classify("/records/inmates/2017-000123?view=a&view=b")
        }
    }

    /// A helper's pass: the body's other members were not read, and upstream binders read some of them as the
    /// subject or the method.
    @Test("a JSON body names its subject once, at its top level, in no other spelling, and overrides no method")
    func bodyReadByEveryBinder() throws {
        for body in [
            #"{"bookingNumber":"2017-000123","visit":{"bookingNumber":"2017-000456"}}"#,  // Rails' wrapper key
            #"{"bookingNumber":"2017-000123","visits":[{"BookingNumber":"2017-000456"}]}"#,
            #"{"bookingNumber":"2017-000123","booking_number":"2017-000456"}"#,  // a snake-case naming strategy
            #"{"bookingNumber":"2017-000123","booking-number":"2017-000456"}"#,
            #"{"bookingNumber\u0000":"2017-000456","bookingNumber":"2017-000123"}"#,  // a C-string parser's key
            #"{"bookingNumber":"2017-000123","x":{"a":1,"a":2}}"#,
            #"{"bookingNumber":"2017-000123","_method":"DELETE"}"#,  // Laravel's method override
            #"{"bookingNumber":"2017-000123","X-HTTP-Method-Override":"DELETE"}"#,
        ] {
            #expect(throws: ClassificationFailure.self, "\(body)") { try classify("POST", "/visitation/visits", body: body) }
        }
        let nested = #"{"bookingNumber":"2017-000123","visitor":{"name":"A. Lawyer","method":"in person"},"slots":[{"at":"10:00"}],"scheduledFor":"2026-12-01T16:00:00Z"}"#
        #expect(try classify("POST", "/visitation/visits", body: nested).subject == "2017-000123")
    }

    /// Helper 244's pass: a route whose subject is in its path forwarded its body unread, and an upstream that merges
    /// a JSON body's members with the path's parameters may take the inmate from the body.
    @Test("a body forwarded beside a subject in the target names no other inmate, when it may be read as JSON")
    func forwardedBodyBesideTargetSubject() throws {
        let route = Route(
            id: "inmate-note", method: "POST", template: try #require(Route.parseTemplate("/records/inmates/{booking}/notes")),
            action: "records.annotate", subject: .pathParameter("booking"), upstream: "records"
        )
        let notes = Classifier(routes: [route], subjectFormat: classifier.subjectFormat, factMembers: [])
        func classify(_ body: String, _ contentType: String? = "application/json") throws -> Classification {
            let target = try CanonicalTarget(raw: "/records/inmates/2017-000123/notes")
            let match = try notes.match(method: "POST", target: target)
            return try notes.classify(route: match.route, parameters: match.parameters, target: target, body: Array(body.utf8), contentType: contentType)
        }
        for (body, type) in [
            (#"{"booking":"2019-000999","text":"moved"}"#, "application/json"),  // the path's parameter, from the body
            (#"{"note":{"Booking":"2017-000123"}}"#, "application/json"),
            (#"[{"booking_":"2017-000123"}]"#, "application/json"),
            (#"{"inmate":"2019-000999"}"#, "application/json"),  // another booking number, under any key
            (#"{"2019-000999":{"text":"moved"}}"#, "application/json"),
            (#""2019-000999""#, "application/json"),  // a scalar body, which [FromBody] binds
            (#"{"text":"moved","_method":"DELETE"}"#, "application/json"),
            (#"{"inmate":"2019-000999"}"#, "text/json"),
            (#"{"inmate":"2019-000999"}"#, "application/vnd.jail.v2+json"),
            (#" {"inmate":"2019-000999"}"#, "text/plain"),  // opens as JSON: a framework that reads every body as JSON
            (#"[{"inmate":"2019-000999"}]"#, nil),
            (#"{"text":"moved""#, "application/json"),  // a type that names JSON must be JSON
            ("{\"text\":\"moved\"}\u{0}", "application/json; charset=utf-16"),
        ] as [(String, String?)] {
            #expect(throws: ClassificationFailure.self, "\(body) as \(type ?? "untyped")") { try classify(body, type) }
        }
        for (body, type) in [
            (#"{"text":"moved to block C","by":"deputy 4471","at":"2026-12-01T16:00:00Z"}"#, "application/json"),
            (#"{"text":"same inmate","ref":"2017-000123"}"#, "application/json"),
            ("inmate 2019-000999 asked for a visit", "text/plain"),  // not JSON to any reader
            ("%PDF-1.7 {booking 2019-000999}", "application/pdf"),
            ("", nil),
            ("", "application/json"),  // no body: what many clients send with their default type (review 250)
        ] as [(String, String?)] {
            #expect(try classify(body, type).subject == "2017-000123", "\(body)")
        }
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
