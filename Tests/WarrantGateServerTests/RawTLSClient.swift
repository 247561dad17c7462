import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import WarrantGateDevPKI

/// Sends raw bytes over mutual TLS and returns the raw answer, so that no client library normalises anything first.
enum RawTLSClient {
    struct Answer {
        let raw: String
        /// The status code, or 0 if the connection closed without an answer.
        var status: Int {
            guard raw.hasPrefix("HTTP/1.1 "), raw.count >= 12 else { return 0 }
            return Int(raw.dropFirst(9).prefix(3)) ?? 0
        }
        var reason: String? {
            guard let range = raw.range(of: #""reason":""#) else { return nil }
            return String(raw[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    private final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var bytes: [UInt8] = []
        let done: EventLoopPromise<[UInt8]>

        init(done: EventLoopPromise<[UInt8]>) { self.done = done }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
        }

        func channelInactive(context: ChannelHandlerContext) {
            done.succeed(bytes)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    static func send(_ request: [UInt8], port: Int, pki: DevPKIDirectory, agency: String, timeout: TimeAmount = .seconds(5)) async throws -> Answer {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.caPath))
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(pki.clientCertificatePath(agency)).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: pki.clientKeyPath(agency), format: .pem))
        tls.applicationProtocols = ["http/1.1"]
        let context = try NIOSSLContext(configuration: tls)
        let group = MultiThreadedEventLoopGroup.singleton
        let done = group.next().makePromise(of: [UInt8].self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                    try channel.pipeline.syncOperations.addHandler(Collector(done: done))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(bytes: request))
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        let bytes = try await done.futureResult.get()
        deadline.cancel()
        return Answer(raw: String(decoding: bytes, as: UTF8.self))
    }

    /// A request with `Connection: close`, CRLF line endings, and the given raw request line and headers.
    static func request(_ requestLine: String, headers: [String] = [], body: String = "") -> [UInt8] {
        var text = requestLine + "\r\nHost: localhost\r\nConnection: close\r\n"
        for header in headers { text += header + "\r\n" }
        return Array((text + "\r\n" + body).utf8)
    }
}
