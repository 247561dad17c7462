import Foundation
import Testing
@testable import WarrantGateServer

/// One case of the bypass corpus: a published way past a gateway, replayed as raw bytes over mutual TLS.
struct BypassCase: CustomTestStringConvertible, Sendable {
    let technique: String
    let advisory: String
    let agency: String
    let request: [UInt8]
    /// Acceptable statuses; 0 means the connection was closed without an answer (NIO's parser refusing the bytes).
    let statuses: Set<Int>
    let reason: String?

    var testDescription: String { "\(technique) (\(advisory))" }

    /// ICE holds JW-OK, a judicial warrant for 2017-000123 and records.read only. Every case tries to use it, or no
    /// warrant, to reach something else.
    /// A request to the records system's SOAP endpoint (one URL for every operation) whose `SOAPAction` names one
    /// operation and whose envelope's Body holds another, for 2017-000123 under JW-OK.
    static func soapActionSpoofing(_ technique: String, action: String, body operation: String, statuses: Set<Int>, reason: String) -> BypassCase {
        let body = SOAPRouteTests.envelope(operation)
        let headers = ["Warrant-Reference: JW-OK", "Content-Type: text/xml", #"SOAPAction: "urn:example:jail:records/\#(action)""#, "Content-Length: \(body.utf8.count)"]
        return BypassCase(
            technique: technique, advisory: "WS-Attacks: SOAPAction spoofing", agency: "ice-ero",
            request: RawTLSClient.request("POST /records/soap HTTP/1.1", headers: headers, body: body), statuses: statuses, reason: reason
        )
    }

    /// The police (allowed their own custody transfers) file one for 2017-000123 into their own custody, with
    /// `contentType` and `body`, at `/custody/transfers` with `query`.
    static func policeTransfer(
        _ technique: String, query: String = "", contentType: String = "application/json",
        body: String = #"{"bookingNumber":"2017-000123","receivingAgency":"denver-pd","at":"2027-01-15T17:00:00Z"}"#, reason: String
    ) -> BypassCase {
        let headers = ["Content-Type: \(contentType)", "Content-Length: \(body.utf8.count)"]
        return BypassCase(
            technique: technique, advisory: "WarrantGate red team 2026-12-06", agency: "denver-pd",
            request: RawTLSClient.request("POST /custody/transfers\(query) HTTP/1.1", headers: headers, body: body), statuses: [400], reason: reason
        )
    }

    /// A transfer into the police's custody whose note, read as a form, transfers the inmate into ICE's.
    static let transferHidingAForm =
        #"{"bookingNumber":"2017-000123","receivingAgency":"denver-pd","at":"2027-01-15T17:00:00Z","note":"&receivingAgency=ice-ero&bookingNumber=2017-000123&"}"#

    static let all: [BypassCase] = [
        .init(technique: "dot segments above the root", advisory: "Envoy CVE-2019-9901", agency: "ice-ero",
              request: RawTLSClient.request("GET /../records/inmates/2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "ambiguous_path"),
        .init(technique: "dot segments resolved before the policy sees them", advisory: "Envoy CVE-2019-9901", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123/../2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [403], reason: "warrant_wrong_subject"),
        .init(technique: "encoded dots", advisory: "Traefik CVE-2025-47952", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123/%2e%2e/2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "ambiguous_path"),
        .init(technique: "encoded dots inside a segment", advisory: "heimdall GHSA-3q34-rx83-r6mq", agency: "ice-ero",
              request: RawTLSClient.request("GET /records%2e%2e/inmates/2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "ambiguous_path"),
        .init(technique: "encoded slash", advisory: "Envoy CVE-2021-29492", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123%2F..%2F2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "ambiguous_path"),
        .init(technique: "encoded backslash", advisory: "Istio CVE-2021-31920", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123%5C..%5C2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "ambiguous_path"),
        .init(technique: "double slashes", advisory: "Istio CVE-2021-31920", agency: "ice-ero",
              request: RawTLSClient.request("GET //records//inmates//2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [403], reason: "warrant_wrong_subject"),
        .init(technique: "semicolon path parameters", advisory: "istio#27409", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/..;/2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "ambiguous_path"),
        .init(technique: "encoded semicolon", advisory: "Spring CVE-2018-1199", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123%3Ba=b HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "ambiguous_path"),
        .init(technique: "fragment in the request target", advisory: "Envoy CVE-2021-32779", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123#/../2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400, 0], reason: nil),
        .init(technique: "case variants of the path", advisory: "Istio CVE-2021-39155", agency: "ice-ero",
              request: RawTLSClient.request("GET /Records/Inmates/2017-000456 HTTP/1.1"),
              statuses: [403], reason: "no_route"),
        .init(technique: "case variants of the host", advisory: "Istio CVE-2021-39155", agency: "ice-ero",
              request: Array("GET /records/inmates/2017-000456 HTTP/1.1\r\nHost: LOCALHOST\r\nConnection: close\r\n\r\n".utf8),
              statuses: [403], reason: "warrant_missing"),
        .init(technique: "a space in the URI", advisory: "nginx CVE-2013-4547", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123 /../2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400, 0], reason: nil),
        .init(technique: "encoded newline", advisory: "Envoy CVE-2019-9900", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123%0a/../2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "ambiguous_path"),
        .init(technique: "NUL in a header", advisory: "Spring CVE-2022-22978", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK\u{0}x"]),
              statuses: [400, 0], reason: nil),
        .init(technique: "trailing dot", advisory: "nginx CVE-2011-4963", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123. HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "subject_invalid"),
        .init(technique: "overlong UTF-8", advisory: "CVE-2000-0884", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123/%c0%ae%c0%ae/2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "ambiguous_path"),
        .init(technique: "double encoding", advisory: "CVE-2001-0333", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123/%252e%252e/2017-000456 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "ambiguous_path"),
        .init(technique: "odd request line", advisory: "HAProxy CVE-2021-39241", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000456? HTTP/1.1 /records/inmates/2017-000123", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400, 0], reason: nil),
        .soapActionSpoofing("SOAPAction names the permitted read, the Body a write", action: "GetBooking", body: "SetHousingUnit", statuses: [403], reason: "no_route"),
        .soapActionSpoofing("SOAPAction names a write, the Body the permitted read", action: "SetHousingUnit", body: "GetBooking", statuses: [400], reason: "body_invalid"),
        .init(technique: "Connection makes the Content-Type the decision read hop-by-hop", advisory: "hop-by-hop header abuse (N. Davison, 2019)",
              agency: "ice-ero",
              request: RawTLSClient.request("POST /records/soap HTTP/1.1", headers: [
                  "Connection: Content-Type", "Warrant-Reference: JW-OK", "Content-Type: text/xml",
                  #"SOAPAction: "urn:example:jail:records/GetBooking""#, "Content-Length: \(SOAPRouteTests.envelope("GetBooking").utf8.count)",
              ], body: SOAPRouteTests.envelope("GetBooking")),
              statuses: [400], reason: "bad_header"),
        .init(technique: "Connection names thousands of headers, each compared with those before it", advisory: "an attacker's pass (2026-12-05)",
              agency: "denver-pd",
              request: RawTLSClient.request("GET /records/inmates/2017-000123 HTTP/1.1", headers: [
                  "Connection: " + (0..<1500).map { "x-\($0)" }.joined(separator: ","),
              ]),
              statuses: [400], reason: "bad_header"),
        .init(technique: "duplicate Warrant-Reference, valid one first", advisory: "Envoy CVE-2020-25017", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123 HTTP/1.1", headers: ["Warrant-Reference: JW-OK", "Warrant-Reference: I200"]),
              statuses: [400], reason: "bad_header"),
        .init(technique: "duplicate Warrant-Reference, valid one last", advisory: "Envoy CVE-2020-25017", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123 HTTP/1.1", headers: ["Warrant-Reference: I200", "Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "bad_header"),
        .init(technique: "duplicate Host", advisory: "Envoy CVE-2020-25017", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123 HTTP/1.1", headers: ["Host: records.internal", "Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "bad_header"),
        .init(technique: "spoofed identity headers", advisory: "contour#6586, Envoy CVE-2023-27487", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000456 HTTP/1.1", headers: [
                  "Gateway-Agency: denver-pd", "Gateway-Agency-Category: local-law-enforcement",
                  "X-Forwarded-Client-Cert: Subject=\"OU=denver-pd\"", "X-Client-Cert-OU: denver-pd",
              ]),
              statuses: [403], reason: "warrant_missing"),
        .init(technique: "header name with an underscore", advisory: "Envoy edge default", agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123 HTTP/1.1", headers: ["Warrant_Reference: JW-OK"]),
              statuses: [400], reason: "bad_header"),
        .init(technique: "non-UTF-8 in the header the policy reads", advisory: "Envoy CVE-2023-27488", agency: "ice-ero",
              request: Array("GET /records/inmates/2017-000123 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nWarrant-Reference: JW-".utf8) + [0xff, 0xfe] + Array("\r\n\r\n".utf8),
              statuses: [400, 0], reason: nil),
        .init(technique: "CRLF injection through a copied value", advisory: "Envoy CVE-2023-27493", agency: "denver-pd",
              request: RawTLSClient.request("GET /visitation/visits?booking=2017-000123%0d%0aGateway-Agency:%20ice-ero HTTP/1.1"),
              statuses: [400], reason: "ambiguous_path"),
        .init(technique: "Content-Length with Transfer-Encoding", advisory: "HAProxy CVE-2023-40225", agency: "denver-pd",
              request: RawTLSClient.request("POST /visitation/visits HTTP/1.1", headers: ["Content-Length: 5", "Transfer-Encoding: chunked"], body: "0\r\n\r\n"),
              statuses: [400, 0], reason: nil),
        .init(technique: "empty Content-Length", advisory: "HAProxy CVE-2023-25725", agency: "denver-pd",
              request: RawTLSClient.request("POST /visitation/visits HTTP/1.1", headers: ["Content-Length:"]),
              statuses: [400, 0], reason: nil),
        .init(technique: "malformed Transfer-Encoding", advisory: "SwiftNIO GHSA-mgc4-wqv7-4pxm", agency: "denver-pd",
              request: RawTLSClient.request("POST /visitation/visits HTTP/1.1", headers: ["Transfer-Encoding: chunked, identity"], body: "0\r\n\r\n"),
              statuses: [400, 0], reason: nil),
        .init(technique: "a form body that reads as another inmate upstream", advisory: "WarrantGate red team 2026-12-03", agency: "denver-pd",
              request: RawTLSClient.request(
                  "POST /visitation/visits HTTP/1.1", headers: ["Content-Type: application/x-www-form-urlencoded", "Content-Length: 65"],
                  body: #"{"bookingNumber":"2017-000123","x":"&bookingNumber=2019-000999&"}"#
              ),
              statuses: [400], reason: "bad_header"),
        policeTransfer("a JSON type that Undertow and .NET read as a form, by its beginning", contentType: "application/x-www-form-urlencoded+json",
                       body: transferHidingAForm, reason: "bad_header"),
        policeTransfer("a JSON type that PHP reads as a form, up to its space", contentType: "application/x-www-form-urlencoded +json",
                       body: transferHidingAForm, reason: "bad_header"),
        policeTransfer("a charset in RFC 2231's extended form", contentType: "application/json; charset*=utf-16''x", reason: "bad_header"),
        policeTransfer("a body member's snake-case spelling in the query", query: "?receiving_agency=ice-ero", reason: "body_invalid"),
        policeTransfer("a body member in another letter case, which an exact binder does not read",
                       body: #"{"bookingNumber":"2017-000123","ReceivingAgency":"denver-pd","at":"2027-01-15T17:00:00Z"}"#, reason: "body_invalid"),
        // An attacker's pass (helper 244): a version in a media type, which ASP.NET's and Spring's media-type
        // versioning choose a handler by, on a route whose body names the inmate (Accept: ``mediaTypesCarryNoVersion``).
        policeTransfer("a vendor's versioned JSON type on a route whose body names the inmate", contentType: "application/vnd.jail.v2+json",
                       reason: "bad_header"),
        policeTransfer("a version parameter in the Content-Type of a body the gateway reads", contentType: "application/json; v=2.0",
                       reason: "bad_header"),
        policeTransfer("a second inmate under the upstream's own name for one",
                       body: #"{"bookingNumber":"2017-000123","inmateId":"2019-000999","receivingAgency":"denver-pd","at":"2027-01-15T17:00:00Z"}"#,
                       reason: "body_invalid"),
        .init(technique: "a query name's case variant beside it", advisory: "WarrantGate red team 2026-12-03", agency: "denver-pd",
              request: RawTLSClient.request("GET /visitation/visits?BOOKING=2019-000999&booking=2017-000123 HTTP/1.1"),
              statuses: [400], reason: "subject_missing"),
        .init(technique: "a query name as PHP or Rack reads it, beside it", advisory: "WarrantGate red team 2026-12-05", agency: "denver-pd",
              request: RawTLSClient.request("GET /visitation/visits?booking=2017-000123&booking%5B%5D=2019-000999 HTTP/1.1"),
              statuses: [400], reason: "subject_missing"),
        .init(technique: "another inmate in the query of a route that reads its inmate from the path", advisory: "WarrantGate red team 2026-12-05",
              agency: "ice-ero",
              request: RawTLSClient.request("GET /records/inmates/2017-000123?booking=2019-000999 HTTP/1.1", headers: ["Warrant-Reference: JW-OK"]),
              statuses: [400], reason: "subject_missing"),
        .init(technique: "a JSON member that upper-cases to the inmate's (dotless i), as Java's equalsIgnoreCase reads it",
              advisory: "WarrantGate red team 2026-12-05", agency: "denver-pd",
              request: RawTLSClient.request(
                  "POST /visitation/visits HTTP/1.1", headers: ["Content-Type: application/json", "Content-Length: 62"],
                  body: #"{"bookingNumber":"2017-000123","bookıngNumber":"2019-000999"}"#
              ),
              statuses: [400], reason: "body_invalid"),
        .init(technique: "a method override in the query", advisory: "Laravel/Symfony _method, Express method-override", agency: "denver-pd",
              request: RawTLSClient.request(
                  "POST /visitation/visits?_method=DELETE HTTP/1.1", headers: ["Content-Type: application/json", "Content-Length: 31"],
                  body: #"{"bookingNumber":"2017-000123"}"#
              ),
              statuses: [400], reason: "ambiguous_path"),
        .init(technique: "a Content-Length too large to read, on a GET", advisory: "WarrantGate red team 2026-12-03", agency: "denver-pd",
              request: RawTLSClient.request("GET /records/inmates/2017-000123 HTTP/1.1", headers: ["Content-Length: 10000000000000000000"]),
              statuses: [400, 0], reason: nil),
        .init(technique: "many headers", advisory: "SwiftNIO GHSA-rj37-6j9x-74q6", agency: "denver-pd",
              request: RawTLSClient.request("GET /records/inmates/2017-000123 HTTP/1.1", headers: (0..<150).map { "X-Pad-\($0): x" }),
              statuses: [431], reason: "headers_too_large"),
        .init(technique: "a huge header", advisory: "SwiftNIO GHSA-rj37-6j9x-74q6", agency: "denver-pd",
              request: RawTLSClient.request("GET /records/inmates/2017-000123 HTTP/1.1", headers: ["X-Pad: " + String(repeating: "a", count: 100_000)]),
              statuses: [431, 400, 0], reason: nil),
        .init(technique: "a huge request target", advisory: "SwiftNIO GHSA-rj37-6j9x-74q6", agency: "denver-pd",
              request: RawTLSClient.request("GET /records/inmates/2017-000123?pad=" + String(repeating: "a", count: 9000) + " HTTP/1.1"),
              statuses: [414], reason: "uri_too_long"),
    ]
}

@Suite("The bypass corpus, as raw bytes over mutual TLS", .serialized)
struct BypassCorpusTests {
    @Test("refused, and never forwarded", arguments: BypassCase.all)
    func refused(_ bypass: BypassCase) async throws {
        try await withGateway { gateway in
            try gateway.register("JW-OK")
            try gateway.register("I200", kind: .administrativeWarrant)
            try await gateway.awaitRegistry()
            // A refusal waits for its row's commit, which on a machine busy with the rest of the suite (PostgreSQL's
            // tests among it) took longer than the client's usual five seconds once: then it read no answer at all.
            let answer = try await RawTLSClient.send(bypass.request, port: gateway.port, pki: gateway.pki, agency: bypass.agency, timeout: .seconds(60))
            #expect(bypass.statuses.contains(answer.status), "got \(answer.status): \(answer.raw.prefix(300))")
            if let reason = bypass.reason { #expect(answer.reason == reason) }
            #expect(gateway.recorder.requests.isEmpty, "the upstream saw \(gateway.recorder.requests.map(\.path))")
            if answer.status != 0, let id = answer.raw.range(of: "decision-id: ").map({ String(answer.raw[$0.upperBound...].prefix(36)) }) {
                let rows = try await gateway.exportedRows()
                #expect(rows.contains { $0.decisionId == id && $0.effect == .deny })
            }
        }
    }

    @Test("hop-by-hop names in Connection cannot strip the headers the gateway adds")
    func hopByHop() async throws {
        try await withGateway { gateway in
            let request = Array("GET /records/inmates/2017-000123 HTTP/1.1\r\nHost: localhost\r\nConnection: close, Gateway-Agency, Decision-Id, Accept-Language\r\nAccept-Language: en\r\nAccept: */*\r\n\r\n".utf8)
            let answer = try await RawTLSClient.send(request, port: gateway.port, pki: gateway.pki, agency: "denver-pd")
            #expect(answer.status == 200)
            let seen = try #require(gateway.recorder.requests.last)
            let names = Set(seen.headers.map { $0.0.lowercased() })
            #expect(names.contains("gateway-agency"))
            #expect(names.contains("decision-id"))
            #expect(!names.contains("accept-language"), "a forwardable header that Connection nominates is hop-by-hop")
            #expect(!names.contains("connection"))
            #expect(names.contains("accept"))
            #expect(seen.headers.first { $0.0.lowercased() == "gateway-agency" }?.1 == "denver-pd")
        }
    }

    /// An attacker's pass (helper 244), then a review (helper 245): ASP.NET's and Spring's media-type versioning choose
    /// a handler by `v=2.0` or a vendor's type, in Accept as in Content-Type. Refusing such Accept values refused
    /// browsers (`application/signed-exchange;v=b3`) and OData clients too; they are now forwarded without them. A
    /// request without a body has no type: its Content-Type is not forwarded.
    @Test("Accept is forwarded with its plain media ranges and weights only; a bodiless request's Content-Type not at all",
          arguments: [
              ("application/json; v=2.0", "application/json"),
              ("text/plain, application/vnd.jail.v2+json;q=0.9", "text/plain"),
              ("application/ vnd.jail.v2+json, application /vnd.jail.v2+json, application/vnd-v2+json, application/x-jail-v2+json", nil),
              ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
               "text/html, application/xhtml+xml, application/xml;q=0.9, image/avif, */*;q=0.8, application/signed-exchange;q=0.7"),
              ("application/json;odata.metadata=minimal", "application/json"),
              ("application/json;q=0.9, application/vnd.api+json, */*;q=0.1", "application/json;q=0.9, application/vnd.api+json, */*;q=0.1"),
              (#"application/vnd.api+json; ext="https://a.example/v2""#, nil),
              // A review's pass (helper 246): made-up types, and weights that are none.
              ("application/jail-v2, application/json2, text/jail.v2, application/json;q=1.2.3, text/plain;q=", "application/json, text/plain"),
              ("*/*", "*/*"), ("application/json", "application/json"),
          ] as [(String, String?)])
    func mediaTypesCarryNoVersion(accept: String, forwarded: String?) async throws {
        try await withGateway { gateway in
            let answer = try await gateway.send("ice-ero", .GET, "/records/locator/2017-000123", headers: [
                ("Content-Type", "application/vnd.jail.v2+json; v=2.0"), ("Accept", accept),
            ])
            #expect(answer.status == 200)
            let seen = try #require(gateway.recorder.requests.last)
            #expect(!seen.headers.contains { $0.0.lowercased() == "content-type" }, "\(seen.headers)")
            #expect(seen.headers.filter { $0.0.lowercased() == "accept" }.map(\.1) == (forwarded.map { [$0] } ?? []), "\(seen.headers)")
        }
    }
}
