import NIOCore
import NIOHTTP1

/// Closes a connection that does not deliver a complete request head in time (slowloris), or that stays idle.
///
/// The deadline runs from the moment the connection is ready for HTTP, and again from the end of each response,
/// until the next request head has been decoded. A connection that trickles a header byte by byte, or opens and
/// sends nothing, or keeps its connection open after an answer without asking anything more, is closed when the
/// deadline passes. It is watched without a promise per write, unlike NIO's `IdleStateHandler`.
final class RequestHeadDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let deadline: WaitDeadline

    init(timeout: TimeAmount) {
        deadline = WaitDeadline(timeout: timeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { deadline.startWaiting(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline.cancel()
    }

    func channelActive(context: ChannelHandlerContext) {
        deadline.startWaiting(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { deadline.stopWaiting() }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { deadline.startWaiting(context) }
        context.write(data, promise: promise)
    }
}
