import NIOCore
import NIOHTTP1
import WarrantGateCore

/// Hands an HTTP/1.1 connection's requests to the handlers behind it one at a time, and closes the connection
/// gracefully when the gateway drains. It stands where NIOHTTP1's `HTTPServerPipelineHandler` would.
///
/// - A request that arrives while the one before it still waits for its answer's end (pipelining), or for that end
///   to be written to the socket (a client that does not read), is held, with everything after it, and handed on in
///   order once that end is written. Parser errors wait their turn in the same queue; one in the body of a request
///   already answered is dropped.
/// - The connection is read while nothing is held, even while an answer is pending; once something is held, reads
///   stop until the queue empties, so a client that pipelines costs at most what one read brought in.
///   (`HTTPServerPipelineHandler` stops reading whenever an answer is pending, which costs every keep-alive request
///   two `epoll_ctl` calls to drop and restore the socket's read interest.) At most ``maxHeldRequests`` requests are
///   held: one beyond them is not taken, nor anything after it, and the last one held becomes the connection's last.
/// - A request read but never handed on is told to the handlers behind (``RequestsNotTaken``), which record it: one
///   beyond those held (`agency_concurrency_limit`), one sent behind the request whose answer ended the connection
///   (`bad_request`), one held when the client leaves (`client_closed`), and one held or read once the gateway drains
///   (`gateway_draining`); a parser error held as a request would be is told with its reason too. Of those beyond the
///   held ones, at most ``maxHeldRequests`` are told for a connection, so that one read of pipelined heads cannot
///   flood the log; the rest are not recorded. (After a request that ends its connection itself, the parser reads
///   nothing more: what the client sent behind it is never seen.)
/// - A request is the connection's last when it ends its connection (``HeaderRules/endsConnection(_:)``: it does not
///   keep the connection alive, or the parser reads nothing after it and would keep every later byte unparsed and
///   unbounded), when its answer says `Connection: close`, or when it is a parser error. Once the last request has
///   all arrived, the connection is not read again and nothing after it is handed on.
/// - On `ChannelShouldQuiesceEvent` (the gateway drains) or ``ConnectionEnds`` (the handlers behind end it) an idle
///   connection closes at once; one with a request in progress gives up what it holds and takes no more requests,
///   recorded with the drain's reason or the one given.
/// - The last request's answer says `Connection: close` unless its head had already gone, and the connection closes
///   after that answer's end, or after the request's end if the answer ended first.
/// - Each part or parser error that comes out of the parser resets the connection's ``UnparsedInputLimit``.
final class HTTP1RequestSequencer: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Held {
        case part(HTTPServerRequestPart)
        case parserError(HTTPParserError)

        var isHead: Bool {
            if case .part(.head) = self { true } else { false }
        }
    }

    /// The most requests held behind a pending answer. A parser error, which ends the input, is always held.
    static let maxHeldRequests = 16

    /// Ends the connection as a drain does (its request in progress answered with `Connection: close`), for `reason`,
    /// which the requests it then does not take are recorded with.
    struct ConnectionEnds {
        let reason: GatewayReason
    }

    /// Requests the connection read and will never hand on, and why: the handlers behind record each, a head with
    /// its method and target, and each input the parser refused (`unparsed`) without.
    struct RequestsNotTaken {
        var heads: [HTTPRequestHead] = []
        var unparsed = 0
        let reason: GatewayReason
    }

    /// A request's head has been handed on and its end has not.
    private var requestOpen = false
    /// A request has been handed on and its answer has not ended.
    private var answerPending = false
    /// An answer has ended but its end is not yet written to the socket: the next request waits for it.
    private var endUnwritten = false
    private var held = CircularBuffer<Held>()
    /// The request heads in `held`.
    private var heldRequests = 0
    /// A request came beyond ``maxHeldRequests``: nothing more is held.
    private var heldOverflowed = false
    /// Requests read beyond those held, or after the last, and not taken: each of the first ``maxHeldRequests`` is
    /// told behind.
    private var untakenBeyondHeld = 0
    /// Why the connection is ending, for the requests it then does not take: the gateway drains, or the handlers
    /// behind ended it (``ConnectionEnds``); nil while it is not.
    private var endingReason: GatewayReason?
    /// A `read()` was withheld while reads were stopped.
    private var readWithheld = false
    /// No request after the current one is taken.
    private var lastRequest = false
    private let inputLimit: UnparsedInputLimit

    /// The current request has all arrived and its answer has not ended: anything read now belongs to a later one.
    private var awaitingAnswer: Bool { answerPending && !requestOpen }
    /// The last request has all arrived: nothing read from now on is handed on.
    private var takesNoMore: Bool { lastRequest && !requestOpen }
    /// The current request's answer has ended before the request did (a refusal before its body arrived).
    private var answeredEarly: Bool { requestOpen && !answerPending }
    /// Whether the connection must not be read now: something is held, or nothing more is taken.
    private var readsStopped: Bool { !held.isEmpty || takesNoMore }
    /// Whether what is read now waits: behind something held, an answer pending, or an answer's end not yet written.
    private var mustHold: Bool { !held.isEmpty || awaitingAnswer || endUnwritten }

    init(inputLimit: UnparsedInputLimit) {
        self.inputLimit = inputLimit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        inputLimit.parsed()
        if takesNoMore || heldOverflowed {
            if case .head(let head) = part { notTaken(RequestsNotTaken(heads: [head], reason: untakenReason), context: context) }
            return
        }
        if mustHold {
            hold(.part(part), context: context)
        } else {
            handOn(part, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else { return context.fireErrorCaught(error) }
        inputLimit.parsed()
        // An error in the rest of a request already answered changes nothing: that answer ends the connection. One
        // after the last request, or past those held, may be the parser's last word on a request already told of
        // (`HTTP/2.0` is a head, then an error): nothing is recorded for it.
        if takesNoMore || heldOverflowed || answeredEarly { return }
        if mustHold {
            hold(.parserError(parserError), context: context)
        } else {
            handOn(parserError, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent, is ConnectionEnds:
            lastRequest = true
            // The first reason stands: a drain after a revocation does not make the revoked requests a drain's.
            endingReason = endingReason ?? (event as? ConnectionEnds)?.reason ?? .gatewayDraining
            giveUpHeld(context: context)
            if !answerPending && !requestOpen { context.close(promise: nil) }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        giveUpHeld(context: context)
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if readsStopped {
            readWithheld = true
        } else {
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where !head.status.isInformational:
            if lastRequest {
                head.headers.replaceOrAdd(name: "connection", value: "close")
                context.write(wrapOutboundOut(.head(head)), promise: promise)
            } else {
                // An answer that ends the connection makes its request the last.
                if !head.isKeepAlive { lastRequest = true }
                context.write(data, promise: promise)
            }
        case .end where takesNoMore:
            answerPending = false
            let written = promise ?? context.eventLoop.makePromise()
            written.futureResult.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
            context.write(data, promise: written)
        case .end:
            // The next request is handed on once this end is written: a client that sends requests and never reads
            // has one answer queued, not one for each request it sends.
            answerPending = false
            endUnwritten = true
            let written = promise ?? context.eventLoop.makePromise()
            written.futureResult.assumeIsolated().whenComplete { [self] result in
                endUnwritten = false
                if case .success = result { handOnHeld(context: context) }
            }
            context.write(data, promise: written)
        case .head, .body:
            context.write(data, promise: promise)
        }
    }

    private func handOn(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            requestOpen = true
            answerPending = true
            if HeaderRules.endsConnection(head) { lastRequest = true }
            context.fireChannelRead(wrapInboundOut(part))
        case .body:
            context.fireChannelRead(wrapInboundOut(part))
        case .end:
            requestOpen = false
            context.fireChannelRead(wrapInboundOut(part))
            if lastRequest && !answerPending { context.close(promise: nil) }
        }
    }

    /// A parser error ends the input the handlers behind were reading: they answer it as a whole request would be, and
    /// nothing after it is parsed.
    private func handOn(_ error: HTTPParserError, context: ChannelHandlerContext) {
        requestOpen = false
        answerPending = true
        lastRequest = true
        context.fireErrorCaught(error)
    }

    private func hold(_ item: Held, context: ChannelHandlerContext) {
        if case .part(.head(let head)) = item {
            guard heldRequests < Self.maxHeldRequests else {
                heldOverflowed = true
                return notTaken(RequestsNotTaken(heads: [head], reason: .agencyConcurrencyLimit), context: context)
            }
            heldRequests += 1
        }
        held.append(item)
    }

    /// Why a request read now, or one held and given up, is not taken.
    private var untakenReason: GatewayReason {
        heldOverflowed ? .agencyConcurrencyLimit : endingReason ?? (lastRequest ? .badRequest : .clientClosed)
    }

    /// A request read beyond those held, or after the connection's last: told behind, up to ``maxHeldRequests``.
    private func notTaken(_ untaken: RequestsNotTaken, context: ChannelHandlerContext) {
        untakenBeyondHeld += 1
        guard untakenBeyondHeld <= Self.maxHeldRequests else { return }
        context.fireUserInboundEventTriggered(untaken)
    }

    /// Gives up the requests held (the client left, or the gateway drains), telling the handlers behind of them. The
    /// rest of the current request, held behind its early answer's unwritten end, is kept: that request still ends.
    private func giveUpHeld(context: ChannelHandlerContext) {
        let firstRequest = held.firstIndex { item in
            if case .part(.head) = item { true } else if case .parserError = item { !requestOpen } else { false }
        } ?? held.endIndex
        // Reasons as they stand before any held request counts: held ones are within the cap, not beyond it.
        var untaken = RequestsNotTaken(reason: endingReason ?? (lastRequest ? .badRequest : .clientClosed))
        for item in held[firstRequest...] {
            switch item {
            case .part(.head(let head)): untaken.heads.append(head)
            case .parserError: untaken.unparsed += 1
            case .part: break
            }
        }
        held.removeSubrange(firstRequest...)
        heldRequests = 0
        if !untaken.heads.isEmpty || untaken.unparsed > 0 { context.fireUserInboundEventTriggered(untaken) }
    }

    /// Hands on what was held until the next request has all arrived, then reads again if reads may resume.
    private func handOnHeld(context: ChannelHandlerContext) {
        var handedOnParts = false
        while !awaitingAnswer && !takesNoMore && !endUnwritten, let next = held.popFirst() {
            if next.isHead {
                heldRequests -= 1
                if heldRequests == 0 && heldOverflowed { lastRequest = true }
            }
            switch next {
            case .part(let part):
                handOn(part, context: context)
                handedOnParts = true
            case .parserError(let error):
                handOn(error, context: context)
            }
        }
        if handedOnParts { context.fireChannelReadComplete() }
        if readWithheld && !readsStopped {
            readWithheld = false
            context.read()
        }
    }
}

extension HTTPResponseStatus {
    /// A 1xx status: an interim answer, followed by the final one.
    fileprivate var isInformational: Bool { (100..<200).contains(code) }
}
