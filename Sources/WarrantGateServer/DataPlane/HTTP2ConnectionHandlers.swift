import NIOCore
import NIOHTTP2
import WarrantGateCore

/// Watches an HTTP/2 connection's own frames until the client acknowledges the gateway's SETTINGS, which completes
/// the connection's setup; then leaves the pipeline.
final class HTTP2SetupWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .settings(.ack) = unwrapInboundIn(data).payload,
           let setup = try? context.pipeline.syncOperations.handler(type: ConnectionSetupGuard.self) {
            setup.completed()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireChannelRead(data)
    }
}

/// Records what NIOHTTP2 refuses on a set-up connection before any stream sees it, and ends a connection that NIOHTTP2
/// has given up on.
///
/// - A request refused for its header block (malformed or duplicate pseudo-headers, upper-case names,
///   connection-specific headers, malformed content lengths) never reaches a stream: it is recorded as a
///   `bad_request` decision naming the connection's agency, at most `cap` per connection, and the `cap`-th ends the
///   connection, so that a flood neither floods the log nor goes on unrecorded (beyond what the same read held). A
///   content length that the DATA contradicts fails a stream that exists, whose handler records it.
/// - A connection error (a flood of resets, CONTINUATION or control frames, too many glitches, a malformed frame, a
///   flood ``HTTP2FrameGuard`` found, any GOAWAY the gateway sends with an error code) ends the connection: NIOHTTP2
///   sends GOAWAY but does not close. This records the first once (NIOHTTP2 reports a flood again for the rest of the
///   read) and closes the connection once the GOAWAY is flushed, so the client does not keep its place.
final class HTTP2RefusalRecorder: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let environment: GatewayEnvironment
    private let peer: ConnectionPeer?
    private let cap: Int
    private var recorded = 0
    /// The streams recorded as not taken: each is heard of twice when NIOHTTP2 refuses it and the gateway's GOAWAY
    /// then names a last stream below it.
    private var streamsNotTaken: Set<UInt32> = []
    /// Set at the first connection error: what NIOHTTP2 reports after it (the rest of a flood's read) is its echo.
    private var ending = false
    /// Why streams the client opens after the gateway's GOAWAY are not taken: a drain's, unless the connection was
    /// ended for a reason of its own (``endingFor(_:reason:)``).
    private var notTakenReason = GatewayReason.gatewayDraining

    init(environment: GatewayEnvironment, peer: ConnectionPeer?, cap: Int = 16) {
        self.environment = environment
        self.peer = peer
        self.cap = cap
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { peer?.endedByGateway = true }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch Self.kind(of: error) {
        case .refusedRequest where !ending:
            refused("\(error)", reason: .badRequest, context: context)
        case .connectionError where !ending:
            endConnection(context, detail: "\(error)")
        case .notTaken(let stream):
            notTaken(stream)
        case .refusedRequest, .connectionError, .streamFailure, .notHTTP2:
            break
        }
        context.fireErrorCaught(error)
    }

    /// Records `detail` as the connection's end, once, and closes it.
    private func endConnection(_ context: ChannelHandlerContext, detail: String) {
        guard !ending else { return }
        ending = true
        record(detail)
        closeAfterThisRead(context)
    }

    /// Ends the connection of `pipeline` for `detail`, found below NIOHTTP2 (``HTTP2FrameGuard``) or on one of its
    /// streams (``StreamResetBudget``). On the connection's event loop.
    static func connectionEnded(_ pipeline: ChannelPipeline, detail: String) {
        guard let (recorder, recorderContext) = inPipeline(pipeline) else { return }
        recorder.endConnection(recorderContext, detail: detail)
    }

    /// The recorder in `pipeline`, and its own context; nil on a connection without one.
    private static func inPipeline(_ pipeline: ChannelPipeline) -> (HTTP2RefusalRecorder, ChannelHandlerContext)? {
        guard let recorder = try? pipeline.syncOperations.handler(type: HTTP2RefusalRecorder.self),
              let recorderContext = try? pipeline.syncOperations.context(handler: recorder) else { return nil }
        return (recorder, recorderContext)
    }

    /// Records a stream the client opened after the gateway's GOAWAY (idle, shutting down), which NIOHTTP2 ignores
    /// or refuses: a request neither answered nor forwarded, as an HTTP/1.1 request held behind a drain is. Counted in
    /// the cap, a stream once; reaching the cap does not end the connection, whose streams the GOAWAY took are still
    /// being answered (a client that opened many before it saw the GOAWAY did nothing wrong).
    static func streamNotTaken(_ context: ChannelHandlerContext, stream: UInt32) {
        guard let (recorder, _) = inPipeline(context.pipeline) else { return }
        recorder.notTaken(stream)
    }

    private func notTaken(_ stream: UInt32) {
        guard !ending, recorded < cap, streamsNotTaken.insert(stream).inserted else { return }
        record("HTTP/2 stream \(stream) opened after the gateway's GOAWAY", reason: notTakenReason)
    }

    /// The connection of `pipeline` is about to be sent GOAWAY for `reason` (a revoked certificate), not for a drain:
    /// streams the client opens after it are recorded with that reason. On the connection's event loop.
    static func endingFor(_ pipeline: ChannelPipeline, reason: GatewayReason) {
        inPipeline(pipeline)?.0.notTakenReason = reason
    }

    /// Records a request refused before any stream saw it; the `cap`-th ends the connection.
    private func refused(_ detail: String, reason: GatewayReason, context: ChannelHandlerContext) {
        record(detail, reason: reason)
        if recorded == cap { closeAfterThisRead(context) }
    }

    /// The gateway has written GOAWAY with `errorCode`: once NIOHTTP2 has reported its error (some protocol errors
    /// reach this handler only as a stream's error type), the connection ends, recorded if nothing was.
    static func goAwaySent(_ context: ChannelHandlerContext, errorCode: UInt32) {
        let channel = context.channel
        guard let found = inPipeline(context.pipeline) else {
            context.eventLoop.execute { channel.close(promise: nil) }
            return
        }
        let bound = NIOLoopBound(found, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (recorder, recorderContext) = bound.value
            recorder.endConnection(recorderContext, detail: "the gateway ended the connection: GOAWAY \(HTTP2ErrorCode(networkCode: Int(errorCode)))")
        }
    }

    /// Closes the connection once NIOHTTP2 has handled what it is reading (and flushed any GOAWAY it wrote).
    private func closeAfterThisRead(_ context: ChannelHandlerContext) {
        peer?.endedForClientFault = true
        let channel = context.channel
        context.eventLoop.execute { channel.close(promise: nil) }
    }

    private func record(_ detail: String, reason: GatewayReason = .badRequest) {
        guard recorded < cap else { return }
        recorded += 1
        environment.recordUnparsed(peer: peer, reason: reason, detail: detail)
    }

    private enum ErrorKind {
        case refusedRequest, notTaken(stream: UInt32), streamFailure, connectionError, notHTTP2
    }

    private static func kind(of error: any Error) -> ErrorKind {
        switch error {
        // Once the gateway has sent its first GOAWAY (idle, shutting down), NIOHTTP2 resets every stream the client
        // opens: a request not taken, as one past the GOAWAY's last stream is.
        case let error as NIOHTTP2Errors.StreamError where error.baseError is NIOHTTP2Errors.CreatedStreamAfterGoaway:
            .notTaken(stream: UInt32(Int(error.streamID)))
        case is NIOHTTP2Errors.InvalidHTTP2HeaderFieldName, is NIOHTTP2Errors.InvalidHTTP2HeaderFieldValue, is NIOHTTP2Errors.MissingPseudoHeader, is NIOHTTP2Errors.DuplicatePseudoHeader,
             is NIOHTTP2Errors.PseudoHeaderAfterRegularHeader, is NIOHTTP2Errors.UnknownPseudoHeader, is NIOHTTP2Errors.UnsupportedPseudoHeader,
             is NIOHTTP2Errors.InvalidPseudoHeaders, is NIOHTTP2Errors.MissingHostHeader, is NIOHTTP2Errors.DuplicateHostHeader,
             is NIOHTTP2Errors.EmptyPathHeader, is NIOHTTP2Errors.ForbiddenHeaderField, is NIOHTTP2Errors.InvalidPseudoHeaderValue,
             is NIOHTTP2Errors.ContentLengthHeadersMismatch, is NIOHTTP2Errors.ContentLengthHeaderNegative,
             is NIOHTTP2Errors.ContentLengthHeaderMalformedValue:
            .refusedRequest
        // A frame after the connection has quiesced (its GOAWAY sent, no stream open) is no request either; one that
        // breaks the stream rules ends the connection with GOAWAY, which ``goAwaySent(_:errorCode:)`` hears of. A
        // content length its DATA contradicts is the stream's to record (one a bodyless request contradicts has no
        // stream, and is not recorded: see docs/security.md). A flow-control error resets only its stream when it is
        // a stream's (its handler records what was in flight), and is a GOAWAY when it is the connection's.
        case is NIOHTTP2Errors.InvalidWindowIncrementSize, is NIOHTTP2Errors.InvalidFlowControlWindowSize, is NIOHTTP2Errors.FlowControlViolation,
             is NIOHTTP2Errors.ContentLengthViolated, is NIOHTTP2Errors.StreamClosed, is NIOHTTP2Errors.NoSuchStream,
             is NIOHTTP2Errors.IOOnClosedConnection,
             is NIOHTTP2Errors.BadStreamStateTransition, is NIOHTTP2Errors.TrailersWithoutEndStream, is NIOHTTP2Errors.StreamError:
            .streamFailure
        case is any NIOHTTP2Error:
            .connectionError
        default:
            .notHTTP2
        }
    }
}

/// Marks an HTTP/2 connection's peer as ended by the gateway (``ConnectionPeer/endedByGateway``) when a close passes
/// it on its way to the socket: placed just after the TLS handler, it sees every close the gateway's handlers and
/// timers make, and none of the client's (an EOF, a reset, a TLS close_notify, which NIO and NIOSSL act on below it).
final class HTTP2GatewayCloseMarker: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    private let peer: ConnectionPeer

    init(peer: ConnectionPeer) {
        self.peer = peer
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all { peer.endedByGateway = true }
        context.close(mode: mode, promise: promise)
    }
}

/// Closes an HTTP/2 connection that has had no open stream for `timeout`, and one told to end (a drain, a certificate
/// revoked in the registry: ``ConnectionEnding``) `graceTime` after it was told, open streams or not. The connection
/// manager sends GOAWAY at the idle timeout or when told to end, but closes, or starts its own grace time, only once
/// the client acknowledges the GOAWAY's PING; this bounds a client that never does.
///
/// NIOHTTP2's inline stream multiplexer reports streams only to its stream delegate, not down the connection's
/// pipeline: the closer learns of them from an `HTTP2StreamLifecycleRelay`, on the connection's event loop.
final class HTTP2IdleCloser: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    private let deadline: WaitDeadline
    private let graceTime: TimeAmount
    private var grace: Scheduled<Void>?
    private var openStreams: Set<HTTP2StreamID> = []
    private var context: ChannelHandlerContext?

    init(timeout: TimeAmount, graceTime: TimeAmount) {
        deadline = WaitDeadline(timeout: timeout)
        self.graceTime = graceTime
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        deadline.startWaiting(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        deadline.cancel()
        grace?.cancel()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, grace == nil {
            let channel = context.channel
            grace = context.eventLoop.scheduleTask(in: graceTime) { channel.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func streamOpened(_ id: HTTP2StreamID) {
        openStreams.insert(id)
        deadline.stopWaiting()
    }

    /// Starts the wait when the last open stream closes; a stream it never saw open changes nothing.
    func streamClosed(_ id: HTTP2StreamID) {
        guard openStreams.remove(id) != nil, openStreams.isEmpty, let context else { return }
        deadline.startWaiting(context)
    }
}

/// The stream delegate of an HTTP/2 connection's multiplexer: tells the connection manager and the idle closer of
/// every stream that opens or closes. NIOHTTP2 calls it on the connection's event loop.
struct HTTP2StreamLifecycleRelay: NIOHTTP2StreamDelegate {
    private let manager: NIOHTTP2ServerConnectionManagementHandler.HTTP2StreamDelegate
    private let closer: NIOLoopBound<HTTP2IdleCloser>

    init(manager: NIOHTTP2ServerConnectionManagementHandler, closer: HTTP2IdleCloser, eventLoop: any EventLoop) {
        self.manager = manager.http2StreamDelegate
        self.closer = NIOLoopBound(closer, eventLoop: eventLoop)
    }

    func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
        manager.streamCreated(id, channel: channel)
        closer.value.streamOpened(id)
    }

    func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
        manager.streamClosed(id, channel: channel)
        closer.value.streamClosed(id)
    }
}

/// Refuses an HTTP/2 request whose `host` field names another authority than its `:authority` (RFC 9113 §8.3.1
/// makes it malformed): NIOHTTP2's HTTP/1 codec keeps such a `host` and drops `:authority`, so the two could be read
/// differently on either side of the gateway. Refuses userinfo in `:authority` (malformed too) and a `:scheme` other
/// than `https`, the only one the gateway serves. Stands before the codec on each stream, and reads only its first
/// header block, the request's head.
final class HTTP2AuthorityCheck: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload

    private var sawHead = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !sawHead, case .headers(let block) = unwrapInboundIn(data) {
            sawHead = true
            if let authority = block.headers.first(name: ":authority").map(Self.normalized),
               block.headers["host"].contains(where: { Self.normalized($0) != authority }) {
                // The stream's handler answers it as a head no request could be read from.
                return context.fireErrorCaught(NIOHTTP2Errors.duplicateHostHeader())
            }
            // RFC 9113 §8.3.1: no userinfo in `:authority`; and the gateway serves `https` only.
            if let userinfo = block.headers[":authority"].first(where: { $0.contains("@") }) {
                return context.fireErrorCaught(NIOHTTP2Errors.invalidPseudoHeaderValue(name: ":authority", value: userinfo))
            }
            if let scheme = block.headers[":scheme"].first(where: { $0 != "https" }) {
                return context.fireErrorCaught(NIOHTTP2Errors.invalidPseudoHeaderValue(name: ":scheme", value: scheme))
            }
        }
        context.fireChannelRead(data)
    }

    /// An authority as RFC 3986 compares them: the host without regard to case, and the default port (443, as the
    /// gateway serves https) the same as none.
    private static func normalized(_ authority: String) -> String {
        let lowered = authority.lowercased()
        return lowered.hasSuffix(":443") ? String(lowered.dropLast(4)) : lowered
    }
}

/// Sends a stream's last DATA frame with END_STREAM, instead of a DATA frame and then an empty one that ends the
/// stream, when the answer's end is written before the data is flushed. Clients that stop reading once they have the
/// `content-length` bytes (curl) reset a stream still open, and NIOHTTP2 ends a connection after 200 resets in 30 s:
/// every two hundredth request on a reused connection failed. Data held here is always written at the next flush.
final class HTTP2EndOfStreamCoalescer: ChannelOutboundHandler {
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private var held: (data: HTTP2Frame.FramePayload.Data, promise: EventLoopPromise<Void>?)?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .data(let payload) = unwrapOutboundIn(data), case .byteBuffer = payload.data, payload.paddingBytes == nil else {
            writeHeld(context)
            return context.write(data, promise: promise)
        }
        if payload.endStream, payload.data.readableBytes == 0, let previous = held {
            held = nil
            var merged = previous.data
            merged.endStream = true
            if let promise, let earlier = previous.promise { promise.futureResult.cascade(to: earlier) }
            return context.write(wrapOutboundOut(.data(merged)), promise: promise ?? previous.promise)
        }
        writeHeld(context)
        if payload.endStream { return context.write(data, promise: promise) }
        held = (payload, promise)
    }

    func flush(context: ChannelHandlerContext) {
        writeHeld(context)
        context.flush()
    }

    private func writeHeld(_ context: ChannelHandlerContext) {
        guard let previous = held else { return }
        held = nil
        context.write(wrapOutboundOut(.data(previous.data)), promise: previous.promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        writeHeld(context)
    }
}
