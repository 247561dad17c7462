import Glibc
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS
import ServiceLifecycle

/// The gateway's mutual-TLS listener, on SwiftNIO directly. Each connection's pipeline is:
///
/// ``ConnectionSetupGuard`` → NIOSSL (client certificate required, ``GatewayTLS``) → ALPN (with
/// ``MissingCertificateObserver`` until the handshake completes), then either
/// - HTTP/1.1: NIOHTTP1's decoder (with the configured header limits), pipelining assistance, the idle timeout,
///   ``RequestHeadDeadline``, ``RequestBodyGuard`` and one ``GatewayHandler`` for the connection; or
/// - HTTP/2: ``HTTP2FrameGuard``, NIOHTTP2 (with its flood defences and a connection manager for idleness and
///   graceful close), ``HTTP2SetupWatcher``, ``HTTP2IdleCloser``, ``HTTP2RefusalRecorder``, and for each stream an
///   HTTP/1-style codec, ``RequestBodyGuard`` and a ``GatewayHandler``; ``HTTP2StreamLifecycleRelay`` tells the
///   manager and the closer of each stream.
///
/// No task runs per request: the handlers do the work on the connection's event loop.
final class GatewayListener: Service {
    private let host: String
    private let port: Int
    private let tls: NIOSSLContext
    private let verifier: ClientCertificateVerifier
    private let limits: GatewayConfiguration.Limits
    private let handlers: any RequestHandlerFactory
    private let admission: ConnectionAdmission
    private let onListening: @Sendable (Int) async -> Void

    /// - Parameter connectionRefusals: told of each set-up connection closed for want of a place, with its client
    ///   certificate (DER).
    init(
        host: String, port: Int, tls: NIOSSLContext, verifier: ClientCertificateVerifier, limits: GatewayConfiguration.Limits,
        handlers: any RequestHandlerFactory, onListening: @escaping @Sendable (Int) async -> Void,
        connectionRefusals: @escaping @Sendable (ConnectionAdmission.Refusal, _ certificate: [UInt8]) -> Void = { _, _ in }
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.verifier = verifier
        self.limits = limits
        self.handlers = handlers
        self.admission = ConnectionAdmission(
            maxSettingUp: limits.maxConnectionsSettingUp, maxEstablished: limits.maxConnections,
            maxPerCertificate: limits.maxConnectionsPerCertificate, maxPerAgency: limits.maxConnectionsPerAgency, refused: connectionRefusals
        )
        self.onListening = onListening
    }

    /// Listens until graceful shutdown, then stops accepting, lets every connection finish the request it is
    /// answering (HTTP/2: GOAWAY, then the open streams), and returns once all have closed, or closes what is
    /// still open after `limits.upstream-response-timeout-ms`.
    func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let quiescing = ServerQuiescingHelper(group: group)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Accept many connections per wake-up: handshake load arrives in bursts.
            .serverChannelOption(.maxMessagesPerRead, value: 256)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try initialize(channel) }
            }
            .bind(host: host, port: port)
            .get()
        await onListening(channel.localAddress?.port ?? 0)
        try? await gracefulShutdown()
        let drained = group.next().makePromise(of: Void.self)
        quiescing.initiateShutdown(promise: drained)
        // A client that ignores GOAWAY, or an answer that never ends, must not hold the shutdown open: after the
        // longest an upstream exchange may take, what is still open is closed.
        let deadline = group.next().scheduleTask(in: limits.upstreamResponseTimeout.timeAmount) { [admission] in admission.closeAll() }
        try? await drained.futureResult.get()
        deadline.cancel()
    }

    private func initialize(_ channel: any Channel) throws {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(ConnectionSetupGuard(admission: admission, timeout: limits.handshakeTimeout.timeAmount))
        try sync.addHandler(NIOSSLServerHandler(context: tls, customVerificationCallbackWithMetadata: GatewayTLS.verificationCallback(verifier)))
        let missingCertificates = MissingCertificateObserver(verifier: verifier)
        try sync.addHandler(missingCertificates)
        try sync.addHandler(ApplicationProtocolNegotiationHandler { [self] result, channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                sync.removeHandler(missingCertificates, promise: nil)
                Self.acknowledgeHandshake(channel)
                // The handshake is complete: the verified chain is read once, for the whole connection.
                let peer = ConnectionPeer.of(sync, verifier: verifier)
                let setup = try sync.handler(type: ConnectionSetupGuard.self)
                guard setup.verified(channel, peer: peer, standing: handlers.standing) else { return }
                switch result {
                case .negotiated("h2"):
                    try configureHTTP2(channel, peer: peer)
                default:
                    try configureHTTP1(channel, peer: peer)
                    setup.completed()
                }
                // A revocation the registry refresher read after the check above, but before it listed the connections
                // to end (``endConnections(revokedBy:)``), which this one had not yet joined: it is ended here instead.
                if let peer, !peer.placeless, handlers.isRevoked(peer) {
                    channel.eventLoop.execute { ConnectionEnding.end(channel, for: .certificateRevoked) }
                }
            }
        })
    }

    /// Ends every set-up connection whose client certificate (its DER) `isRevoked` says is revoked
    /// (``ConnectionAdmission/endConnections(revokedBy:)``); returns how many.
    func endConnections(revokedBy isRevoked: ([UInt8]) -> Bool) -> Int {
        admission.endConnections(revokedBy: isRevoked)
    }

    /// Acknowledges the client's last handshake flight at once, instead of after the kernel's delayed-ACK timer.
    ///
    /// BoringSSL holds a TLS 1.3 server's session tickets until its first write, so the gateway sends nothing
    /// between the client's Finished and the answer, and the kernel delays its ACK of the Finished (40 ms on Linux)
    /// in the hope of one. A client that writes with Nagle's algorithm on, as OpenSSL-based clients such as `ab`
    /// do, holds its request until that ACK: every new connection's first request would wait 40 ms.
    /// `TCP_QUICKACK` sends the pending ACK now. It only saves time: a connection whose option cannot be set is served
    /// as before.
    private static func acknowledgeHandshake(_ channel: any Channel) {
        try? channel.syncOptions?.setOption(quickACK, value: 1)
    }

    /// Linux's `TCP_QUICKACK`: set, it sends a pending ACK now; read, 0 means the connection is in delayed-ACK mode.
    static let quickACK = ChannelOptions.tcpOption(NIOBSDSocket.Option(rawValue: CInt(TCP_QUICKACK)))

    private func configureHTTP1(_ channel: any Channel, peer: ConnectionPeer?) throws {
        let sync = channel.pipeline.syncOperations
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderFieldSize = limits.maxHeaderBytes
        decoderLimits.maxHeaderListSize = limits.maxHeaderBytes
        decoderLimits.maxHeaderFieldCount = limits.maxHeaderCount
        // Before the parser: a head's fields plus room for what separates them.
        let inputLimit = UnparsedInputLimit(maxBytes: limits.maxHeaderBytes + 64 * 1024)
        try sync.addHandler(inputLimit)
        try sync.configureHTTPServerPipeline(
            withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: true,
            withEncoderConfiguration: .init(), withDecoderLimitConfiguration: decoderLimits
        )
        try sync.addHandlers([
            HTTP1RequestSequencer(inputLimit: inputLimit),
            // Between requests an HTTP/1 connection is idle, so the head deadline is the idle timeout too.
            RequestHeadDeadline(timeout: min(limits.headerReadTimeout, limits.idleTimeout).timeAmount),
            RequestBodyGuard(timeout: limits.bodyReadTimeout.timeAmount, isHTTP2Stream: false),
            handlers.requestHandler(peer: peer, isHTTP2: false),
        ])
    }

    private func configureHTTP2(_ channel: any Channel, peer: ConnectionPeer?) throws {
        let sync = channel.pipeline.syncOperations
        let manager = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(maxIdleTime: limits.idleTimeout.timeAmount, maxAge: nil, maxGraceTime: limits.upstreamResponseTimeout.timeAmount, keepalive: nil)
        )
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
            HTTP2Setting(parameter: .maxHeaderListSize, value: limits.maxHeaderBytes),
        ]
        let handlers = self.handlers, limits = self.limits
        // The manager sends GOAWAY when the connection has been idle for the idle timeout; the closer ends it after
        // twice that, whether or not the client answered, and one told to end after the manager's grace time.
        let closer = HTTP2IdleCloser(timeout: limits.idleTimeout.timeAmount * 2, graceTime: limits.upstreamResponseTimeout.timeAmount)
        let peerBound = NIOLoopBound(peer, eventLoop: channel.eventLoop)
        if let peer { try sync.addHandler(HTTP2GatewayCloseMarker(peer: peer), position: .after(try sync.handler(type: NIOSSLServerHandler.self))) }
        try sync.addHandler(HTTP2FrameGuard())
        _ = try sync.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: .init(),
            streamDelegate: HTTP2StreamLifecycleRelay(manager: manager, closer: closer, eventLoop: channel.eventLoop), position: .last
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandlers([
                    HTTP2EndOfStreamCoalescer(),
                    HTTP2AuthorityCheck(),
                    HTTP2FramePayloadToHTTP1ServerCodec(),
                    RequestBodyGuard(timeout: limits.bodyReadTimeout.timeAmount, isHTTP2Stream: true),
                    handlers.requestHandler(peer: peerBound.value, isHTTP2: true),
                ])
            }
        }
        try sync.addHandlers([manager, HTTP2SetupWatcher(), closer])
        if let recorder = handlers.refusalRecorder(peer: peer) { try sync.addHandler(recorder) }
        // The manager starts its idle timer when the channel becomes active, which happened before ALPN added it.
        manager.channelActive(context: try sync.context(handler: manager))
    }
}

/// Makes the handlers that answer requests on a connection the listener has set up.
protocol RequestHandlerFactory: Sendable {
    /// The handler of one HTTP/1.1 connection or one HTTP/2 stream.
    func requestHandler(peer: ConnectionPeer?, isHTTP2: Bool) -> any ChannelHandler
    /// A handler for the end of an HTTP/2 connection's pipeline that records what NIOHTTP2 refuses, if any.
    func refusalRecorder(peer: ConnectionPeer?) -> (any ChannelHandler)?
    /// How a connection whose handshake has just completed stands: its certificate revoked in the registry, or held
    /// by an agency, or by none.
    func standing(_ peer: ConnectionPeer) -> ConnectionStanding
}

extension RequestHandlerFactory {
    /// Whether the certificate of a connection whose handshake has just completed is revoked in the registry.
    func isRevoked(_ peer: ConnectionPeer) -> Bool {
        if case .revoked = standing(peer) { true } else { false }
    }
}

extension GatewayEnvironment: RequestHandlerFactory {
    func requestHandler(peer: ConnectionPeer?, isHTTP2: Bool) -> any ChannelHandler {
        GatewayHandler(environment: self, peer: peer, isHTTP2: isHTTP2)
    }

    func refusalRecorder(peer: ConnectionPeer?) -> (any ChannelHandler)? {
        HTTP2RefusalRecorder(environment: self, peer: peer)
    }

    func standing(_ peer: ConnectionPeer) -> ConnectionStanding {
        if streamResets.isSpent(peer.certificate) { return .resetsSpent }
        return switch (try? peer.identify(in: state.current))?.1 {
        case .revoked?: .revoked
        case .agency(let agency)?: .held(by: .agency(agency.id))
        case .unknown?, .ambiguous?, nil: .held(by: .unidentified)
        }
    }
}

/// Reports a handshake refused because the client sent no certificate, as ``ClientCertificateVerifier`` reports the
/// chains it refuses: BoringSSL refuses those before the verification callback runs. Removed once the handshake
/// completes.
final class MissingCertificateObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    /// The reason given for such a refusal.
    static let reason = "no client certificate"

    private let verifier: ClientCertificateVerifier

    init(verifier: ClientCertificateVerifier) {
        self.verifier = verifier
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case NIOSSLError.handshakeFailed(let failure) = error, "\(failure)".contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") {
            verifier.refusals(Self.reason)
        }
        context.fireErrorCaught(error)
    }
}
