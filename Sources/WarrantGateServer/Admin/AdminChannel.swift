import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin listener's HTTP/1 connections: Hummingbird's, bounded like the data plane's. Hummingbird's defaults leave
/// an idle connection open for ever and NIO's parser buffers a head padded with whitespace without bound (1 GiB sent to
/// `/healthz` grew the gateway by 1 GiB), so a local process, or a scraper's network if the listener is exposed, could
/// exhaust the gateway's memory. Here a head may hold ``maxHeaderBytes`` of fields and ``UnparsedInputLimit`` more
/// unparsed, a connection is closed once idle for ``idleTimeout`` and, whatever it is doing (Hummingbird's idle timer
/// waits while an answer is being written, so a client that pipelines requests and never reads would otherwise keep
/// it), after ``maxLifetime``; and at most ``maxConnections`` stay open at once: the next closes the oldest of the
/// address holding the most, one between requests first (``AdminConnections``), so that whoever occupies the listener
/// cannot keep another address's probes out, and the cap keeps that from costing the gateway its memory or its file
/// descriptors. The listener runs on its own event loop, so that a flood of scrapes or probes competes with agencies'
/// requests for the CPU only, never queues ahead of them on the data plane's loops.
struct AdminChannel: HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    static let maxHeaderBytes = 16 * 1024
    static let maxHeaderCount = 100
    static let idleTimeout: TimeAmount = .seconds(10)
    static let maxLifetime: TimeAmount = .seconds(60)
    static let maxConnections = 64
    /// The listener's own thread, apart from the data plane's event loops.
    static let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    let responder: Responder
    let connections: AdminConnections

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        connections.add(channel)
        let lifetime = channel.eventLoop.scheduleTask(in: Self.maxLifetime) { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in lifetime.cancel() }
        let limit = UnparsedInputLimit(maxBytes: Self.maxHeaderBytes + 64 * 1024)
        do {
            try channel.pipeline.syncOperations.addHandler(limit)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        let http = HTTP1Channel(responder: responder, configuration: .init(
            idleTimeout: Self.idleTimeout,
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: Self.maxHeaderBytes, maxHeaderListSize: Self.maxHeaderBytes, maxHeaderFieldCount: Self.maxHeaderCount
            )
        ))
        return http.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let sync = channel.pipeline.syncOperations
            let decoder = try sync.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try sync.addHandler(
                RequestProgress(limit: try sync.handler(type: UnparsedInputLimit.self), connections: connections), position: .after(decoder)
            )
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }

    /// A listener's connections, `connections` recording them.
    static func server(_ connections: AdminConnections = AdminConnections(cap: maxConnections)) -> HTTPServerBuilder {
        HTTPServerBuilder { AdminChannel(responder: $0, connections: connections) }
    }

    /// The listener's configuration. It accepts one connection past the cap, which makes room for itself
    /// (``AdminConnections``); NIO may accept a few more in the same read, each of which makes its own room.
    static func serverConfiguration(host: String, port: Int) -> ApplicationConfiguration {
        .init(address: .hostname(host, port: port), serverName: nil, availableConnectionsDelegate: MaximumAvailableConnections(maxConnections + 1))
    }
}

/// Right after the parser: tells the connection's ``UnparsedInputLimit`` that the parser produced a part, and
/// ``AdminConnections`` when a request's head is read and when its answer's end is written.
private final class RequestProgress: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let limit: UnparsedInputLimit
    private let connections: AdminConnections

    init(limit: UnparsedInputLimit, connections: AdminConnections) {
        self.limit = limit
        self.connections = connections
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        limit.parsed()
        if case .head = unwrapInboundIn(data) { connections.requestRead(on: context.channel) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { connections.answerWritten(on: context.channel) }
        context.write(data, promise: promise)
    }
}
