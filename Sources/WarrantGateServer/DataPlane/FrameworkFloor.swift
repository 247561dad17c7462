import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// The framework floor, for `scripts/bench-vs-nginx`: the gateway's own listener (mutual TLS with the same verifier,
/// ALPN, the same HTTP/1.1 and HTTP/2 pipelines and bounds) and its upstream pools, passing each request's target
/// upstream and the answer back, and deciding and logging nothing. Measured beside nginx and the gateway, it shows
/// what NIO and BoringSSL cost and what the gateway's own work adds. Not a product: never put it in front of anything.
@_spi(Benchmarks)
public enum FrameworkFloor {
    /// Serves until SIGTERM or SIGINT.
    public static func run(
        port: Int, upstream: String, certificatePath: String, keyPath: String, clientCAPath: String
    ) async throws {
        var limits = GatewayConfiguration.Limits()
        limits.maxConnections = 1 << 20
        limits.maxConnectionsPerCertificate = 1 << 20
        let identity = try ServerIdentity(certificatePath: certificatePath, keyPath: keyPath)
        let verifier = ClientCertificateVerifier(trust: .init(roots: try ClientCertificateVerifier.loadRoots(path: clientCAPath)))
        let upstreams = try Upstreams(settings: ["floor": UpstreamSettings(url: upstream)], limits: limits)
        let listener = GatewayListener(
            host: "127.0.0.1", port: port, tls: try GatewayTLS.serverContext(identity: identity), verifier: verifier, limits: limits,
            handlers: PassThroughHandlers(endpoint: upstreams.endpoints["floor"]!, upstreams: upstreams), onListening: { _ in }
        )
        try await ServiceGroup(configuration: .init(services: [.init(service: listener)], gracefulShutdownSignals: [.sigterm, .sigint], logger: .init(label: "floor")))
            .run()
    }
}

private struct PassThroughHandlers: RequestHandlerFactory {
    let endpoint: UpstreamEndpoint
    let upstreams: Upstreams

    func requestHandler(peer: ConnectionPeer?, isHTTP2: Bool) -> any ChannelHandler {
        PassThroughHandler(endpoint: endpoint, upstreams: upstreams, isHTTP2: isHTTP2)
    }

    func refusalRecorder(peer: ConnectionPeer?) -> (any ChannelHandler)? { nil }

    /// The floor has no registry.
    func standing(_ peer: ConnectionPeer) -> ConnectionStanding { .held(by: .uncounted) }
}

/// Sends a request's target to the upstream through the loop's pool and streams the answer back.
private final class PassThroughHandler: ChannelInboundHandler, UpstreamResponseReceiver {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Every answer passes through alike: the floor's connections are shared by all its requests.
    private final class PassThrough: Sendable {}
    private static let plan = PassThrough()

    private let endpoint: UpstreamEndpoint
    private let upstreams: Upstreams
    private let isHTTP2: Bool
    private var context: ChannelHandlerContext?
    private var connection: UpstreamConnection?
    private var request: HTTPRequestHead?

    init(endpoint: UpstreamEndpoint, upstreams: Upstreams, isHTTP2: Bool) {
        self.endpoint = endpoint
        self.upstreams = upstreams
        self.isHTTP2 = isHTTP2
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        request = head
        let forwarded = HTTPRequestHead(version: .http1_1, method: head.method, uri: endpoint.pathPrefix + head.uri, headers: ["Host": endpoint.authority])
        _ = upstreams.pool(on: context.eventLoop).lease(endpoint, for: "floor", plan: Self.plan) { [self] result in
            switch result {
            case .success(let connection):
                self.connection = connection
                connection.send(forwarded, body: nil, to: self)
            case .failure:
                upstreamFailed(ChannelError.ioOnClosedChannel)
            }
        }
    }

    func upstreamHead(_ head: HTTPResponseHead) {
        var headers = HTTPHeaders()
        if let length = head.headers.first(name: "content-length") { headers.add(name: "Content-Length", value: length) }
        if let type = head.headers.first(name: "content-type") { headers.add(name: "Content-Type", value: type) }
        // The request's HTTP/1 persistence, said in the answer as the gateway says it.
        if !isHTTP2, let request, let persistence = HeaderRules.persistence(answering: request, knownLength: headers.contains(name: "content-length")) {
            headers.add(name: "Connection", value: persistence)
        }
        context?.write(wrapOutboundOut(.head(HTTPResponseHead(version: isHTTP2 ? .http2 : .http1_1, status: head.status, headers: headers))), promise: nil)
    }

    func upstreamBody(_ chunk: ByteBuffer) {
        context?.write(wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
    }

    func upstreamReadComplete() {
        guard let context else { return }
        context.flush()
        if context.channel.isWritable { connection?.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { connection?.read() }
        context.fireChannelWritabilityChanged()
    }

    func upstreamEnd() {
        if let connection, let context { upstreams.pool(on: context.eventLoop).release(connection) }
        connection = nil
        context?.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func upstreamFailed(_ error: any Error) {
        connection = nil
        context?.close(promise: nil)
    }
}
