import Testing
@testable import WarrantGateCore

@Suite("Canonical request targets")
struct CanonicalTargetTests {
    @Test("normalises what is unambiguous, and forwards exactly that", arguments: [
        ("/records/inmates/2017-000123", "/records/inmates/2017-000123"),
        ("//records//inmates/2017-000123", "/records/inmates/2017-000123"),
        ("/records/./inmates/2017-000123/", "/records/inmates/2017-000123"),
        ("/records/public/../inmates/2017-000123", "/records/inmates/2017-000123"),
        ("/records/inmates/%32017-000123", "/records/inmates/2017-000123"),
        ("/visitation/visits?booking=2017-000123", "/visitation/visits?booking=2017-000123"),
        ("/visitation/visits?booking=2017%2D000123", "/visitation/visits?booking=2017-000123"),
        ("/v?a=1+2", "/v?a=1%2B2"),
        ("/v?a=%C3%A9", "/v?a=%C3%A9"),
    ])
    func normalises(raw: String, expected: String) throws {
        #expect(try CanonicalTarget(raw: raw).target == expected)
    }

    @Test("refuses every ambiguous form of the bypass corpus", arguments: [
        "/../records/inmates/1",                // dot segments above the root
        "/records/%2e%2e/admin",                // encoded dots (Traefik CVE-2025-47952)
        "/api%2e%2e/admin",
        "/a%2F..%2Fadmin",                      // encoded slash (Envoy CVE-2021-29492)
        "/a%2f..%2fadmin",
        "/records%5Cinmates",                   // encoded backslash (Istio CVE-2021-31920)
        "/records\\inmates",
        "/v1/..;/internal",                     // semicolon path parameters (istio#27409)
        "/x;a=b/admin",
        "/x%3Ba=b/admin",
        "/a#/../admin",                         // fragment (Envoy CVE-2021-32779)
        "/records/inmates /1",                  // whitespace (nginx CVE-2013-4547)
        "/records/inmates%0a/1",                // encoded newline
        "/records/inmates%00/1",                // NUL
        "/records/%c0%ae%c0%ae/admin",          // overlong UTF-8 (CVE-2000-0884)
        "/records/%252e%252e/admin",            // double encoding (CVE-2001-0333)
        "/v?a=%252e",                           // double encoding in the query
        "/v?a=%c0%ae",                          // overlong UTF-8 in the query
        "/v?a=%0d%0aX-Injected:1",              // CRLF injection through the query
        "/records/inmates/%zz",                 // malformed percent-encoding
        "/records/inmates/%2",
        "records/inmates/1",                    // not origin-form
        "",
        "/records/\u{e9}",                      // raw non-ASCII
    ])
    func refuses(raw: String) {
        #expect(throws: AmbiguousTarget.self) { try CanonicalTarget(raw: raw) }
    }

    @Test("keeps case: matching is case-sensitive downstream")
    func keepsCase() throws {
        #expect(try CanonicalTarget(raw: "/Records/Inmates/1").path == "/Records/Inmates/1")
    }

    @Test("a query name's case variants are more values of it, as frameworks that ignore case read them", arguments: [
        ("/v?booking=1", ["1"]),
        ("/v?BOOKING=2&booking=1", ["2", "1"]),
        ("/v?Booking=2", ["2"]),
        ("/v?book%C4%B1ng=2&booking=1", ["2", "1"]),     // dotless ı, upper-cased to I
        ("/v?book%C4%B0ng=2&booking=1", ["2", "1"]),     // dotted İ, which Java lower-cases to i alone
        ("/v?bookings=2&booking=1", ["1"]),
    ])
    func queryNamesIgnoreCase(raw: String, values: [String]) throws {
        #expect(try CanonicalTarget(raw: raw).queryValues("booking") == values)
    }

    @Test("a query name as PHP and Rack read it is more values of it", arguments: [
        ("/v?booking=1&%20booking=2", ["1", "2"]),            // PHP drops leading spaces
        ("/v?booking=1&booking%5B%5D=2", ["1", "2"]),         // booking[]: an array named booking
        ("/v?booking=1&BOOKING%5B0%5D=2", ["1", "2"]),
        ("/v?booking=1&booking%5D=2", ["1", "2"]),            // Rack reads booking] as booking
        ("/v?booking=1&%5Dbooking=2", ["1", "2"]),
        ("/v?booking=1&.booking=2&booking.x=3", ["1", "2", "3"]),    // qs with allowDots
        ("/v?booking=1&booking%5Bx=2", ["1", "2"]),           // PHP reads booking_x, Rack may read booking
        ("/v?booking_number=1&booking.number=2&booking%20number=3&booking%5Bnumber=4", ["1", "2", "3", "4"]),
        ("/v?booking=1&bookingx%5B%5D=2&book%5Bing%5D=3", ["1"]),
    ])
    func queryNamesAsFrameworksRead(raw: String, values: [String]) throws {
        let name = raw.contains("booking_number") ? "booking_number" : "booking"
        #expect(try CanonicalTarget(raw: raw).queryValues(name) == values)
    }

    @Test("a query parameter that frameworks read as a method override is refused, in any spelling", arguments: [
        "/v?_method=DELETE", "/v?x=1&_METHOD=PUT", "/v?%20_method=DELETE", "/v?.method=DELETE", "/v?_method%5B%5D=DELETE",
        "/v?X-HTTP-Method-Override=DELETE", "/v?x-http-method=PUT", "/v?X-Method-Override=PATCH", "/v?._method=DELETE",
    ])
    func methodOverrides(raw: String) {
        #expect(throws: AmbiguousTarget.self) { try CanonicalTarget(raw: raw) }
    }

    @Test("bounds length and segment count")
    func bounds() {
        #expect(throws: AmbiguousTarget.self) { try CanonicalTarget(raw: "/" + String(repeating: "a", count: 9000)) }
        #expect(throws: AmbiguousTarget.self) { try CanonicalTarget(raw: String(repeating: "/a", count: 65)) }
    }
}
