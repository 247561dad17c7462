import NIOCore
import NIOPosix

/// A plain-TCP server on a free 127.0.0.1 port, for tests that play an upstream or a receiver byte by byte: `accept`
/// runs on each accepted connection's event loop before it reads, to add its handlers. Stopped by ``close()``.
final class LoopbackTCPServer: Sendable {
    private let channel: any Channel

    var port: Int { channel.localAddress?.port ?? 0 }

    init(accept: @escaping @Sendable (any Channel) throws -> Void) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in channel.eventLoop.makeCompletedFuture { try accept(channel) } }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async {
        try? await channel.close()
    }
}
