import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing
import WarrantGateDevPKI
@testable import WarrantGateServer

@Suite("The listener acknowledges a finished handshake at once")
struct HandshakeAcknowledgementTests {
    /// Hands every connection a ``QuickACKReader`` that records into ``readings``.
    private final class QuickACKProbe: RequestHandlerFactory {
        let readings = Mutex<[Int]>([])

        func requestHandler(peer: ConnectionPeer?, isHTTP2: Bool) -> any ChannelHandler { QuickACKReader(probe: self) }
        func refusalRecorder(peer: ConnectionPeer?) -> (any ChannelHandler)? { nil }
        func standing(_ peer: ConnectionPeer) -> ConnectionStanding { .held(by: .uncounted) }
    }

    /// Reads its connection's quick-ACK state when the listener adds it, right after the handshake, and closes the
    /// connection once the request arrives.
    private final class QuickACKReader: ChannelInboundHandler {
        typealias InboundIn = NIOAny
        let probe: QuickACKProbe

        init(probe: QuickACKProbe) { self.probe = probe }

        func handlerAdded(context: ChannelHandlerContext) {
            let reading = (try? context.channel.syncOptions?.getOption(GatewayListener.quickACK)) ?? -1
            probe.readings.withLock { $0.append(reading) }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.close(promise: nil)
        }
    }

    /// The gateway sends nothing between the client's Finished and its answer (BoringSSL holds the session tickets),
    /// so after the handshake's exchange the kernel is in its delayed-ACK ("ping-pong") mode, where
    /// `getsockopt(TCP_QUICKACK)` reads 0 and a client with Nagle's algorithm on holds its request for the ACK.
    /// The listener leaves that mode when the handshake completes.
    @Test("after the handshake the connection is out of delayed-ACK mode")
    func quickACKAfterHandshake() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-quickack-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let pki = DevPKIDirectory(directory: directory)
        try pki.ensure(clients: ["denver-pd"])
        let identity = try ServerIdentity(certificatePath: pki.serverCertificatePath, keyPath: pki.serverKeyPath)
        let verifier = ClientCertificateVerifier(trust: .init(roots: try ClientCertificateVerifier.loadRoots(path: pki.caPath)))
        let probe = QuickACKProbe()
        let (ports, bound) = AsyncStream.makeStream(of: Int.self)
        let listener = GatewayListener(
            host: "127.0.0.1", port: 0, tls: try GatewayTLS.serverContext(identity: identity), verifier: verifier, limits: .init(),
            handlers: probe, onListening: { bound.yield($0) }
        )
        let group = ServiceGroup(services: [listener], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        var port = 0
        for await listening in ports {
            port = listening
            break
        }
        for _ in 0..<3 {
            let request = RawTLSClient.request("GET /records/inmates/2017-000123 HTTP/1.1")
            _ = try await RawTLSClient.send(request, port: port, pki: pki, agency: "denver-pd")
        }
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(probe.readings.withLock { $0 } == [1, 1, 1])
    }
}
