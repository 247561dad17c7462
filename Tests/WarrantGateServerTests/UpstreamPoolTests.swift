import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import WarrantGateServer

/// A plain-TCP upstream that answers every read with a small JSON 200 and counts its open connections.
private final class CountingUpstream: Sendable {
    private final class Answerer: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let upstream: CountingUpstream

        init(_ upstream: CountingUpstream) { self.upstream = upstream }

        func channelActive(context: ChannelHandlerContext) {
            upstream.open.withLock { $0 += 1 }
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            upstream.open.withLock { $0 -= 1 }
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
        }
    }

    let open = Mutex(0)
    private let channel: any Channel

    var port: Int { channel.localAddress?.port ?? 0 }
    var openConnections: Int { open.withLock { $0 } }

    init() async throws {
        let box = Mutex<CountingUpstream?>(nil)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let upstream = box.withLock({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    try channel.pipeline.syncOperations.addHandler(Answerer(upstream))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        box.withLock { $0 = self }
    }

    func close() async {
        try? await channel.close()
    }
}

@Suite("The upstream pools")
struct UpstreamPoolTests {
    @Test("a gateway that stops closes its idle upstream connections")
    func closedAtShutdown() async throws {
        let upstream = try await CountingUpstream()
        try await withGateway(configure: { _, configuration in
            configuration.upstreams["records"] = UpstreamSettings(url: "http://127.0.0.1:\(upstream.port)")
        }) { gateway in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(answer.status == 200)
            #expect(upstream.openConnections == 1)
        }
        for _ in 0..<50 where upstream.openConnections > 0 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(upstream.openConnections == 0)
        await upstream.close()
    }
}
