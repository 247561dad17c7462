import NIOHTTP1
import Testing
import WarrantGateCore
@testable import WarrantGateServer

@Suite("Header rules")
struct HeaderRulesTests {
    @Test("Transfer-Encoding passes only as chunked, in any case, around optional white space", arguments: [
        ("chunked", true), (" Chunked\t", true), ("CHUNKED", true), ("gzip", false), ("chunked, identity", false),
        ("chunke", false), ("chunkedx", false), ("", false), ("chun\u{212A}ed", false),
    ])
    func transferEncoding(value: String, passes: Bool) {
        let violation = headerViolation(["Host": "jail", "Transfer-Encoding": value])
        #expect((violation == nil) == passes, "\(value): \(violation ?? "passes")")
    }

    @Test("Content-Length passes only as digits that fit an Int", arguments: [
        ("0", true), ("1024", true), ("9223372036854775807", true), ("9223372036854775808", false),
        ("10000000000000000000", false), ("", false), ("+5", false), ("-1", false), (" 5", false), ("0x10", false),
    ])
    func contentLength(value: String, passes: Bool) {
        let violation = headerViolation(["Host": "jail", "Content-Length": value])
        #expect((violation == nil) == passes, "\(value): \(violation ?? "passes")")
    }

    /// An attacker's pass: a vertical tab or DEL in a forwarded value passed, was decided and logged as allowed,
    /// then NIO's encoder refused it and the client got 502, logged as the upstream's fault.
    @Test("a header value with a control character but a tab, or DEL, is refused; a tab and non-ASCII bytes pass", arguments: [
        ("a\u{0B}b", false), ("a\u{7F}", false), ("a\u{1B}[31m", false), ("a\u{00}", false), ("a\tb", true), ("café", true),
    ])
    func controlCharacters(value: String, passes: Bool) {
        let violation = headerViolation(["Host": "jail", "Accept": value])
        #expect((violation == nil) == passes, "\(value.debugDescription): \(violation ?? "passes")")
    }

    @Test("a second Content-Type is refused: frameworks disagree on which one wins")
    func duplicateContentType() {
        #expect(headerViolation(["Host": "jail", "Content-Type": "application/json"]) == nil)
        #expect(headerViolation(["Host": "jail", "Content-Type": "application/json", "content-type": "text/plain"]) != nil)
    }

    @Test("an answer ends its connection after a request the HTTP/1 parser reads nothing beyond")
    func upgradeEndsParsing() {
        let get = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["Host": "jail"])
        #expect(HeaderRules.persistence(answering: get, knownLength: true) == nil)
        let upgrade = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["Connection": "Upgrade", "Upgrade": "websocket"])
        #expect(HeaderRules.persistence(answering: upgrade, knownLength: true) == "close")
        let connect = HTTPRequestHead(version: .http1_1, method: .CONNECT, uri: "jail:443", headers: ["Host": "jail:443"])
        #expect(HeaderRules.persistence(answering: connect, knownLength: true) == "close")
    }

    @Test("Connection-nominated names are trimmed, lower-cased, listed once, empty tokens skipped")
    func nominated() {
        #expect(HeaderRules.connectionNominated([" Keep-Alive ,X-Secret", "x-secret,,\tTE"]) == ["keep-alive", "x-secret", "te"])
        #expect(HeaderRules.connectionNominated([String]())?.isEmpty == true)
        #expect(HeaderRules.connectionNominated([" , "])?.isEmpty == true)
        // An attacker's pass: thousands of names, each compared with every one before it, held the event loop.
        let many = (0..<HeaderRules.maxConnectionOptions).map { "x-\($0)" }
        #expect(HeaderRules.connectionNominated([many.joined(separator: ","), ",,"])?.count == HeaderRules.maxConnectionOptions)
        #expect(HeaderRules.connectionNominated([many.joined(separator: ","), "x-0"]) == nil)
        #expect(HeaderRules.connectionNominated([(0..<4000).map { "x-\($0)" }.joined(separator: ",")]) == nil)
    }

    @Test("request headers reach the upstream only from the allow-list, unless Connection nominates them")
    func requestAllowList() {
        let request: HTTPHeaders = [
            "Accept": "application/json", "Accept-Encoding": "gzip", "Accept-Language": "en", "Accept-Charset": "utf-8",
            "Content-Type": "application/json", "Cache-Control": "no-cache", "Pragma": "no-cache", "If-None-Match": "\"1\"",
            "If-Match": "\"1\"", "If-Modified-Since": "x", "If-Unmodified-Since": "x", "If-Range": "x", "Range": "bytes=0-1",
            "User-Agent": "curl", "Date": "x", "traceparent": "00-1-2-01", "tracestate": "a=b", "SOAPAction": "\"read\"",
            // Dropped: a method or URL override, a user, credentials, what the gateway vouches for, hop-by-hop ones.
            "X-HTTP-Method-Override": "DELETE", "X-Original-URL": "/admin", "X-Rewrite-URL": "/admin", "Remote-User": "admin",
            "X-Authenticated-User": "admin", "Authorization": "Basic x", "Cookie": "a=b", "X-Forwarded-For": "10.0.0.1",
            "Gateway-Agency": "fbi", "Decision-Id": "forged", "Warrant-Reference": "JW-1", "HOST": "elsewhere", "Expect": "100-continue",
            "Content-Length": "10", "Transfer-Encoding": "chunked", "Connection": "close", "Upgrade": "websocket", "TE": "trailers",
            "Keep-Alive": "timeout=5", "Proxy-Authorization": "x", "X-Internal": "1",
        ]
        #expect(forwarded(request).map { $0.name.lowercased() } == [
            "accept", "accept-encoding", "accept-language", "accept-charset", "content-type", "cache-control", "pragma",
            "if-none-match", "if-match", "if-modified-since", "if-unmodified-since", "if-range", "range", "user-agent", "date",
            "traceparent", "tracestate", "soapaction",
        ])
        let nominating: HTTPHeaders = ["Connection": "User-Agent, x-internal", "User-Agent": "curl", "Accept": "*/*"]
        #expect(forwarded(nominating).map(\.name) == ["Accept"])
        #expect(headerViolation(nominating) == nil)
        // The two the gateway decides on may not be made hop-by-hop: the upstream would read the body without them.
        for named in ["close, Content-Type", " soapaction "] {
            let headers: HTTPHeaders = ["Connection": named, "Content-Type": "text/xml", "SOAPAction": "\"read\""]
            #expect(headerViolation(headers) == "Connection may not name Content-Type or SOAPAction", "\(named)")
        }

        let response: HTTPHeaders = [
            "Connection": "keep-alive, X-Upstream", "X-Upstream": "a", "Keep-Alive": "timeout=5", "Content-Length": "10",
            "Decision-Id": "forged", "Content-Type": "application/json", "ETag": "\"1\"",
        ]
        #expect(HeaderRules.returnable(response, bodyUnmodified: true)?.map { $0.name.lowercased() } == ["content-type"])
    }

    @Test("response headers reach the client only from the allow-list; Content-Encoding only with an unmodified body")
    func responseAllowList() {
        let response: HTTPHeaders = [
            "Content-Type": "application/json", "Content-Encoding": "gzip", "Cache-Control": "no-store", "Expires": "0",
            "Date": "Tue, 01 Dec 2026 20:00:00 GMT", "Vary": "Accept", "Retry-After": "5", "X-Citizenship": "undocumented",
            "Set-Cookie": "a=b", "Location": "/elsewhere", "Link": "</x>", "Content-Range": "bytes 0-1/2", "X-Alien-Number": "A-201",
        ]
        #expect(HeaderRules.returnable(response, bodyUnmodified: true)?.map { $0.name.lowercased() } == [
            "content-type", "content-encoding", "cache-control", "expires", "date", "vary", "retry-after",
        ])
        #expect(HeaderRules.returnable(response, bodyUnmodified: false)?.map { $0.name.lowercased() } == [
            "content-type", "cache-control", "expires", "date", "vary", "retry-after",
        ])
        // An attacker's pass as a hostile upstream: the allowed headers' values carried the record's words. Each is
        // read by its grammar.
        let hostile: HTTPHeaders = [
            "Expires": "citizenship=MX", "Retry-After": "MX-citizen", "Date": "citizenship MX", "Vary": "Citizenship, Accept-Encoding",
            "Cache-Control": #"private="citizenship-MX", max-age=60, x-alien=A201"#, "Content-Encoding": "gzip, x-mx",
        ]
        let passed = HeaderRules.returnable(hostile, bodyUnmodified: true)
        #expect(passed?.first(name: "expires") == "0")
        #expect(passed?.contains(name: "retry-after") == false && passed?.contains(name: "date") == false && passed?.contains(name: "content-encoding") == false)
        #expect(passed?.first(name: "vary") == "*", "a name dropped from Vary: varying by all")
        #expect(HeaderRules.returnable(["Vary": "Accept-Encoding, Origin", "Date": "Sun, 06 Nov 1994 08:49:37 GMT "], bodyUnmodified: true).map {
            Dictionary($0.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        } == ["vary": "accept-encoding, origin", "date": "Sun, 06 Nov 1994 08:49:37 GMT"])
        #expect(passed?.first(name: "cache-control") == "private, max-age=60")
        let plain: HTTPHeaders = [
            "Date": "Tue, 01 Dec 2026 20:00:00 GMT", "Expires": "Tue, 01 Dec 2026 20:05:00 GMT", "Retry-After": "120",
            "Cache-Control": "no-store, no-cache", "Content-Encoding": "gzip",
        ]
        #expect(HeaderRules.returnable(plain, bodyUnmodified: true).map { Dictionary($0.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { $1 }) } == [
            "date": "Tue, 01 Dec 2026 20:00:00 GMT", "expires": "Tue, 01 Dec 2026 20:05:00 GMT", "retry-after": "120",
            "cache-control": "no-store, no-cache", "content-encoding": "gzip",
        ])
        // A status the registry does not list is its class's: an upstream's code is its words too.
        #expect(HeaderRules.returnedStatus(HTTPResponseStatus(statusCode: 299, reasonPhrase: "Citizenship MX")) == .ok)
        #expect(HeaderRules.returnedStatus(HTTPResponseStatus(statusCode: 418)) == .imATeapot)
        #expect(HeaderRules.returnedStatus(HTTPResponseStatus(statusCode: 599)).code == 500)
        // A re-pass: thousands of directives, each compared with those kept before it, held the event loop.
        let directives = (0..<6000).map { "max-age=\($0)" }.joined(separator: ", ")
        #expect(HeaderRules.returnable(["Cache-Control": directives], bodyUnmodified: true)?.first(name: "cache-control") == "no-store")
        // A second: what lies past the items read might have forbidden storing.
        let padded = "public, max-age=86400, " + (0..<30).map { "x\($0)" }.joined(separator: ", ") + ", no-store, private"
        #expect(HeaderRules.returnable(["Cache-Control": padded], bodyUnmodified: true)?.first(name: "cache-control") == "no-store")
        #expect(HeaderRules.returnable(["Cache-Control": "public, max-age=60"], bodyUnmodified: true)?.first(name: "cache-control") == "public, max-age=60")
        let varied = (0..<(ReturnedHeaderValue.maxListItems + 1)).map { _ in "Accept" }.joined(separator: ", ")
        #expect(HeaderRules.returnable(["Vary": varied], bodyUnmodified: true)?.first(name: "vary") == "*")
        // Past the bound, nothing: an HTTP/2 client would refuse the head after the decision was logged as answered.
        #expect(HeaderRules.returnable(HTTPHeaders(Array(repeating: ("Date", "Tue, 01 Dec 2026 20:00:00 GMT"), count: 300)), bodyUnmodified: true) == nil)
        // A redacted body's type keeps its type and charset, none of the upstream's other words.
        #expect(RedactableMediaType.redactedContentType(#"Application/JSON; citizenship="MX"; charset=UTF-8"#) == "application/json; charset=utf-8")
        #expect(RedactableMediaType.redactedContentType("text/xml;profile=x") == "text/xml")
        #expect(RedactableMediaType.redactedContentType("application/x-citizenship-mexican, text/plain") == nil, "a list is no one type")
        // A structured suffix carries any words before it: an unregistered type is sent as the plain type of its kind.
        #expect(RedactableMediaType.redactedContentType("application/citizenship-mx+json") == "application/json")
        #expect(RedactableMediaType.redactedContentType("application/vnd.alien-a201+xml; charset=utf-8") == "application/xml; charset=utf-8")
        #expect(RedactableMediaType.redactedContentType("Application/SOAP+XML") == "application/soap+xml")
        #expect(RedactableMediaType.redactedContentType("application/json extra") == nil)
    }

    /// A redirect, or a 201's new resource, without its `Location` told the client nothing; an upstream's URL as it is
    /// would name a host behind the gateway and carry the upstream's words. It passes as a target on the gateway.
    @Test("a Location naming the upstream itself passes as a canonical target on the gateway, and no other does")
    func location() throws {
        let endpoint = try UpstreamEndpoint(name: "records", settings: UpstreamSettings(url: "http://Records.Jail.Example:8080/api/"))
        let plain = ResponseRedactor(names: [String]())
        let redacting = ResponseRedactor(names: ["citizenship", "alienNumber", "countryOfBirth"])
        let keeping = ResponseRedactor(names: [String](), keepOnly: ["custodyStatus"])
        let shortNames = ResponseRedactor(names: ["pob", "cob", "visa"])
        let passed: [(String, ResponseRedactor, String?)] = [
            ("/api/visitation/visits/V-88", redacting, "/visitation/visits/V-88"),
            (" HTTP://records.jail.example:8080/api/records/./inmates//2017-000123/ ", redacting, "/records/inmates/2017-000123"),
            ("/api", redacting, "/"),
            ("/api?page=2", plain, "/?page=2"),
            ("/api/records?name=Ana+M", plain, "/records?name=Ana%2BM"),
            // Another origin, another base path, a reference the client would resolve itself, or no target at all.
            ("http://records.jail.example/api/records", plain, nil),
            ("https://records.jail.example:8080/api/records", plain, nil),
            ("//records.jail.example:8080/api/records", plain, nil),
            ("/apiary/records", plain, nil),
            ("/records/inmates/2017-000123", plain, nil),
            ("inmates/2017-000123", plain, nil),
            ("/api/records/%2e%2e/admin", plain, nil),
            ("/api/records/../../../etc", plain, nil),
            ("/api/records\r\nSet-Cookie: a=b", plain, nil),
            ("/api/" + String(repeating: "a", count: HeaderRules.maxLocationBytes), plain, nil),
            // Where answers are redacted: no query, no segment named as a removed field, none under an allow-list.
            ("/api/records?citizenship=MX", redacting, nil),
            ("/api/records/Citizenship/MX", redacting, nil),
            ("/api/records/alien_number/A201", redacting, nil),
            ("/api/records/2017-000123", keeping, nil),
            // A re-pass: a name beside its value in one segment, glued to it, or split across two.
            ("/api/records/2017-000123/citizenship=MX", redacting, nil),
            ("/api/records/2017-000123/CitizenshipMX", redacting, nil),
            ("/api/records/alien-number:A201", redacting, nil),
            ("/api/records/citizenship/../2017-000123", redacting, "/records/2017-000123"),
            // A second: several words run together, and words that only hold a name.
            ("/api/records/2017-000123/alien+number+A201", redacting, nil),
            ("/api/records/2017-000123/Alien,Number/A201", redacting, nil),
            ("/api/records/residents/2017-000123/citizens-advocate", redacting, "/records/residents/2017-000123/citizens-advocate"),
            ("/api/rooms/pod-a/number-4/Valiente", redacting, "/rooms/pod-a/number-4/Valiente"),
            // A third: a name beside digits or an acronym.
            ("/api/records/USCitizenship", redacting, nil),
            ("/api/records/citizenship2024.pdf", redacting, nil),
            ("/api/records/alienNumber2", redacting, nil),
            ("/api/records/cell12/Anumbero", redacting, "/records/cell12/Anumbero"),
            // A fourth: a name run on into its value in one letter case, where no change of case splits them.
            ("/api/records/inmates/citizenshipmx", redacting, nil),
            ("/api/records/inmates/CITIZENSHIPMX", redacting, nil),
            ("/api/records/inmates/countryofbirthmexico", redacting, nil),
            ("/api/records/inmates/country-of-birthmexico", redacting, nil),
            ("/api/records/inmates/alien+numbera201", redacting, nil),
            ("/api/records/inmates/noncitizen/citizens", redacting, "/records/inmates/noncitizen/citizens"),
            // A short name is read whole: it begins too many words.
            ("/api/records/inmates/pob", shortNames, nil),
            ("/api/records/inmates/POB-MX", shortNames, nil),
            ("/api/records/counties/cobb-county/pobox/visalia", shortNames, "/records/counties/cobb-county/pobox/visalia"),
        ]
        for (given, redactor, expected) in passed {
            #expect(HeaderRules.returnedLocation(given, from: endpoint, redactor: redactor) == expected, "\(given.prefix(80))")
        }
    }

    /// The header check as the gateway runs it, with the nominations read from the same headers.
    private func headerViolation(_ headers: HTTPHeaders) -> String? {
        HeaderRules.violation(in: headers, nominated: HeaderRules.connectionNominated(headers["connection"]) ?? [])
    }

    /// The headers forwarded upstream, as the gateway picks them.
    private func forwarded(_ headers: HTTPHeaders) -> HTTPHeaders {
        HeaderRules.forwardable(headers, nominated: HeaderRules.connectionNominated(headers["connection"]) ?? [])
    }
}
