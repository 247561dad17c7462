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
            guard raw.hasPrefix("HTTP/1.1 ") || raw.hasPrefix("HTTP/1.0 "), raw.count >= 12 else { return 0 }
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

    /// Connects to the gateway on loopback over TLS with `tls`, offering `protocols` by ALPN; `configure` adds the
    /// handlers behind TLS.
    static func connect(
        port: Int, tls: TLSConfiguration, protocols: [String], _ configure: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void
    ) async throws -> any Channel {
        var tls = tls
        tls.applicationProtocols = protocols
        let context = try NIOSSLContext(configuration: tls)
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton.next())
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                    try configure(channel.pipeline.syncOperations)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    /// Sends `request` on one connection, which trusts `pki`'s CA and presents `agency`'s certificate from
    /// `clientPKI` (`pki` when nil), or none when `agency` is nil. No attempt is repeated.
    static func send(
        _ request: [UInt8], port: Int, pki: DevPKIDirectory, clientPKI: DevPKIDirectory? = nil, agency: String?, timeout: TimeAmount = .seconds(5)
    ) async throws -> Answer {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.caPath))
        if let agency {
            let issuer = clientPKI ?? pki
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(issuer.clientCertificatePath(agency)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: issuer.clientKeyPath(agency), format: .pem))
        }
        let done = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: [UInt8].self)
        let channel = try await connect(port: port, tls: tls, protocols: ["http/1.1"]) { try $0.addHandler(Collector(done: done)) }
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

/// One mutual-TLS connection kept open across exchanges, for what must hold on a connection that outlives a change
/// (a certificate's expiry, a body left unsent). Each exchange reads one whole answer, framed by Content-Length, or
/// what arrived before the connection closed.
final class RawTLSConnection: @unchecked Sendable {
    private final class Reader: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var bytes: [UInt8] = []
        var closed = false
        var waiting: EventLoopPromise<[UInt8]>?

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
            deliver()
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed = true
            deliver()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        func deliver() {
            guard let waiting else { return }
            if let length = Self.answerLength(bytes) {
                let answer = Array(bytes[..<length])
                bytes.removeFirst(length)
                self.waiting = nil
                waiting.succeed(answer)
            } else if closed {
                let answer = bytes
                bytes = []
                self.waiting = nil
                waiting.succeed(answer)
            }
        }

        /// The length of the first whole answer in `bytes`, if it has arrived.
        static func answerLength(_ bytes: [UInt8]) -> Int? {
            let separator: [UInt8] = [13, 10, 13, 10]
            guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else { return nil }
            let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
            let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            return bytes.count >= end + 4 + length ? end + 4 + length : nil
        }
    }

    let channel: any Channel
    private let reader: Reader

    private init(channel: any Channel, reader: Reader) {
        self.channel = channel
        self.reader = reader
    }

    /// Opens a connection presenting `tls`'s certificate, speaking HTTP/1.1.
    static func open(port: Int, tls: TLSConfiguration) async throws -> RawTLSConnection {
        let reader = Reader()
        let channel = try await RawTLSClient.connect(port: port, tls: tls, protocols: ["http/1.1"]) { try $0.addHandler(reader) }
        return RawTLSConnection(channel: channel, reader: reader)
    }

    /// Sends `request` and returns the next whole answer; an empty answer means the connection closed without one.
    func exchange(_ request: [UInt8], timeout: TimeAmount = .seconds(5)) async throws -> RawTLSClient.Answer {
        let reader = self.reader
        let answer = channel.eventLoop.flatSubmit {
            let promise = self.channel.eventLoop.makePromise(of: [UInt8].self)
            reader.waiting = promise
            reader.deliver()
            return promise.futureResult
        }
        try? await channel.writeAndFlush(ByteBuffer(bytes: request))
        // Cancelled on the loop as the answer is handed over, not when this task next runs: a loaded machine may wake
        // it after the deadline, which must not close a connection whose answer came in time.
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { self.channel.close(promise: nil) }
        answer.whenComplete { _ in deadline.cancel() }
        return RawTLSClient.Answer(raw: String(decoding: try await answer.get(), as: UTF8.self))
    }

    /// Whether the server has closed the connection, waiting up to `seconds` for it.
    func closes(within seconds: Double = 5) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while channel.isActive && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return !channel.isActive
    }

    func close() async {
        try? await channel.close()
    }
}
