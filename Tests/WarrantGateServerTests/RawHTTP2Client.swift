import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// One HTTP/2 connection over mutual TLS, on which each exchange opens a stream and may leave its request body
/// unfinished: what a client library would not send.
final class RawHTTP2Connection: @unchecked Sendable {
    struct Answer {
        /// The response status, or 0 if the stream closed without a response head.
        let status: Int
        let body: String
    }

    private final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let done: EventLoopPromise<Answer>
        var status = 0
        var body = ""

        init(done: EventLoopPromise<Answer>) { self.done = done }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = Int(head.status.code)
            case .body(let buffer): body += String(buffer: buffer)
            case .end: done.succeed(Answer(status: status, body: body))
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            done.succeed(Answer(status: status, body: body))
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
        let deadline = stream.eventLoop.scheduleTask(in: timeout) { stream.close(promise: nil) }
        defer { deadline.cancel() }
        return try await done.futureResult.get()
    }

    func close() async {
        try? await channel.close()
    }
}
