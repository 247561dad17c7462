import NIOCore
import NIOHTTP1

/// Bounds what NIO's HTTP/1 parser may hold of a connection's input without producing anything. It stands before
/// the parser and counts the bytes of each read out of which nothing came; ``HTTP1RequestSequencer`` calls
/// ``parsed()`` for each part or parser error that comes out, which starts the count again.
///
/// The parser keeps a head's bytes until the head is complete, and counts only its fields against the header
/// limits: the whitespace llhttp skips (before the request line's version, between fields, blank lines between
/// requests) is neither counted nor bounded. A client that sends it without end would grow the parser's buffer for as
/// long as the connection lasts. Once more than `maxBytes` have gone in unparsed, the limit passes on
/// `HTTPParserError.headerOverflow` once (answered like a head over its limit, 431), then passes on nothing more and
/// stops reading. The parser then holds at most `maxBytes` and the bytes of one read.
final class UnparsedInputLimit: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let maxBytes: Int
    private var unparsed = 0
    /// The parser produced something during the read being passed on.
    private var parsedDuringRead = false
    private var exceeded = false

    /// `maxBytes`: the most the parser may be given while it produces nothing.
    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    /// The parser produced a request part or an error: what it was given so far has been parsed.
    func parsed() {
        unparsed = 0
        parsedDuringRead = true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !exceeded else { return }
        let count = unwrapInboundIn(data).readableBytes
        parsedDuringRead = false
        context.fireChannelRead(data)
        if !parsedDuringRead { unparsed += count }
        guard unparsed > maxBytes else { return }
        exceeded = true
        context.fireErrorCaught(HTTPParserError.headerOverflow)
    }

    func read(context: ChannelHandlerContext) {
        if !exceeded { context.read() }
    }
}
