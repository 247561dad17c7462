import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// An upstream the configuration names, parsed once at start: where to connect, how, and what goes before each
/// target.
struct UpstreamEndpoint: Sendable {
    let name: String
    let host: String
    let port: Int
    /// The base URL, with no trailing slash.
    let url: String
    /// For `https`: the client settings (used by the off-path fact lookup too) and the context built from them.
    let tlsConfiguration: TLSConfiguration?
    let tls: NIOSSLContext?
    /// The name sent in SNI and verified in the upstream's certificate; nil for an IP address, which is verified
    /// against the certificate's IP addresses instead.
    let serverName: String?
    /// The base URL's path without its trailing slash, put before every canonical target.
    let pathPrefix: String
    /// The `Host` header the upstream receives.
    let authority: String
    /// The scheme and authority, lower-cased: how an absolute URL of the upstream's own begins.
    let origin: String

    init(name: String, settings: UpstreamSettings) throws {
        guard let parsed = URL(string: settings.url), let scheme = parsed.scheme, scheme == "http" || scheme == "https", let host = parsed.host else {
            throw TLSSetupError("upstream '\(name)': '\(settings.url)' is not an http or https URL")
        }
        self.name = name
        self.host = host
        self.url = settings.url
        let defaultPort = scheme == "https" ? 443 : 80
        self.port = parsed.port ?? defaultPort
        self.tlsConfiguration = try settings.tlsConfiguration(name: name)
        self.tls = try tlsConfiguration.map { try NIOSSLContext(configuration: $0) }
        let isAddress = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        self.serverName = isAddress ? nil : host
        var path = parsed.path
        while path.hasSuffix("/") { path.removeLast() }
        self.pathPrefix = path
        let bracketed = host.contains(":") ? "[\(host)]" : host
        self.authority = port == defaultPort ? bracketed : "\(bracketed):\(port)"
        self.origin = "\(scheme)://\(authority)".lowercased()
    }
}

/// The keep-alive HTTP/1.1 connections to the upstreams, one pool per event loop: a request's upstream exchange runs on
/// the loop of the connection it answers, with no hop. Each upstream has at most `limit` connections per loop; a
/// request beyond that waits for one to come free (bounded by its response deadline).
///
/// No one holder (an agency) has more than ``holderShare`` of an upstream's connections at once: an exchange holds its
/// connection for as long as its client takes to read the answer, so one agency reading slowly on many requests would
/// otherwise hold them all, and every other agency's requests would wait. A request whose holder has its share waits,
/// even beside an idle connection, until one of its holder's exchanges ends.
///
/// A connection serves one holder, and one way of handling answers (a `plan`: the redaction they go through), for its
/// life, and one leased with no plan (a fact lookup, an answer redacted as only its own decision says) none after its
/// own exchange: an upstream that sends an answer nobody asked for (one sent twice by a retry bug, late) has it read
/// as the answer to whatever request the connection serves next, and that must never be another agency's request, one
/// whose answer another inmate's documents redact otherwise, or a lookup that decides a policy. When an upstream's
/// connections are all open, a request with no idle connection of its own kind takes the place of the one idle
/// longest.
final class UpstreamPool {
    private final class Waiter {
        let holder: String
        let plan: AnyObject?
        var handOver: ((Result<UpstreamConnection, any Error>) -> Void)?

        init(holder: String, plan: AnyObject?, _ handOver: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
            self.holder = holder
            self.plan = plan
            self.handOver = handOver
        }

        /// Hands `connection` over, once, marked as the holder's until it is back; false if the request was withdrawn.
        /// The closure is dropped first, so that nothing of the request outlives the hand-over.
        func serve(with connection: UpstreamConnection) -> Bool {
            guard let handOver else { return false }
            self.handOver = nil
            connection.holder = holder
            handOver(.success(connection))
            return true
        }
    }

    let loop: any EventLoop
    private let limit: Int
    /// The most connections to one upstream that one holder has at once: half of `limit`, or all of a pool of one.
    let holderShare: Int
    /// The holder of the gateway's own fact lookups, which no agency id can be.
    static let factLookups = "fact lookups"
    private let connectTimeout: TimeAmount
    /// Each upstream's connections and queue, by name. A class, so that a request's lease and release read the
    /// dictionary once and change the upstream's state in place, without a dictionary's modify accessor.
    private final class Share {
        var idle: [UpstreamConnection] = []
        var open = 0
        var waiting = CircularBuffer<Waiter>()
        /// Connections handed over and not yet back (released or closed), by holder.
        var held: [String: Int] = [:]
    }

    private var shares: [String: Share] = [:]
    private var closed = false

    init(loop: any EventLoop, limit: Int, connectTimeout: TimeAmount) {
        self.loop = loop
        self.limit = max(1, limit)
        self.holderShare = max(1, self.limit / 2)
        self.connectTimeout = connectTimeout
    }

    /// A connection to `endpoint` for `holder` (the agency the exchange is for), whose answers go through `plan` (an
    /// object shared by every exchange whose answers are handled alike, or nil for one handled as no other is), handed
    /// over on this loop; the returned lease can withdraw the request while it waits. Hand the connection back with
    /// ``release(_:)``, or close it.
    func lease(
        _ endpoint: UpstreamEndpoint, for holder: String, plan: AnyObject?, _ handOver: @escaping (Result<UpstreamConnection, any Error>) -> Void
    ) -> UpstreamLease {
        loop.preconditionInEventLoop()
        if closed {
            handOver(.failure(ChannelError.ioOnClosedChannel))
            return UpstreamLease(withdraw: {})
        }
        let share = self.share(endpoint.name)
        // No one waiting ahead, the holder within its share and one of its own connections idle: handed over at once,
        // as ``dispatch(_:)`` would, without a place in the queue to withdraw.
        if share.waiting.isEmpty, share.held[holder, default: 0] < holderShare, let connection = Self.takeIdle(from: share, holder: holder, plan: plan) {
            Self.count(+1, for: holder, in: share)
            connection.holder = holder
            handOver(.success(connection))
            return UpstreamLease(withdraw: {})
        }
        let waiter = Waiter(holder: holder, plan: plan, handOver)
        share.waiting.append(waiter)
        dispatch(endpoint)
        // Weakly: the hand-over may already have run, and the caller keeps the lease beside what its closure holds.
        return UpstreamLease(withdraw: { [weak waiter] in waiter?.handOver = nil })
    }

    /// Takes a connection back after an exchange: kept for the next request when its exchange ended cleanly,
    /// closed otherwise.
    func release(_ connection: UpstreamConnection) {
        returned(connection)
        guard !closed, connection.isUsable, connection.plan != nil else {
            connection.close()
            return
        }
        connection.idle()
        share(connection.endpoint.name).idle.append(connection)
        dispatch(connection.endpoint)
    }

    /// Serves waiting requests, first come first served among those whose holder is below its share: an idle
    /// connection if one is usable, else a new one while the upstream has fewer than `limit`. A connection being
    /// opened for a holder counts toward its share already.
    private func dispatch(_ endpoint: UpstreamEndpoint) {
        guard !closed else { return }
        let share = self.share(endpoint.name)
        while let index = share.waiting.firstIndex(where: { $0.handOver == nil || share.held[$0.holder, default: 0] < holderShare }) {
            guard share.waiting[index].handOver != nil else {
                share.waiting.remove(at: index)
                continue
            }
            let connection = Self.takeIdle(from: share, holder: share.waiting[index].holder, plan: share.waiting[index].plan)
            // Nothing to hand over, and no room for another: the waiter keeps its place, and another holder's
            // connection idle longest makes room (its close dispatches again).
            guard connection != nil || share.open < limit else {
                if !share.idle.isEmpty { share.idle.removeFirst().close() }
                return
            }
            let waiter = share.waiting.remove(at: index)
            Self.count(+1, for: waiter.holder, in: share)
            if let connection {
                _ = waiter.serve(with: connection)
            } else {
                connect(endpoint, for: waiter)
            }
        }
    }

    /// The holder's own connection for `plan` that went idle last in `share`, taken out of it; those found unusable on
    /// the way are dropped. None for a request with no plan, which shares no connection.
    private static func takeIdle(from share: Share, holder: String, plan: AnyObject?) -> UpstreamConnection? {
        while plan != nil, let own = share.idle.lastIndex(where: { $0.owner == holder && $0.plan === plan }) {
            let candidate = share.idle.remove(at: own)
            if candidate.isUsable { return candidate }
        }
        return nil
    }

    private static func count(_ change: Int, for holder: String, in share: Share) {
        let held = share.held[holder, default: 0] + change
        share.held[holder] = held > 0 ? held : nil
    }

    /// The connection's exchange is over (it is back, or closed): its holder's count goes down, once.
    private func returned(_ connection: UpstreamConnection) {
        guard let holder = connection.holder else { return }
        connection.holder = nil
        Self.count(-1, for: holder, in: share(connection.endpoint.name))
    }

    /// Closes every idle connection and refuses new leases.
    func close() {
        closed = true
        for share in shares.values {
            let idle = share.idle
            share.idle = []
            for connection in idle { connection.close() }
        }
    }

    private func share(_ name: String) -> Share {
        if let share = shares[name] { return share }
        let share = Share()
        shares[name] = share
        return share
    }

    /// The most of an upstream's response NIO's parser may hold while it produces nothing (see
    /// ``UnparsedInputLimit``): a head's fields at NIO's default limit, plus room for what separates them.
    static let unparsedResponseBytes = NIOHTTPDecoderLimitConfiguration().maxHeaderListSize + 64 * 1024
    /// Slices as large as a plain connection's largest read: a response body passes whole reads on, one write each.
    static let responseSliceBytes = 64 * 1024

    private func connect(_ endpoint: UpstreamEndpoint, for waiter: Waiter) {
        share(endpoint.name).open += 1
        let loop = self.loop
        ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.autoRead, value: false)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = endpoint.tls {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: endpoint.serverName))
                        try channel.pipeline.syncOperations.addHandler(UpstreamIdentityCheck(serverName: endpoint.serverName, on: channel.eventLoop))
                    }
                    let inputLimit = UnparsedInputLimit(maxBytes: Self.unparsedResponseBytes, sliceBytes: Self.responseSliceBytes)
                    let decoder = ExchangeResponseDecoder()
                    // NIO's client handlers, with the response parser made anew for each exchange.
                    try channel.pipeline.syncOperations.addHandlers([
                        inputLimit, HTTPRequestEncoder(), ByteToMessageHandler(decoder), NIOHTTPRequestHeadersValidator(),
                        UpstreamConnectionHandler(inputLimit: inputLimit, decoder: decoder),
                    ])
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .flatMap { [connectTimeout] channel in Self.identified(channel, within: connectTimeout) }
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    guard let handler = try? channel.pipeline.syncOperations.handler(type: UpstreamConnectionHandler.self) else {
                        channel.close(promise: nil)
                        return connectFailed(endpoint, waiter, ChannelError.ioOnClosedChannel)
                    }
                    let connection = UpstreamConnection(endpoint: endpoint, owner: waiter.holder, plan: waiter.plan, channel: channel, handler: handler)
                    channel.closeFuture.assumeIsolated().whenComplete { [self] _ in closed(connection) }
                    if !waiter.serve(with: connection) {
                        Self.count(-1, for: waiter.holder, in: share(endpoint.name))
                        release(connection)
                    }
                case .failure(let error):
                    connectFailed(endpoint, waiter, error)
                }
            }
    }

    /// `channel` once its upstream's handshake and certificate have passed ``UpstreamIdentityCheck``, for an https
    /// upstream; the channel is closed if the check fails or the handshake takes longer than `timeout`.
    private static func identified(_ channel: any Channel, within timeout: TimeAmount) -> EventLoopFuture<any Channel> {
        guard let verified = try? channel.pipeline.syncOperations.handler(type: UpstreamIdentityCheck.self).verified else {
            return channel.eventLoop.makeSucceededFuture(channel)
        }
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            verified.fail(UpstreamHandshakeTimeout(timeout: timeout))
        }
        return verified.futureResult.map { _ -> any Channel in
            deadline.cancel()
            return channel
        }.flatMapErrorThrowing { error in
            deadline.cancel()
            channel.close(promise: nil)
            throw error
        }
    }

    private func connectFailed(_ endpoint: UpstreamEndpoint, _ waiter: Waiter, _ error: any Error) {
        let share = self.share(endpoint.name)
        share.open -= 1
        Self.count(-1, for: waiter.holder, in: share)
        waiter.handOver?(.failure(error))
        dispatch(endpoint)
    }

    /// A connection closed (by either side): it leaves the pool, its holder's count goes down if it was in use, and a
    /// waiting request may take another.
    private func closed(_ connection: UpstreamConnection) {
        returned(connection)
        let share = self.share(connection.endpoint.name)
        share.open -= 1
        share.idle.removeAll { $0 === connection }
        dispatch(connection.endpoint)
    }
}

/// A request's place in an upstream pool's queue; withdrawing it (at the request's deadline, or when its client
/// leaves) means no connection will be handed over.
struct UpstreamLease {
    let withdraw: () -> Void
}

/// What an upstream exchange tells the request it serves. Every call comes on the request's event loop.
protocol UpstreamResponseReceiver: AnyObject {
    func upstreamHead(_ head: HTTPResponseHead)
    func upstreamBody(_ chunk: ByteBuffer)
    /// The response is complete; the connection may already serve another request.
    func upstreamEnd()
    /// A read finished: ask for more with ``UpstreamConnection/read()`` when ready for it.
    func upstreamReadComplete()
    func upstreamFailed(_ error: any Error)
}

/// One keep-alive HTTP/1.1 connection to an upstream. Reads only when asked (back-pressure): the request it serves
/// asks for the next read once it has passed the last one on.
final class UpstreamConnection {
    let endpoint: UpstreamEndpoint
    /// The one holder the connection serves, and the one plan its answers go through, for its whole life (see
    /// ``UpstreamPool``); a connection without a plan serves one exchange. Held, so that no other plan is made where
    /// this one was.
    let owner: String
    let plan: AnyObject?
    /// Whom the connection is handed over to, until it is back in the pool or closed; nil while idle.
    fileprivate(set) var holder: String?
    private let channel: any Channel
    private let handler: UpstreamConnectionHandler

    init(endpoint: UpstreamEndpoint, owner: String, plan: AnyObject?, channel: any Channel, handler: UpstreamConnectionHandler) {
        self.endpoint = endpoint
        self.owner = owner
        self.plan = plan
        self.channel = channel
        self.handler = handler
    }

    /// Open, with no exchange in progress and nothing unexpected received.
    var isUsable: Bool { channel.isActive && handler.isIdle }

    /// Sends a whole request in one flush and starts reading its response into `receiver`.
    func send(_ head: HTTPRequestHead, body: ByteBuffer?, to receiver: any UpstreamResponseReceiver) {
        handler.start(head, body: body, receiver: receiver)
    }

    func read() {
        channel.read()
    }

    /// Waits in the pool: reads, so that the upstream's close (or anything else it sends) is noticed.
    func idle() {
        channel.read()
    }

    /// Ends the connection; the exchange on it, if any, is told nothing more.
    func close() {
        handler.detach()
        channel.close(promise: nil)
    }
}

/// Passes an upstream connection's response parts to the exchange in progress. A connection is reusable only when the
/// whole request was written, the whole response read, both sides keep the connection alive, the request carried
/// no body, and the response could carry one: an upstream that misreads a body's framing would take the rest of it
/// for a request of its own, and an upstream that sends a body after a HEAD, a 204 or a 304 (which the parser skips)
/// would have those bytes read as the answer to whichever request came next on the connection.
final class UpstreamConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private let inputLimit: UnparsedInputLimit
    private let decoder: ExchangeResponseDecoder
    private var context: ChannelHandlerContext?
    private var receiver: (any UpstreamResponseReceiver)?
    private var keepAlive = true
    private var broken = false
    private var requestWritten = true
    /// Whether an exchange has been started on the connection.
    private var used = false
    /// Whether a response part is being handled: the parser is in the middle of a read.
    private var inRead = false
    /// A start put off to the loop's next turn (see ``start(_:body:receiver:)``), until it runs; ``detach()`` drops it.
    private var deferredStart: (() -> Void)?

    var isIdle: Bool { receiver == nil && deferredStart == nil && keepAlive && requestWritten && !broken }

    /// `inputLimit` stands before the connection's response parser; each part read from the parser resets its count.
    /// `decoder` is that parser, begun anew for each exchange after the first.
    init(inputLimit: UnparsedInputLimit, decoder: ExchangeResponseDecoder) {
        self.inputLimit = inputLimit
        self.decoder = decoder
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func start(_ head: HTTPRequestHead, body: ByteBuffer?, receiver: any UpstreamResponseReceiver) {
        guard let context, !broken else { return receiver.upstreamFailed(ChannelError.ioOnClosedChannel) }
        if used {
            // Handed on from the previous answer's end, inside the parser's read: the parser is renewed once that
            // read is done, so that whatever the read held past the answer is seen.
            if inRead {
                deferredStart = { [self] in start(head, body: body, receiver: receiver) }
                return context.eventLoop.assumeIsolated().execute { [self] in
                    guard let start = deferredStart else { return }
                    deferredStart = nil
                    start()
                }
            }
            do {
                try decoder.nextExchange()
            } catch {
                broken = true
                context.close(promise: nil)
                return receiver.upstreamFailed(error)
            }
        }
        used = true
        self.receiver = receiver
        keepAlive = head.isKeepAlive && body == nil && head.method != .HEAD
        requestWritten = false
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body, body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success: requestWritten = true
            case .failure(let error): fail(error)
            }
        }
        context.read()
    }

    func detach() {
        receiver = nil
        deferredStart = nil
        broken = true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inputLimit.parsed()
        inRead = true
        defer { inRead = false }
        guard let receiver else {
            // An idle connection has nothing to say; whatever it sends makes it unusable.
            broken = true
            context.close(promise: nil)
            return
        }
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = keepAlive && head.isKeepAlive && head.status != .noContent && head.status != .notModified
            receiver.upstreamHead(head)
        case .body(let chunk):
            receiver.upstreamBody(chunk)
        case .end:
            self.receiver = nil
            receiver.upstreamEnd()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        receiver?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ChannelError.eof)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        broken = true
        guard let receiver else { return }
        self.receiver = nil
        receiver.upstreamFailed(error)
    }
}

/// An upstream's TLS handshake took longer than the connect timeout, counted from the TCP connection: a timeout, as a
/// connect timeout is (504).
struct UpstreamHandshakeTimeout: Error, CustomStringConvertible {
    let timeout: TimeAmount
    var description: String { "the upstream's TLS handshake took longer than \(timeout)" }
}

/// NIO's HTTP/1 response parser, begun anew for each exchange on a connection after its first. An upstream that sent
/// bytes past an answer's end (the start of another answer, in the same read) would otherwise have the parser keep
/// them and finish them as the next request's answer, about another inmate. Renewing the parser drops its state, and
/// one that holds unread bytes when the next exchange begins refuses the connection.
final class ExchangeResponseDecoder: WriteObservingByteToMessageDecoder {
    typealias InboundOut = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart

    private var parser = HTTPResponseDecoder()
    private var context: ChannelHandlerContext?
    /// Bytes the parser left unread after its last decode.
    private var unread = 0

    func decoderAdded(context: ChannelHandlerContext) {
        self.context = context
        parser.decoderAdded(context: context)
    }

    func decoderRemoved(context: ChannelHandlerContext) {
        parser.decoderRemoved(context: context)
        self.context = nil
    }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let current = parser
        defer { unread = buffer.readableBytes }
        return try current.decode(context: context, buffer: &buffer)
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        let current = parser
        defer { unread = buffer.readableBytes }
        return try current.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }

    func write(data: HTTPClientRequestPart) {
        parser.write(data: data)
    }

    /// Begins the next exchange with a new parser, outside any read of the old one; throws if the old one holds unread
    /// bytes, the start of an answer no request asked for.
    func nextExchange() throws {
        guard unread == 0 else { throw UpstreamFault("the upstream sent \(unread) bytes past its last answer's end") }
        guard let context else { throw ChannelError.ioOnClosedChannel }
        parser.decoderRemoved(context: context)
        parser = HTTPResponseDecoder()
        parser.decoderAdded(context: context)
    }
}
