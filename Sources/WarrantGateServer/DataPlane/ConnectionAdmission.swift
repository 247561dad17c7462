import NIOCore
import NIOHTTP2
import Synchronization

/// Admits connections in two budgets: those still setting up (TLS handshake, and for HTTP/2 the preface and the
/// SETTINGS acknowledgement) and those set up, with a verified client certificate.
///
/// A setting-up connection that would exceed its budget evicts the oldest one still setting up, so bare sockets
/// cannot lock agencies out: an attacker must outpace the handshakes of every agency, not merely hold sockets open.
/// Set-up connections have a budget of their own (`max-connections`), which bare sockets never touch.
final class ConnectionAdmission: Sendable {
    private struct State {
        var nextTicket: UInt64 = 0
        /// Connections setting up, by ticket: the lowest ticket is the oldest.
        var settingUp: [UInt64: any Channel] = [:]
        var established: [UInt64: any Channel] = [:]
    }

    private let maxSettingUp: Int
    private let maxEstablished: Int
    private let state = Mutex(State())

    init(maxSettingUp: Int, maxEstablished: Int) {
        self.maxSettingUp = max(1, maxSettingUp)
        self.maxEstablished = max(1, maxEstablished)
    }

    /// Admits a new connection to the setting-up budget, evicting the oldest if the budget is full.
    func admit(_ channel: any Channel) -> UInt64 {
        let (ticket, evicted) = state.withLock { state -> (UInt64, (any Channel)?) in
            var evicted: (any Channel)?
            if state.settingUp.count >= maxSettingUp, let oldest = state.settingUp.keys.min() {
                evicted = state.settingUp.removeValue(forKey: oldest)
            }
            state.nextTicket += 1
            state.settingUp[state.nextTicket] = channel
            return (state.nextTicket, evicted)
        }
        evicted?.close(promise: nil)
        return ticket
    }

    /// Moves a connection that has set up into the established budget; false when that budget is full (or the
    /// connection was evicted meanwhile), and the connection must close.
    func establish(_ ticket: UInt64) -> Bool {
        state.withLock { state in
            guard let channel = state.settingUp.removeValue(forKey: ticket), state.established.count < maxEstablished else { return false }
            state.established[ticket] = channel
            return true
        }
    }

    /// A connection closed.
    func release(_ ticket: UInt64, established: Bool) {
        state.withLock { state in
            if established {
                state.established.removeValue(forKey: ticket)
            } else {
                state.settingUp.removeValue(forKey: ticket)
            }
        }
    }

    /// Closes every connection still open (the end of a drain).
    func closeAll() {
        let open = state.withLock { Array($0.settingUp.values) + Array($0.established.values) }
        for channel in open { channel.close(promise: nil) }
    }
}

/// The first handler of every gateway connection: admits it (``ConnectionAdmission``), and closes it unless it sets
/// up within the deadline: the TLS handshake, and for HTTP/2 the client's preface and its acknowledgement of the
/// gateway's SETTINGS. A connection still setting up when the gateway drains is closed at once.
final class ConnectionSetupGuard: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let admission: ConnectionAdmission
    private let timeout: TimeAmount
    private var ticket: UInt64?
    private var established = false
    private var deadline: Scheduled<Void>?

    init(admission: ConnectionAdmission, timeout: TimeAmount) {
        self.admission = admission
        self.timeout = timeout
    }

    func channelActive(context: ChannelHandlerContext) {
        ticket = admission.admit(context.channel)
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    /// The connection has set up: it leaves the setting-up budget, or closes if the established one is full.
    func established(_ channel: any Channel) {
        guard !established, let ticket else { return }
        deadline?.cancel()
        deadline = nil
        guard admission.establish(ticket) else { return channel.close(promise: nil) }
        established = true
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if let ticket { admission.release(ticket, established: established) }
        ticket = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !established { return context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Watches an HTTP/2 connection's own frames until the client acknowledges the gateway's SETTINGS, which completes
/// the connection's setup; then leaves the pipeline.
final class HTTP2SetupWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .settings(.ack) = unwrapInboundIn(data).payload,
           let setup = try? context.pipeline.syncOperations.handler(type: ConnectionSetupGuard.self) {
            setup.established(context.channel)
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
///   `bad_request` decision naming the connection's agency, at most `cap` per connection. A content length that the
///   DATA contradicts fails a stream that exists, whose handler records it.
/// - A connection error (a flood of resets, CONTINUATION or control frames, too many glitches, a malformed frame)
///   makes NIOHTTP2 send GOAWAY, but it does not close the connection: this records it once and closes the connection
///   once the GOAWAY is flushed, so the client does not keep its place.
final class HTTP2RefusalRecorder: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let environment: GatewayEnvironment
    private let peer: ConnectionPeer?
    private let cap: Int
    private var recorded = 0

    init(environment: GatewayEnvironment, peer: ConnectionPeer?, cap: Int = 16) {
        self.environment = environment
        self.peer = peer
        self.cap = cap
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch Self.kind(of: error) {
        case .refusedRequest:
            record(error)
        case .streamFailure:
            break
        case .connectionError:
            record(error)
            let channel = context.channel
            context.eventLoop.execute { channel.close(promise: nil) }
        case .notHTTP2:
            break
        }
        context.fireErrorCaught(error)
    }

    private func record(_ error: any Error) {
        guard recorded < cap else { return }
        recorded += 1
        environment.recordUnparsed(peer: peer, reason: .badRequest, detail: "\(error)")
    }

    private enum ErrorKind {
        case refusedRequest, streamFailure, connectionError, notHTTP2
    }

    private static func kind(of error: any Error) -> ErrorKind {
        switch error {
        case is NIOHTTP2Errors.InvalidHTTP2HeaderFieldName, is NIOHTTP2Errors.MissingPseudoHeader, is NIOHTTP2Errors.DuplicatePseudoHeader,
             is NIOHTTP2Errors.PseudoHeaderAfterRegularHeader, is NIOHTTP2Errors.UnknownPseudoHeader, is NIOHTTP2Errors.UnsupportedPseudoHeader,
             is NIOHTTP2Errors.InvalidPseudoHeaders, is NIOHTTP2Errors.MissingHostHeader, is NIOHTTP2Errors.DuplicateHostHeader,
             is NIOHTTP2Errors.EmptyPathHeader, is NIOHTTP2Errors.ForbiddenHeaderField, is NIOHTTP2Errors.InvalidPseudoHeaderValue,
             is NIOHTTP2Errors.ContentLengthHeadersMismatch, is NIOHTTP2Errors.ContentLengthHeaderNegative,
             is NIOHTTP2Errors.ContentLengthHeaderMalformedValue:
            .refusedRequest
        case is NIOHTTP2Errors.ContentLengthViolated, is NIOHTTP2Errors.StreamClosed, is NIOHTTP2Errors.NoSuchStream,
             is NIOHTTP2Errors.BadStreamStateTransition, is NIOHTTP2Errors.TrailersWithoutEndStream, is NIOHTTP2Errors.StreamError:
            .streamFailure
        case is any NIOHTTP2Error:
            .connectionError
        default:
            .notHTTP2
        }
    }
}

/// Closes an HTTP/2 connection that has had no open stream for `timeout`. The connection manager sends GOAWAY at the
/// idle timeout but closes only once the client acknowledges its PING; this bounds a client that never does.
final class HTTP2IdleCloser: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    private let deadline: WaitDeadline
    private var openStreams = 0

    init(timeout: TimeAmount) {
        deadline = WaitDeadline(timeout: timeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        deadline.startWaiting(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline.cancel()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is NIOHTTP2StreamCreatedEvent:
            openStreams += 1
            deadline.stopWaiting()
        case is StreamClosedEvent:
            openStreams = max(0, openStreams - 1)
            if openStreams == 0 { deadline.startWaiting(context) }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }
}
