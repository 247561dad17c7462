import NIOHTTP1
import Testing
@testable import WarrantGateServer

@Suite("Header rules")
struct HeaderRulesTests {
    private static let hopByHop = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "http2-settings",
    ]

    @Test("exactly the hop-by-hop names are hop-by-hop, in any case")
    func hopByHopNames() {
        for name in Self.hopByHop + ["Keep-Alive", "TE", "Proxy-Authorization", "TRANSFER-ENCODING"] { #expect(HeaderRules.isHopByHop(name), "\(name)") }
        for name in ["", "t", "tea", "trailers", "connectio", "keep_alive", "content-length", "http2-setting", "proxy-connectionx", "host"] {
            #expect(!HeaderRules.isHopByHop(name), "\(name)")
        }
    }

    @Test("Transfer-Encoding passes only as chunked, in any case, around optional white space", arguments: [
        ("chunked", true), (" Chunked\t", true), ("CHUNKED", true), ("gzip", false), ("chunked, identity", false),
        ("chunke", false), ("chunkedx", false), ("", false), ("chun\u{212A}ed", false),
    ])
    func transferEncoding(value: String, passes: Bool) {
        let violation = HeaderRules.violation(in: ["Host": "jail", "Transfer-Encoding": value])
        #expect((violation == nil) == passes, "\(value): \(violation ?? "passes")")
    }

    @Test("Connection-nominated names are trimmed, lower-cased, listed once, empty tokens skipped")
    func nominated() {
        #expect(HeaderRules.connectionNominated([" Keep-Alive ,X-Secret", "x-secret,,\tTE"]) == ["keep-alive", "x-secret", "te"])
        #expect(HeaderRules.connectionNominated([String]()).isEmpty)
        #expect(HeaderRules.connectionNominated([" , "]).isEmpty)
    }

    @Test("forwarded requests and returned responses lose hop-by-hop, nominated and spoofable headers")
    func filtering() {
        let request: HTTPHeaders = [
            "Connection": "close, X-Internal", "X-Internal": "1", "X-Forwarded-For": "10.0.0.1", "Gateway-Agency": "fbi",
            "Transfer-Encoding": "chunked", "Accept": "application/json", "x-INTERNAL": "2", "HOST": "elsewhere",
            "X-Real-IP": "10.0.0.2", "DECISION-ID": "forged", "Expect": "100-continue",
        ]
        let forwarded = HeaderRules.forwardable(request)
        #expect(forwarded.map(\.name) == ["Accept"])

        let response: HTTPHeaders = [
            "Connection": "keep-alive, X-Upstream", "X-Upstream": "a", "Keep-Alive": "timeout=5", "Content-Length": "10",
            "Decision-Id": "forged", "Content-Type": "application/json", "ETag": "\"1\"",
        ]
        let returned = HeaderRules.returnable(response, bodyUnmodified: true)
        #expect(returned.map { $0.name.lowercased() } == ["content-type"])
    }

    @Test("response headers reach the client only from the allow-list; Content-Encoding only with an unmodified body")
    func responseAllowList() {
        let response: HTTPHeaders = [
            "Content-Type": "application/json", "Content-Encoding": "gzip", "Cache-Control": "no-store", "Expires": "0",
            "Date": "Tue, 01 Dec 2026 20:00:00 GMT", "Vary": "Accept", "Retry-After": "5", "X-Citizenship": "undocumented",
            "Set-Cookie": "a=b", "Location": "/elsewhere", "Link": "</x>", "Content-Range": "bytes 0-1/2", "X-Alien-Number": "A-201",
        ]
        #expect(HeaderRules.returnable(response, bodyUnmodified: true).map { $0.name.lowercased() } == [
            "content-type", "content-encoding", "cache-control", "expires", "date", "vary", "retry-after",
        ])
        #expect(HeaderRules.returnable(response, bodyUnmodified: false).map { $0.name.lowercased() } == [
            "content-type", "cache-control", "expires", "date", "vary", "retry-after",
        ])
    }
}
