import Foundation
import NIOCore
import NIOHTTP1
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization

/// One HTTP/2 connection over mutual TLS, on which each exchange opens a stream and may leave its request body
/// unfinished: what a client library would not send.
final class RawHTTP2Connection: @unchecked Sendable {
    struct Answer {
        /// The response status, or 0 if the stream closed without a response head.
        let status: Int
        let body: String
        var headers = HTTPHeaders()
        /// Whether the stream ended with the answer's end, not closed (reset, or by the test's timeout) before it.
        var ended = false
    }

    private final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let done: EventLoopPromise<Answer>
        var status = 0
        var body = ""
        var headers = HTTPHeaders()

        init(done: EventLoopPromise<Answer>) { self.done = done }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): (status, headers) = (Int(head.status.code), head.headers)
            case .body(let buffer): body += String(buffer: buffer)
            case .end: done.succeed(Answer(status: status, body: body, headers: headers, ended: true))
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            done.succeed(Answer(status: status, body: body, headers: headers))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    let channel: any Channel
    private let multiplexer: NIOHTTP2Handler.StreamMultiplexer

    private init(channel: any Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer) {
        self.channel = channel
        self.multiplexer = multiplexer
    }

    /// Opens a connection presenting `tls`'s certificate, speaking HTTP/2.
    static func open(port: Int, tls: TLSConfiguration) async throws -> RawHTTP2Connection {
        let ready = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: NIOHTTP2Handler.StreamMultiplexer.self)
        let channel = try await RawTLSClient.connect(port: port, tls: tls, protocols: ["h2"]) { pipeline in
            ready.succeed(try pipeline.configureHTTP2Pipeline(
                mode: .client, connectionConfiguration: .init(), streamConfiguration: .init(),
                inboundStreamInitializer: { $0.eventLoop.makeSucceededVoidFuture() }
            ))
        }
        return RawHTTP2Connection(channel: channel, multiplexer: try await ready.futureResult.get())
    }

    /// Sends a request head (and `body`, if any) on a new stream, ending the request only if `end` is true, and
    /// returns the answer once the stream has ended or closed.
    func exchange(
        _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil, end: Bool = true,
        timeout: TimeAmount = .seconds(5)
    ) async throws -> Answer {
        let done = channel.eventLoop.makePromise(of: Answer.self)
        let streamPromise = channel.eventLoop.makePromise(of: (any Channel).self)
        multiplexer.createStreamChannel(promise: streamPromise) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .https))
                try stream.pipeline.syncOperations.addHandler(Collector(done: done))
            }
        }
        let stream = try await streamPromise.futureResult.get()
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "host", value: "localhost")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        stream.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { stream.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil) }
        if end { stream.write(HTTPClientRequestPart.end(nil), promise: nil) }
        stream.flush()
        // Cancelled on the loop as the answer is handed over (see ``RawTLSConnection/exchange(_:timeout:)``).
        let deadline = stream.eventLoop.scheduleTask(in: timeout) { stream.close(promise: nil) }
        done.futureResult.whenComplete { _ in deadline.cancel() }
        return try await done.futureResult.get()
    }

    func close() async {
        try? await channel.close()
    }
}

/// One TLS connection that negotiates "h2" by ALPN and on which the test writes HTTP/2 frames as raw bytes, for what
/// no HTTP/2 library would send (a SETTINGS never acknowledged, an upper-case header name, a duplicated pseudo-header,
/// a flood of resets or CONTINUATION frames). The gateway's frames are read back, parsed, and their header blocks
/// decoded in order.
final class RawHTTP2FrameConnection: @unchecked Sendable {
    /// Frame types and flags, RFC 9113 §6.
    enum Kind {
        static let data: UInt8 = 0x0, headers: UInt8 = 0x1, rstStream: UInt8 = 0x3, settings: UInt8 = 0x4, ping: UInt8 = 0x6
        static let goAway: UInt8 = 0x7, windowUpdate: UInt8 = 0x8, continuation: UInt8 = 0x9
    }

    enum Flag {
        static let endStream: UInt8 = 0x1, ack: UInt8 = 0x1, endHeaders: UInt8 = 0x4, padded: UInt8 = 0x8, priority: UInt8 = 0x20
    }

    struct Frame: Sendable {
        let type: UInt8
        let flags: UInt8
        let stream: UInt32
        let payload: [UInt8]
    }

    /// Everything the gateway has sent so far, and whether the connection has closed.
    struct Received: Sendable {
        var frames: [Frame] = []
        /// Each decoded header block, with its stream, in arrival order.
        var headerBlocks: [(stream: UInt32, fields: [(name: String, value: String)])] = []
        var closed = false

        /// Whether the gateway has sent its own SETTINGS: proof that it speaks HTTP/2 on this connection.
        var sawServerSettings: Bool { frames.contains { $0.type == Kind.settings && $0.flags & Flag.ack == 0 } }
        var goAway: Frame? { frames.first { $0.type == Kind.goAway } }
        /// The error code of the first GOAWAY, if any.
        var goAwayErrorCode: UInt32? { goAway.map { Self.uint32($0.payload, at: 4) } }

        /// Whether `stream` has ended: END_STREAM from the gateway, or a RST_STREAM.
        func ended(_ stream: UInt32) -> Bool {
            frames.contains { $0.stream == stream && ($0.type == Kind.rstStream || (($0.type == Kind.data || $0.type == Kind.headers) && $0.flags & Flag.endStream != 0)) }
        }

        func reset(_ stream: UInt32) -> Bool { frames.contains { $0.stream == stream && $0.type == Kind.rstStream } }

        /// The first header block on `stream` (its response head).
        func responseHead(_ stream: UInt32) -> [(name: String, value: String)]? { headerBlocks.first { $0.stream == stream }?.fields }

        func status(_ stream: UInt32) -> Int? { responseHead(stream)?.first { $0.name == ":status" }.flatMap { Int($0.value) } }

        /// The DATA payload received on `stream`.
        func body(_ stream: UInt32) -> [UInt8] {
            frames.filter { $0.stream == stream && $0.type == Kind.data }.flatMap { Self.unpadded($0) }
        }

        static func uint32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
            guard bytes.count >= offset + 4 else { return 0 }
            return bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }

        /// A DATA or HEADERS payload without its padding (and, for HEADERS, its priority fields).
        static func unpadded(_ frame: Frame) -> [UInt8] {
            var payload = frame.payload[...]
            var padding = 0
            if frame.flags & Flag.padded != 0, let length = payload.first {
                padding = Int(length)
                payload = payload.dropFirst()
            }
            if frame.type == Kind.headers && frame.flags & Flag.priority != 0 { payload = payload.dropFirst(5) }
            return Array(payload.dropLast(padding))
        }
    }

    private final class Reader: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let received = Mutex(Received())
        private var pending = ByteBuffer()
        private var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
        private var headerBlock: (stream: UInt32, bytes: [UInt8])?

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            pending.writeBuffer(&buffer)
            while pending.readableBytes >= 9, let header = pending.getBytes(at: pending.readerIndex, length: 9) {
                let length = Int(header[0]) << 16 | Int(header[1]) << 8 | Int(header[2])
                guard pending.readableBytes >= 9 + length else { break }
                pending.moveReaderIndex(forwardBy: 9)
                let frame = Frame(
                    type: header[3], flags: header[4], stream: Received.uint32(header, at: 5) & 0x7fff_ffff,
                    payload: pending.readBytes(length: length) ?? []
                )
                received.withLock { $0.frames.append(frame) }
                decodeHeaders(frame)
            }
        }

        /// Decodes header blocks in arrival order, since HPACK's dynamic table spans them.
        private func decodeHeaders(_ frame: Frame) {
            switch frame.type {
            case Kind.headers: headerBlock = (frame.stream, Received.unpadded(frame))
            case Kind.continuation: headerBlock?.bytes += frame.payload
            default: return
            }
            guard frame.flags & Flag.endHeaders != 0, let block = headerBlock else { return }
            headerBlock = nil
            var bytes = ByteBuffer(bytes: block.bytes)
            let fields = ((try? decoder.decodeHeaders(from: &bytes)) ?? HPACKHeaders()).map { (name: $0.name, value: $0.value) }
            received.withLock { $0.headerBlocks.append((block.stream, fields)) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            received.withLock { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    static let clientPreface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    let channel: any Channel
    private let reader: Reader

    private init(channel: any Channel, reader: Reader) {
        self.channel = channel
        self.reader = reader
    }

    /// Opens a TLS connection presenting `tls`'s certificate and offering only "h2"; nothing HTTP/2 is sent yet.
    static func open(port: Int, tls: TLSConfiguration) async throws -> RawHTTP2FrameConnection {
        let reader = Reader()
        let channel = try await RawTLSClient.connect(port: port, tls: tls, protocols: ["h2"]) { try $0.addHandler(reader) }
        return RawHTTP2FrameConnection(channel: channel, reader: reader)
    }

    /// What the gateway has sent so far.
    var received: Received { reader.received.withLock { $0 } }

    /// Writes `bytes` as they are; a write the gateway no longer reads is not an error here.
    func send(_ bytes: [UInt8]) async {
        try? await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Waits up to `seconds` for `condition` to hold of what has been received; returns it then, or nil.
    func wait(upTo seconds: Double = 10, until condition: (Received) -> Bool) async -> Received? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            let now = received
            if condition(now) { return now }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The connection preface and an empty SETTINGS frame, then, once the gateway's SETTINGS arrive, their
    /// acknowledgement: the setup a well-behaved client completes. False if the gateway's SETTINGS never came.
    func completeSetup() async -> Bool {
        await send(Self.clientPreface + Self.frame(Kind.settings))
        guard await wait(until: { $0.sawServerSettings }) != nil else { return false }
        await send(Self.frame(Kind.settings, flags: Flag.ack))
        return true
    }

    func close() async {
        try? await channel.close()
    }

    // MARK: Frames, as bytes

    /// One frame: its 9-byte header, then `payload`.
    static func frame(_ type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
        let length = payload.count
        return [
            UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length), type, flags,
            UInt8(truncatingIfNeeded: stream >> 24) & 0x7f, UInt8(truncatingIfNeeded: stream >> 16), UInt8(truncatingIfNeeded: stream >> 8),
            UInt8(truncatingIfNeeded: stream),
        ] + payload
    }

    /// A HEADERS frame carrying `fields` exactly as given (names not lower-cased, duplicates kept), ending the
    /// header block, and the stream too if `endStream`.
    static func headers(stream: UInt32, _ fields: [(String, String)], endStream: Bool = true) -> [UInt8] {
        frame(Kind.headers, flags: Flag.endHeaders | (endStream ? Flag.endStream : 0), stream: stream, headerBlock(fields))
    }

    /// The pseudo-headers of a request to the gateway, then `extra`.
    static func request(_ method: String, _ path: String, _ extra: [(String, String)] = []) -> [(String, String)] {
        [(":method", method), (":scheme", "https"), (":path", path), (":authority", "localhost")] + extra
    }

    /// A RST_STREAM frame with `errorCode` (default CANCEL).
    static func rstStream(_ stream: UInt32, errorCode: UInt32 = 0x8) -> [UInt8] {
        frame(Kind.rstStream, stream: stream, [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: errorCode >> $0) })
    }

    /// An HPACK header block of literal fields without indexing and without Huffman coding (RFC 7541 §6.2.2): the
    /// bytes on the wire are the names and values given.
    static func headerBlock(_ fields: [(String, String)]) -> [UInt8] {
        var block: [UInt8] = []
        for (name, value) in fields {
            block.append(0x00)
            for text in [name, value] {
                block += integer(text.utf8.count, prefixBits: 7)
                block += Array(text.utf8)
            }
        }
        return block
    }

    /// An HPACK integer with an N-bit prefix, RFC 7541 §5.1.
    private static func integer(_ value: Int, prefixBits: Int) -> [UInt8] {
        let limit = (1 << prefixBits) - 1
        guard value >= limit else { return [UInt8(value)] }
        var bytes = [UInt8(limit)]
        var rest = value - limit
        while rest >= 128 {
            bytes.append(UInt8(rest % 128) | 0x80)
            rest /= 128
        }
        bytes.append(UInt8(rest))
        return bytes
    }
}
