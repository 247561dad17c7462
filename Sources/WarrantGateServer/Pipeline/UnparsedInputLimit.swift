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
/// stops reading. A read larger than a slice (NIOSSL hands on a whole read cycle's plaintext at once) is passed on
/// slice by slice, so the parser holds at most `maxBytes` and two slices.
final class UnparsedInputLimit: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The most passed on to the parser at once: what follows the last part to come out of a slice goes uncounted.
    private static let sliceBytes = 16 * 1024
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
        var buffer = unwrapInboundIn(data)
        guard buffer.readableBytes > Self.sliceBytes else {
            return passOn(data, count: buffer.readableBytes, context: context)
        }
        while buffer.readableBytes > 0, !exceeded, context.channel.isActive,
              let slice = buffer.readSlice(length: min(Self.sliceBytes, buffer.readableBytes)) {
            passOn(wrapInboundOut(slice), count: slice.readableBytes, context: context)
        }
    }

    private func passOn(_ data: NIOAny, count: Int, context: ChannelHandlerContext) {
        guard !exceeded else { return }
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
