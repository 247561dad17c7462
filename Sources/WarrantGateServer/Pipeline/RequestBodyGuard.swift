import NIOCore
import NIOHTTP1

/// Ends a connection, or over HTTP/2 the request's stream, whose request body was not received in full.
///
/// The gateway never drains a body it does not want, and never lets two readers share one: it reads what it forwards
/// whole, and refuses the rest. So:
/// - a body still arriving when its answer has been written ends the connection after that answer (HTTP/1.1 says so
///   with `Connection: close`; HTTP/2 resets the stream);
/// - an answer that says `Connection: close` ends the connection once written;
/// - a body that has not arrived in full `timeout` after its head ends the connection (HTTP/2: the stream) at once,
///   which fails the one request reading it.
final class RequestBodyGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    private let isHTTP2Stream: Bool
    private var requestHeads = 0
    private var requestEnds = 0
    private var responseEnds = 0
    private var closeAfterResponse = false
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount, isHTTP2Stream: Bool) {
        self.timeout = timeout
        self.isHTTP2Stream = isHTTP2Stream
    }

    /// Whether the request now being answered (responses go in request order) has been received in full.
    private var answeredRequestIsComplete: Bool { requestEnds > responseEnds }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: requestHeads += 1
        case .body: break
        case .end:
            requestEnds += 1
            if requestEnds == requestHeads {
                deadline?.cancel()
                deadline = nil
            }
        }
        context.fireChannelRead(data)
    }

    /// The deadline is armed only when a read ends with a request still incomplete: most requests arrive whole in
    /// one read and schedule nothing.
    func channelReadComplete(context: ChannelHandlerContext) {
        if requestHeads > requestEnds && deadline == nil {
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where !isHTTP2Stream:
            if head.status.code < 200 { break }
            if !answeredRequestIsComplete {
                head.headers.replaceOrAdd(name: "connection", value: "close")
                closeAfterResponse = true
                context.write(wrapOutboundOut(.head(head)), promise: promise)
                return
            }
            if head.headers["connection"].contains(where: { $0.lowercased() == "close" }) { closeAfterResponse = true }
        case .head, .body:
            break
        case .end:
            let complete = answeredRequestIsComplete
            responseEnds += 1
            if closeAfterResponse || !complete {
                context.writeAndFlush(data, promise: promise)
                context.close(promise: nil)
                return
            }
        }
        context.write(data, promise: promise)
    }
}
