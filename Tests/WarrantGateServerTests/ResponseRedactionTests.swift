import AsyncHTTPClient
import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import WarrantGateCore
@testable import WarrantGateServer
@testable import WarrantGateStore

/// Redaction on the real data plane: NIEM XML and SOAP from a real upstream, compressed bodies, hostile documents,
/// and long documents that stream, over real mutual TLS.
@Suite("Response redaction by content type", .serialized)
struct ResponseRedactionTests {
    /// The Accept-Encoding values an upstream was sent.
    final class AcceptEncodings: Sendable {
        let seen = Mutex<[String]>([])
    }

    static let niem40 = try! String(contentsOfFile: Repository.path("Tests/WarrantGateCoreTests/Fixtures/niem/niem-4.0.xml"), encoding: .utf8)

    /// An upstream answering every records path with `body`, as `contentType`, encoded with `coding` (nil: none);
    /// it remembers the Accept-Encoding it was sent.
    private func withUpstream(
        contentType: String, coding: String? = nil, _ body: @escaping @Sendable () -> ByteBuffer,
        _ run: (GatewayHarness, AcceptEncodings) async throws -> Void
    ) async throws {
        let acceptEncodings = AcceptEncodings()
        let router = Router()
        let respond: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            acceptEncodings.seen.withLock { $0.append(request.headers[.acceptEncoding] ?? "") }
            var headers: HTTPFields = [.contentType: contentType]
            if let coding { headers[.contentEncoding] = coding }
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body()))
        }
        router.get("/records/inmates/:booking", use: respond)
        router.post("/records/soap", use: respond)
        try await withTestServer(router) { port in
            try await withGateway(upstreamOverrides: ["records": "http://127.0.0.1:\(port)"]) { gateway in
                try await run(gateway, acceptEncodings)
            }
        }
    }

    private static func compressed(_ text: String, _ algorithm: CompressionAlgorithm) -> ByteBuffer {
        var buffer = ByteBuffer(string: text)
        return try! buffer.compress(with: algorithm)
    }

    private static func expectNIEMRedacted(_ body: String) {
        for removed in ["PersonCitizenship", "PersonNationality", "PersonBirthLocation", "PersonIllegalAlienIndicator", "PersonBirthplaceCode", "Guatemalan"] {
            #expect(!body.contains(removed), "\(removed) should be gone")
        }
        for kept in ["<nc:PersonGivenName>Mateo</nc:PersonGivenName>", "BK-2019-0048213", "ORS 813.010"] {
            #expect(body.contains(kept), "\(kept) should be kept")
        }
    }

    @Test("a NIEM 4.0 booking loses its immigration elements and keeps the rest, with its length")
    func niemXML() async throws {
        try await withUpstream(contentType: "application/xml; charset=utf-8", { ByteBuffer(string: Self.niem40) }) { gateway, _ in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(answer.status == 200)
            Self.expectNIEMRedacted(answer.body)
            #expect(answer.headers["content-length"].first == String(answer.body.utf8.count))
            let rows = try await gateway.exportedRows(expecting: [answer.decisionId!])
            #expect((rows.first { $0.decisionId == answer.decisionId }?.outcome?.redactedFields ?? 0) >= 8)
        }
    }

    @Test("gzip and deflate bodies are inflated, redacted and sent uncompressed; Accept-Encoding names only what the gateway decodes")
    func compressed() async throws {
        for (coding, algorithm) in [("gzip", CompressionAlgorithm.gzip()), ("deflate", .zlib())] {
            try await withUpstream(contentType: "text/xml", coding: coding, { Self.compressed(Self.niem40, algorithm) }) { gateway, seen in
                let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123", headers: [("Accept-Encoding", "br, gzip;q=0.8, zstd")])
                #expect(answer.status == 200, "\(coding)")
                #expect(answer.headers["content-encoding"].isEmpty)
                Self.expectNIEMRedacted(answer.body)
                #expect(seen.seen.withLock { $0 } == ["gzip;q=0.8"])
                _ = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123", headers: [("Accept-Encoding", "br")])
                #expect(seen.seen.withLock { $0.last } == "identity")
            }
        }
    }

    @Test("a gzip bomb, a corrupt or truncated stream, and an unknown coding are withheld and logged")
    func compressionRefusals() async throws {
        // Its bulk in an element that is removed: nothing is ready to send when the ratio refuses it (a bomb whose
        // kept bytes pass the first 64 KiB is cut off instead, `keptBombIsCutOff`).
        let bomb = Self.compressed("<a><citizenship>" + String(repeating: " ", count: 64 << 20) + "</citizenship></a>", .gzip())
        var truncated = Self.compressed(Self.niem40, .gzip())
        truncated.moveWriterIndex(to: truncated.writerIndex - 20)
        let cases: [(String, String?, ByteBuffer, String)] = [
            ("bomb", "gzip", bomb, "inflates"),
            ("truncated", "gzip", truncated, "truncated"),
            ("corrupt", "gzip", ByteBuffer(string: "this is not gzip at all"), "corrupt"),
            ("brotli", "br", ByteBuffer(string: Self.niem40), "content coding"),
        ]
        for (label, coding, body, why) in cases {
            try await withUpstream(contentType: "application/xml", coding: coding, { body }) { gateway, _ in
                let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
                #expect(answer.status == 502, "\(label)")
                #expect(answer.reason == "upstream_unredactable", "\(label)")
                #expect((answer.json["detail"] as? String ?? "").contains(why), "\(label): \(answer.json["detail"] ?? "")")
                let rows = try await gateway.exportedRows(expecting: [answer.decisionId!])
                #expect(rows.first { $0.decisionId == answer.decisionId }?.outcome?.error == "upstream_unredactable", "\(label)")
            }
        }
    }

    /// A read is inflated a step at a time, and the first 64 KiB a bomb keeps begin the answer before the ratio limit
    /// applies (past a MiB): the refusal then cuts it off.
    @Test("a gzip bomb whose kept bytes begin the answer is cut off, and its outcome says why")
    func keptBombIsCutOff() async throws {
        let bomb = Self.compressed("<a>" + String(repeating: " ", count: 64 << 20) + "</a>", .gzip())
        try await withUpstream(contentType: "application/xml", coding: "gzip", { bomb }) { gateway, _ in
            try await Self.expectCutOff(gateway, over: .http1Only)
        }
    }

    /// Asks `gateway` for a record whose answer begins with 200 and is then cut off, over `version`, and expects its
    /// outcome to say the upstream's answer could not be redacted, with `redactedFields` removed from what was sent.
    private static func expectCutOff(
        _ gateway: GatewayHarness, over version: HTTPClient.Configuration.HTTPVersion, redactedFields: Int = 0,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        var configuration = HTTPClient.Configuration(tlsConfiguration: try gateway.clientTLS(agency: "denver-pd"))
        configuration.httpVersion = version
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var decisionId: String?
        await #expect(throws: (any Error).self, sourceLocation: sourceLocation) {
            let response = try await client.execute(HTTPClientRequest(url: "https://localhost:\(gateway.port)/records/inmates/2017-000123"), timeout: .seconds(10))
            decisionId = response.headers["decision-id"].first
            #expect(response.status == .ok, sourceLocation: sourceLocation)
            _ = try await response.body.collect(upTo: 1 << 26)
        }
        try await client.shutdown()
        let id = try #require(decisionId, sourceLocation: sourceLocation)
        let outcome = try await gateway.exportedRows(expecting: [id]).first { $0.decisionId == id }?.outcome
        #expect(outcome?.error == "upstream_unredactable" && outcome?.status == 200, sourceLocation: sourceLocation)
        #expect(outcome?.redactedFields == redactedFields, sourceLocation: sourceLocation)
    }

    @Test("hostile XML is withheld with a reason: DOCTYPE, XXE, billion laughs, broken UTF-8, a signed body that loses elements")
    func hostileXML() async throws {
        let signed = Self.niem40.replacingOccurrences(
            of: "</exch:BookingReport>",
            with: #"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature></exch:BookingReport>"#
        )
        let cases: [(String, String, String)] = [
            ("doctype", #"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#, "DOCTYPE"),
            ("laughs", #"<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>"#, "DOCTYPE"),
            ("latin1", #"<?xml version="1.0" encoding="ISO-8859-1"?><a/>"#, "encoding"),
            ("utf8", "<a>\u{FFFD}</a>".replacingOccurrences(of: "\u{FFFD}", with: "\u{1}"), "character"),
            ("xinclude", #"<a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd"/></a>"#, "XInclude"),
            ("signed", signed, "signed"),
            ("truncated", String(Self.niem40.prefix(3000)), "ends"),
        ]
        for (label, document, why) in cases {
            try await withUpstream(contentType: "application/xml", { ByteBuffer(string: document) }) { gateway, _ in
                let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
                #expect(answer.status == 502, "\(label)")
                #expect((answer.json["detail"] as? String ?? "").contains(why), "\(label): \(answer.json["detail"] ?? "")")
                #expect(!answer.body.contains("Guatemalan"), "\(label)")
            }
        }
    }

    @Test("one read of a compressed body may not inflate far past its size, however well the body before it compressed")
    func compressedReadBound() throws {
        /// Redacts `compressed` (gzip) as the upstream's reads would bring it, `pieces` parts of `piece` bytes to a
        /// read, each read decoded a step at a time as the handler does; returns the bytes sent on.
        func redacted(_ compressed: ByteBuffer, piece: Int = 64 * 1024, pieces: Int = 1) throws -> Int {
            let stream = try ResponseRedactionStream(
                redaction: JSONRedaction(names: RedactedNames(["citizenship"])), coding: .gzip,
                limits: .init(maxDecodedBytes: 1 << 30, maxRatio: 100), allocator: ByteBufferAllocator()
            )
            var rest = compressed, sent = 0
            while rest.readableBytes > 0 {
                for _ in 0..<pieces where rest.readableBytes > 0 { stream.receive(rest.readSlice(length: min(piece, rest.readableBytes))!) }
                while stream.hasPendingInput {
                    try stream.advance()
                    sent += stream.takeOutput()?.readableBytes ?? 0
                }
            }
            try stream.finish()
            return sent + (stream.takeOutput()?.readableBytes ?? 0)
        }
        // 2 MiB of barely compressible letters earn the whole body a large ratio budget; then 16 MiB of spaces, which
        // deflate packs into a few KiB.
        var state: UInt64 = 18
        let letters = String(decoding: (0..<(2 << 20)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(ascii: "a") + UInt8((state >> 33) % 26)
        }, as: UTF8.self)
        let bomb = Self.compressed(#"{"a":""# + letters + "\"" + String(repeating: " ", count: 16 << 20) + "}", .gzip())
        #expect(bomb.readableBytes > (18 << 20) / 100, "the body as a whole is within its ratio")
        // In one 64 KiB read, or in 1 KiB chunks of which one read brings 64.
        for (piece, pieces) in [(64 * 1024, 1), (1024, 64)] {
            #expect {
                _ = try redacted(bomb, piece: piece, pieces: pieces)
            } throws: { error in
                "\(error)".contains("one read of the body inflates")
            }
        }
        // The letters alone pass, whole.
        let plain = #"{"a":""# + letters + "\"}"
        #expect(try redacted(Self.compressed(plain, .gzip())) == plain.utf8.count)
    }

    /// A JSON booking whose note is `size` bytes of spaces with a letter every 200: gzip packs it some 90 times, just
    /// under the ratio limit of 100, as the red team's bomb did. Beside it, the booking as the client should get it.
    private static func nearLimitBomb(size: Int) -> (compressed: ByteBuffer, redacted: [UInt8]) {
        var state: UInt64 = 7
        var note = [UInt8](repeating: UInt8(ascii: " "), count: size)
        for index in stride(from: 0, to: size, by: 200) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            note[index] = UInt8(ascii: "a") + UInt8((state >> 33) % 26)
        }
        let head = Array(#"{"bookingNumber":"2017-000123","note":""#.utf8)
        var plain = ByteBuffer(bytes: head + note + Array(#"","citizenship":"SECRET-MX","after":"kept"}"#.utf8))
        let compressed = try! plain.compress(with: .gzip())
        return (compressed, head + note + Array(#"","after":"kept"}"#.utf8))
    }

    @Test("a read is decoded a step at a time: however far it inflates, a step keeps about a window past the step's size")
    func decodingSteps() throws {
        let (compressed, redacted) = Self.nearLimitBomb(size: 8 << 20)
        let ratio = (8 << 20) / compressed.readableBytes
        #expect(ratio > 50 && ratio < 100, "the body inflates \(ratio) times")
        let stream = try ResponseRedactionStream(
            redaction: JSONRedaction(names: RedactedNames(["citizenship"])), coding: .gzip,
            limits: .init(maxDecodedBytes: 1 << 30, maxRatio: 100), allocator: ByteBufferAllocator()
        )
        var rest = compressed, sent: [UInt8] = [], most = 0
        while rest.readableBytes > 0 {
            // One read of 64 KiB: some 6 MB once inflated.
            stream.receive(rest.readSlice(length: min(64 * 1024, rest.readableBytes))!)
            while stream.hasPendingInput {
                try stream.advance()
                most = max(most, stream.output.readableBytes)
                sent += stream.takeOutput().map { Array($0.readableBytesView) } ?? []
            }
        }
        try stream.finish()
        sent += stream.takeOutput().map { Array($0.readableBytesView) } ?? []
        #expect(most <= ResponseRedactionStream.stepBytes + ResponseRedactionStream.windowBytes, "a step kept \(most) bytes")
        #expect(sent == redacted)
        #expect(stream.removed == 1)
    }

    /// A red-team pass: one 64 KiB read of a gzip body that inflated some 90 times (under the ratio limit) was inflated
    /// whole and written to the client at once, whether it could take it or not: 60 HTTP/2 streams read at 2 KB/s took a
    /// gateway from 84 MB to 450 MB, and 259 MB stayed held.
    @Test("a compressed body is inflated only as the client takes it, and arrives whole and redacted over HTTP/2 and HTTP/1.1")
    func inflationWaitsForTheClient() async throws {
        typealias H2 = RawHTTP2FrameConnection
        let (compressed, redacted) = Self.nearLimitBomb(size: 8 << 20)
        let path = "/records/inmates/2017-000123"
        try await withUpstream(contentType: "application/json", coding: "gzip", { compressed }) { gateway, _ in
            let unwritten = UnwrittenBodyBytes()
            try await gateway.withListener(limits: gateway.gateway.configuration.limits, handlers: unwritten.handlers) { port in
                let tls = try gateway.clientTLS(agency: "denver-pd")
                let connection = try await H2.open(port: port, tls: tls)
                // SETTINGS_INITIAL_WINDOW_SIZE = 0: the answer's head may come, none of its body until the window opens.
                await connection.send(H2.clientPreface + H2.frame(H2.Kind.settings, [0x00, 0x04, 0, 0, 0, 0]))
                #expect(await connection.wait { $0.sawServerSettings } != nil)
                await connection.send(H2.frame(H2.Kind.settings, flags: H2.Flag.ack))
                await connection.send(H2.headers(stream: 1, H2.request("GET", path)))
                #expect(await connection.wait { $0.status(1) != nil }?.status(1) == 200)
                // The client takes the rest: the stream's window and the connection's opened as far as they go.
                await connection.send(
                    H2.frame(H2.Kind.settings, [0x00, 0x04, 0x7f, 0xff, 0xff, 0xff]) + H2.frame(H2.Kind.windowUpdate, stream: 0, [0x7f, 0xff, 0x00, 0x00])
                )
                let answered = await connection.wait(upTo: 60) { $0.ended(1) }
                #expect(answered?.reset(1) == false)
                #expect(answered?.body(1) == redacted)
                await connection.close()

                var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
                configuration.httpVersion = .http1Only
                let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
                let response = try await client.execute(HTTPClientRequest(url: "https://localhost:\(port)\(path)"), timeout: .seconds(60))
                let body = try await response.body.collect(upTo: 1 << 25)
                try await client.shutdown()
                #expect(Array(body.readableBytesView) == redacted)
            }
            #expect(unwritten.most <= 256 * 1024, "\(unwritten.most) bytes of the answer were written ahead of the client")
        }
    }

    /// A red-team pass: a JSON-LD context's term of a redacted name passed when it defined an IRI, which carries what
    /// the upstream writes into it.
    @Test("a JSON-LD context term named like a redacted field is removed from the answer, the rest of the context kept")
    func contextTermIsRemoved() async throws {
        let document = #"{"@context":{"citizenship":"urn:SECRET-MX","nc":"http://release.niem.gov/niem/niem-core/4.0/#"},"bookingNumber":"1"}"#
        try await withUpstream(contentType: "application/ld+json", { ByteBuffer(string: document) }) { gateway, _ in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(answer.status == 200)
            #expect(answer.body == #"{"@context":{"nc":"http://release.niem.gov/niem/niem-core/4.0/#"},"bookingNumber":"1"}"#)
            let rows = try await gateway.exportedRows(expecting: [answer.decisionId!])
            #expect(rows.first { $0.decisionId == answer.decisionId }?.outcome?.redactedFields == 1)
        }
    }

    @Test("an empty body of unknown length passes as empty, whatever its type")
    func emptyChunkedBody() async throws {
        let router = Router()
        router.get("/records/inmates/:booking") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/xml"], body: ResponseBody { writer in try await writer.finish(nil) })
        }
        try await withTestServer(router) { port in
            try await withGateway(upstreamOverrides: ["records": "http://127.0.0.1:\(port)"]) { gateway in
                let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
                #expect(answer.status == 200)
                #expect(answer.body.isEmpty)
                #expect(answer.headers["content-length"].first == "0")
            }
        }
    }

    @Test("a type redaction cannot read is withheld, as before")
    func unreadableType() async throws {
        try await withUpstream(contentType: "text/plain", { ByteBuffer(string: "citizenship: GT") }) { gateway, _ in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(answer.status == 502)
            #expect(!answer.body.contains("GT"))
        }
    }

    @Test("a withheld answer's detail quotes nothing of the upstream's: no key, entity, type or coding")
    func withheldQuotesNothing() async throws {
        let cases: [(String, String, String?, String)] = [
            ("context keyword", "application/json", nil, #"{"@context":{"@citizenshipMX":1},"a":1}"#),
            ("term keyword", "application/json", nil, #"{"@context":{"t":{"@id":"urn:t","@citizenshipMX":1}},"a":1}"#),
            ("entity", "application/xml", nil, "<r>&citizenshipMX;</r>"),
            ("encoding", "application/xml", nil, #"<?xml version="1.0" encoding="citizenshipMX"?><r/>"#),
            ("type", "text/plain; citizenshipMX=1", nil, "x"),
            ("coding", "application/json", "citizenshipMX", "{}"),
        ]
        for (label, type, coding, body) in cases {
            try await withUpstream(contentType: type, coding: coding, { ByteBuffer(string: body) }) { gateway, _ in
                let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
                #expect(answer.status == 502, "\(label)")
                #expect(!answer.body.contains("citizenshipMX"), "\(label): \(answer.body)")
            }
        }
    }

    @Test("a body with two Content-Types is withheld: it is redacted as one type and could be read as the other")
    func twoContentTypes() async throws {
        let router = Router()
        router.get("/records/inmates/:booking") { _, context -> Response in
            // One type whose quoted parameter holds a comma, for the second booking; two types for the first.
            var headers: HTTPFields = [.contentType: #"application/json; profile="urn:a,urn:b""#]
            if context.parameters.get("booking") == "2017-000123" { headers.append(HTTPField(name: .contentType, value: "text/html")) }
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"citizenship":"GT","name":"A"}"#)))
        }
        try await withTestServer(router) { port in
            try await withGateway(upstreamOverrides: ["records": "http://127.0.0.1:\(port)"]) { gateway in
                let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
                #expect(answer.status == 502)
                #expect(answer.reason == "upstream_unredactable")
                #expect(!answer.body.contains("\"name\":\"A\""))
                let one = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000456")
                #expect(one.status == 200)
                #expect(one.body == #"{"name":"A"}"#)
            }
        }
    }

    @Test("a SOAP 1.1 envelope is redacted inside its Body; a redacted element in its Header withholds it")
    func soap() async throws {
        let payload = Self.niem40.replacingOccurrences(of: #"<?xml version="1.0" encoding="UTF-8"?>"#, with: "")
        let envelope = #"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:Trace xmlns:h="urn:trace">1</h:Trace></s:Header><s:Body>"#
            + payload + "</s:Body></s:Envelope>"
        try await withUpstream(contentType: "text/xml; charset=utf-8", { ByteBuffer(string: envelope) }) { gateway, _ in
            let answer = try await gateway.send("denver-pd", .POST, "/records/soap", headers: SOAPRouteTests.headers(), body: SOAPRouteTests.envelope("GetBooking"))
            #expect(answer.status == 200)
            Self.expectNIEMRedacted(answer.body)
            #expect(answer.body.contains("<h:Trace xmlns:h=\"urn:trace\">1</h:Trace>"))
        }
        let leaky = #"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><nc:PersonCitizenshipText xmlns:nc="http://release.niem.gov/niem/niem-core/4.0/">GT</nc:PersonCitizenshipText></s:Header><s:Body/></s:Envelope>"#
        try await withUpstream(contentType: "text/xml", { ByteBuffer(string: leaky) }) { gateway, _ in
            let answer = try await gateway.send("denver-pd", .POST, "/records/soap", headers: SOAPRouteTests.headers(), body: SOAPRouteTests.envelope("GetBooking"))
            #expect(answer.status == 502)
            #expect((answer.json["detail"] as? String ?? "").contains("SOAP header"))
        }
    }

    /// A long NIEM export: `count` bookings, then `tail`.
    private static func export(bookings count: Int, tail: String = "") -> String {
        let booking = niem40.components(separatedBy: "<j:Booking>")[1].components(separatedBy: "</j:Booking>")[0]
        let head = niem40.components(separatedBy: "<j:Booking>")[0]
        return head + String(repeating: "<j:Booking>" + booking + "</j:Booking>", count: count) + tail + "</exch:BookingReport>"
    }

    /// An upstream that cut a document into pieces of a byte or two made every write pin the output buffer's whole
    /// capacity (64 KiB, or megabytes once a read had inflated far): 10 MB of such pieces took a gateway to 590 MB.
    @Test("what is taken of the redacted output holds no more memory than it needs, however far the buffer grew")
    func takenOutputIsCompact() throws {
        let stream = try ResponseRedactionStream(
            redaction: JSONRedaction(names: RedactedNames(["citizenship"])), coding: .identity,
            limits: .init(maxDecodedBytes: 1 << 30, maxRatio: 100), allocator: ByteBufferAllocator()
        )
        #expect(stream.takeOutput() == nil)
        let long = String(repeating: "x", count: 1 << 20)
        try stream.decodeWhole(ByteBuffer(string: #"{"a":""# + long))
        let first = try #require(stream.takeOutput())
        #expect(first.readableBytes == 6 + long.utf8.count)
        #expect(stream.output.capacity <= 64 * 1024, "the grown buffer was kept")
        for piece in ["xy", "z", #"","citizenship":"A-1","b":"k"}"#] {
            try stream.decodeWhole(ByteBuffer(string: piece))
            let taken = try #require(stream.takeOutput())
            #expect(taken.capacity <= 64, "\(taken.readableBytes) bytes taken in a buffer of \(taken.capacity)")
        }
        try stream.finish()
        #expect(stream.takeOutput() == nil)
    }

    /// A helper's pass: markup in a string that names a redacted field is refused at its `>`, or at its element's end
    /// tag, but what came before went out at the end of every read: past the head's hold, the value reached the client
    /// before the refusal cut the answer off.
    @Test("bytes that markup in a string may yet refuse are held until it is decided, and no longer than a bound")
    func undecidedMarkupIsHeld() throws {
        func stream(_ redaction: any BodyRedaction) throws -> ResponseRedactionStream {
            try ResponseRedactionStream(redaction: redaction, coding: .identity, limits: .init(maxDecodedBytes: 1 << 30, maxRatio: 100), allocator: ByteBufferAllocator())
        }
        let names = RedactedNames(["citizenship", "immigration"])
        let fill = String(repeating: "f", count: 100_000)
        for (redaction, opening, close) in [
            (JSONRedaction(names: names) as any BodyRedaction, #"{"pad":"p","n":"<p citizenship='SECRET' "#, #">"}"#),
            (JSONRedaction(names: names), #"{"pad":"p","n":"<immigration hold>SECRET "#, #"</immigration>"}"#),
            (XMLRedaction(names: names), "<r><pad>p</pad><n>&lt;p citizenship='SECRET' ", "/&gt;</n></r>"),
        ] {
            let body = try stream(redaction)
            try body.decodeWhole(ByteBuffer(string: opening))
            try body.decodeWhole(ByteBuffer(string: fill))
            #expect(body.awaitsVerdict && body.takeOutput() == nil, "\(opening): its bytes would go out before the verdict")
            #expect(throws: RedactionError.self) { try body.decodeWhole(ByteBuffer(string: close)) }
        }
        // A tag that reads as prose, whose string ends with no end tag of it, was none: the string goes out then.
        let prose = try stream(JSONRedaction(names: names))
        try prose.decodeWhole(ByteBuffer(string: #"{"n":"<immigration hold> requested by phone "#))
        #expect(prose.takeOutput() == nil)
        try prose.decodeWhole(ByteBuffer(string: #"","m":1}"#))
        #expect(!prose.awaitsVerdict)
        #expect(prose.takeOutput().map { String(buffer: $0) } == #"{"n":"<immigration hold> requested by phone ","m":1}"#)
        // Undecided for longer than the bound: refused, not held without end.
        let endless = try stream(JSONRedaction(names: names))
        try endless.decodeWhole(ByteBuffer(string: #"{"n":"<p citizenship='x' "#))
        #expect(throws: RedactionError.self) {
            for _ in 0...(ResponseRedactionStream.maxUndecidedBytes / fill.utf8.count) { try endless.decodeWhole(ByteBuffer(string: fill)) }
        }
    }

    @Test("a long answer whose markup is refused after its first 64 KiB is withheld whole, with a 502", arguments: [
        (contentType: "application/json", body: #"{"pad":"PAD","n":"<p citizenship='SECRET' FILL>"}"#),
        (contentType: "application/json", body: #"{"pad":"PAD","n":"<immigration hold>SECRET FILL</immigration>"}"#),
        (contentType: "application/xml", body: "<r><pad>PAD</pad><n>&lt;p citizenship='SECRET' FILL/&gt;</n></r>"),
    ])
    func lateMarkupIsWithheld(contentType: String, body: String) async throws {
        let document = body.replacingOccurrences(of: "PAD", with: String(repeating: "p", count: 80_000))
            .replacingOccurrences(of: "FILL", with: String(repeating: "f", count: 100_000))
        try await withUpstream(contentType: contentType, { ByteBuffer(string: document) }) { gateway, _ in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(answer.status == 502)
            #expect(answer.reason == "upstream_unredactable")
            #expect(!answer.body.contains("SECRET"))
        }
    }

    @Test("a long document streams: its answer starts before its end, without a length, and arrives whole and redacted")
    func streams() async throws {
        let document = Self.export(bookings: 500)
        try await withUpstream(contentType: "application/xml", { ByteBuffer(string: document) }) { gateway, _ in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(answer.status == 200)
            #expect(answer.headers["content-length"].isEmpty)
            #expect(answer.body.hasSuffix("</exch:BookingReport>"))
            #expect(answer.body.components(separatedBy: "<j:Booking>").count == 501)
            #expect(!answer.body.contains("PersonCitizenship"))

            // An HTTP/1.0 client cannot read chunked coding (RFC 9112 §7.1): it is answered in HTTP/1.0, the body ended
            // by the close.
            let connection = try await RawTLSConnection.open(port: gateway.port, tls: try gateway.clientTLS(agency: "denver-pd"))
            let request = "GET /records/inmates/2017-000123 HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n"
            let head = try await connection.exchange(Array(request.utf8)).raw
            #expect(head.hasPrefix("HTTP/1.0 200"), "\(head)")
            #expect(!head.lowercased().contains("transfer-encoding"), "\(head)")
            #expect(head.lowercased().contains("connection: close"), "\(head)")
            // Read until the close that ends it: on a loaded machine the whole document takes longer than an answer's
            // usual five seconds, after which the reader would close the connection and keep what had come.
            let body = try await connection.exchange([], timeout: .seconds(120)).raw
            #expect(body.hasSuffix("</exch:BookingReport>"), "\(body.suffix(200))")
            #expect(body.components(separatedBy: "<j:Booking>").count == 501)
            #expect(await connection.closes())
            await connection.close()
        }
    }

    /// The outcome counts the fields removed from what the client was sent (an attacker's pass: a cut-off answer's
    /// said 0).
    @Test("a refusal after the answer began cuts it off, over HTTP/1.1 and HTTP/2, and is logged as the outcome")
    func lateRefusal() async throws {
        let signature = #"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"#
        let document = Self.export(bookings: 200, tail: signature)
        try await withUpstream(contentType: "application/xml", { ByteBuffer(string: document) }) { gateway, _ in
            for version in [HTTPClient.Configuration.HTTPVersion.http1Only, .automatic] {
                try await Self.expectCutOff(gateway, over: version, redactedFields: 200 * 10)
            }
        }
    }
}

extension ResponseRedactionStream {
    /// Receives `chunk` as one read from the upstream and decodes all of it, taking nothing: what the handler does
    /// with a read while the client has room, but for the taking.
    func decodeWhole(_ chunk: ByteBuffer) throws(RedactionError) {
        receive(chunk)
        while hasPendingInput { try advance() }
    }
}

/// Counts the body bytes request handlers have written that their connection has not passed on yet (over HTTP/2,
/// those the stream's flow-control window holds back too), and the most there ever were: what a client that does not
/// take its answer leaves the gateway holding.
final class UnwrittenBodyBytes: Sendable {
    private let counts = Mutex((now: 0, most: 0))

    var most: Int { counts.withLock { $0.most } }

    /// `environment`'s request handlers, each behind a stage that counts each body write until it completes.
    func handlers(_ environment: GatewayEnvironment) -> any RequestHandlerFactory {
        StagedRequestHandlers(environment: environment) { [self] context, part, data, promise in
            guard case .body(.byteBuffer(let body)) = part else { return context.write(data, promise: promise) }
            let bytes = body.readableBytes
            add(bytes)
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { [self] result in
                add(-bytes)
                promise?.completeWith(result)
            }
            context.write(data, promise: written)
        }
    }

    private func add(_ bytes: Int) {
        counts.withLock { counts in
            counts.now += bytes
            counts.most = max(counts.most, counts.now)
        }
    }
}
