import Testing
import WarrantGateCore
@testable import WarrantGateServer

/// The records system's SOAP service, behind a real gateway: one URL for every operation, which the service
/// dispatches on the Body's element. The gateway decides on the operation and the inmate the envelope names, and
/// forwards only a request whose every named action is that operation.
@Suite("SOAP routes end to end")
struct SOAPRouteTests {
    /// A request to the records system's SOAP endpoint: `operation` for `booking`, with `header` in its Header.
    static func envelope(_ operation: String, booking: String = "2017-000123", header: String = "") -> String {
        #"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>\#(header)</s:Header><s:Body>"#
            + #"<r:\#(operation) xmlns:r="urn:example:jail:records"><r:BookingNumber>\#(booking)</r:BookingNumber></r:\#(operation)></s:Body></s:Envelope>"#
    }

    /// A SOAP 1.1 request's headers: its `SOAPAction` (none if nil) and, if given, a `Warrant-Reference`.
    static func headers(action: String? = "urn:example:jail:records/GetBooking", warrant: String? = nil) -> [(String, String)] {
        [("Content-Type", "text/xml; charset=utf-8")] + (action.map { [("SOAPAction", "\"\($0)\"")] } ?? [])
            + (warrant.map { [("Warrant-Reference", $0)] } ?? [])
    }

    @Test("the operation and inmate in the envelope are what is decided, logged and forwarded; the answer is redacted")
    func getBooking() async throws {
        try await withGateway { gateway in
            try gateway.register("JW-SOAP")
            try await gateway.awaitRegistry()
            let answer = try await gateway.send("ice-ero", .POST, "/records/soap", headers: Self.headers(warrant: "JW-SOAP"), body: Self.envelope("GetBooking"))
            #expect(answer.status == 200)
            #expect(answer.body.contains("GetBookingResponse"))
            #expect(answer.body.contains("Ana Morales"))
            #expect(!answer.body.contains("PersonCitizenship"))
            let seen = try #require(gateway.recorder.requests.last)
            #expect(seen.path == "/records/soap")
            #expect(seen.headers.contains { $0.0.lowercased() == "soapaction" && $0.1 == #""urn:example:jail:records/GetBooking""# })
            let id = try #require(answer.decisionId)
            let row = try #require(try await gateway.exportedRows(expecting: [id]).first { $0.decisionId == id })
            #expect(row.action == "records.read")
            #expect(row.subject == "2017-000123")
            #expect(row.outcome?.upstreamStatus == 200)

            // The warrant covers the inmate the envelope names, not whoever else it could name.
            let other = try await gateway.send(
                "ice-ero", .POST, "/records/soap", headers: Self.headers(warrant: "JW-SOAP"), body: Self.envelope("GetBooking", booking: "2017-000456")
            )
            #expect(other.reason == "warrant_wrong_subject")
        }
    }

    @Test("an operation the policy does not route, or an action other than the envelope's, is refused and not forwarded", arguments: [
        // The write the service also answers at this URL, under the read's SOAPAction.
        (envelope("SetHousingUnit"), headers(), "no_route"),
        // The read's envelope, under the write's SOAPAction or WS-Addressing action.
        (envelope("GetBooking"), headers(action: "urn:example:jail:records/SetHousingUnit"), "body_invalid"),
        (envelope("GetBooking", header: #"<a:Action xmlns:a="http://www.w3.org/2005/08/addressing">urn:example:jail:records/SetHousingUnit</a:Action>"#),
         headers(), "body_invalid"),
        // Two inmates, an inmate behind a character reference, a DOCTYPE, JSON.
        (envelope("GetBooking", booking: "2017-000123</r:BookingNumber><r:BookingNumber>2017-000456"), headers(), "subject_missing"),
        (envelope("GetBooking", booking: "2017&#45;000456"), headers(), "body_invalid"),
        (#"<!DOCTYPE x [<!ENTITY b "2017-000456">]>"# + envelope("GetBooking", booking: "&b;"), headers(), "body_invalid"),
        (#"{"BookingNumber":"2017-000123"}"#, [("Content-Type", "application/json")], "bad_header"),
        // The answer sent elsewhere than back to the gateway, unredacted; an inmate the service reads as null.
        (envelope("GetBooking", header: #"<w:ReplyTo xmlns:w="http://www.w3.org/2005/08/addressing"><w:Address>http://evil.example/</w:Address></w:ReplyTo>"#),
         headers(), "body_invalid"),
        (envelope("GetBooking").replacingOccurrences(of: "<r:BookingNumber>", with: #"<r:BookingNumber xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true">"#),
         headers(), "body_invalid"),
        // Another action where a stack searches the Content-Type's text for action=: a parameter no request may give.
        (envelope("GetBooking"), [("Content-Type", #"application/soap+xml; xaction="urn:example:jail:records/SetHousingUnit""#)], "bad_header"),
    ] as [(String, [(String, String)], String)])
    func refused(body: String, headers: [(String, String)], reason: String) async throws {
        try await withGateway { gateway in
            let answer = try await gateway.send("denver-pd", .POST, "/records/soap", headers: headers, body: body)
            #expect(answer.reason == reason, "\(answer.body)")
            #expect(!gateway.recorder.requests.contains { $0.path == "/records/soap" })
            let id = try #require(answer.decisionId)
            let row = try #require(try await gateway.exportedRows(expecting: [id]).first { $0.decisionId == id })
            #expect(row.reason == reason)
            #expect(row.agency == "denver-pd")
            // Until the envelope names a routed operation, the request has no action.
            if reason == "no_route" { #expect(row.action == nil) }
        }
    }

    @Test("a SOAPAction on a route that carries no SOAP operation is refused: the upstream could dispatch on it")
    func actionOnPlainRoute() async throws {
        try await withGateway { gateway in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123", headers: [("SOAPAction", "\"urn:example:jail:records/SetHousingUnit\"")])
            #expect(answer.reason == "bad_header")
            #expect(gateway.recorder.requests.isEmpty)
        }
    }
}
