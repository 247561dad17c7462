import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import WarrantGateServer

/// The limit on what NIO's HTTP/1 parser holds unparsed, on an embedded channel with the parser and the sequencer
/// as the gateway sets them up.
@Suite("Unparsed input limit")
struct UnparsedInputLimitTests {
    private static let maxBytes = 32 * 1024

    private static func channel(recorder: ParserErrorRecorder? = nil) throws -> (EmbeddedChannel, ReadCounter) {
        let counter = ReadCounter()
        let limit = UnparsedInputLimit(maxBytes: maxBytes)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            counter, limit, ByteToMessageHandler(HTTPRequestDecoder()), HTTP1RequestSequencer(inputLimit: limit),
        ])
        if let recorder { try channel.pipeline.syncOperations.addHandler(recorder) }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        return (channel, counter)
    }

    private static func spaces(_ count: Int) -> ByteBuffer {
        ByteBuffer(repeating: UInt8(ascii: " "), count: count)
    }

    @Test("whitespace inside a head, which the parser neither counts nor bounds, is cut off past the limit", arguments: [
        "GET /records HTTP/1.1\r\nHost: a\r\nX:",
        "GET /records",
    ])
    func whitespaceFloodIsCut(_ start: String) throws {
        let (channel, counter) = try Self.channel()
        // EmbeddedChannel's writeInbound throws the errors that reach the end of the pipeline.
        try channel.writeInbound(ByteBuffer(string: start))
        for _ in 0..<((Self.maxBytes - start.utf8.count) / 4096) {
            #expect(throws: Never.self, "the limit tripped before it was exceeded") { try channel.writeInbound(Self.spaces(4096)) }
        }
        #expect(throws: HTTPParserError.headerOverflow) { try channel.writeInbound(Self.spaces(4096)) }
        #expect(throws: Never.self, "the limit passed on more than one error") { try channel.writeInbound(Self.spaces(4096)) }
        channel.read()
        #expect(counter.reads == 0, "the connection was read after the limit tripped")
        _ = try channel.finish()
    }

    @Test("a request read in one piece larger than the limit passes: the parser is given each slice before it is counted")
    func largeReadPasses() throws {
        let (channel, _) = try Self.channel()
        let body = String(repeating: "x", count: Self.maxBytes * 2)
        try channel.writeInbound(ByteBuffer(string: "POST /visits HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"))
        var bodyBytes = 0
        var ended = false
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
            if case .body(let bytes) = part { bodyBytes += bytes.readableBytes }
            if case .end = part { ended = true }
        }
        #expect(bodyBytes == body.utf8.count)
        #expect(ended)
        _ = try channel.finish()
    }

    @Test("a body far larger than the limit passes: each part the parser produces resets the count")
    func largeBodyPasses() throws {
        let (channel, _) = try Self.channel()
        let length = Self.maxBytes * 8
        try channel.writeInbound(ByteBuffer(string: "POST /visits HTTP/1.1\r\nHost: a\r\nContent-Length: \(length)\r\n\r\n"))
        for _ in 0..<(length / 4096) { try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "x"), count: 4096)) }
        #expect(throws: Never.self) { try channel.throwIfErrorCaught() }
        var bodyBytes = 0
        var ended = false
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .body(let bytes): bodyBytes += bytes.readableBytes
            case .end: ended = true
            case .head: break
            }
        }
        #expect(bodyBytes == length)
        #expect(ended)
        _ = try channel.finish()
    }

    @Test("one large read that holds a whole request and then whitespace is counted slice by slice, and cut off")
    func largeReadIsSliced() throws {
        let recorder = ParserErrorRecorder()
        let (channel, _) = try Self.channel(recorder: recorder)
        var read = ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b")
        read.writeRepeatingByte(UInt8(ascii: " "), count: Self.maxBytes * 8)
        try channel.writeInbound(read)
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) != nil, "the first request was not handed on")

        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        #expect(recorder.errors == [.headerOverflow], "the whitespace behind a parsed request went uncounted")
        _ = try channel.finish()
    }
}
