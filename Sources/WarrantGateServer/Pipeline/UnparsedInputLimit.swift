import NIOCore
import NIOHTTP1

/// Bounds what NIO's HTTP/1 parser may hold of a connection's input without producing anything: a client's requests
/// (``HTTP1RequestSequencer``) or an upstream's responses (``UpstreamConnectionHandler``). It stands before the parser
/// and counts the bytes of each read out of which nothing came; the handler after the parser calls ``parsed()`` for
/// each part or parser error that comes out, which starts the count again.
///
/// The parser keeps a head's bytes until the head is complete, and counts only its fields against the header
/// limits: the whitespace llhttp skips (before the request line's version, inside and between fields, blank lines
/// between requests) is neither counted nor bounded. A peer that sends it without end would grow the parser's buffer
/// until the process runs out of memory (an upstream's endless field value took the gateway to 4 GiB, where
/// `ByteBuffer` traps). Once more than `maxBytes` have gone in unparsed, the limit passes on
/// `HTTPParserError.headerOverflow` once (a client's head is answered like one over its limit, 431; an upstream's
/// exchange fails, 502), then passes on nothing more and stops reading. A read larger than a slice (NIOSSL hands on a
/// whole read cycle's plaintext at once) is passed on slice by slice, so the parser holds at most `maxBytes` and two
/// slices.
final class UnparsedInputLimit: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The most passed on to the parser at once: what follows the last part to come out of a slice goes uncounted.
    private let sliceBytes: Int
    private let maxBytes: Int
    private var unparsed = 0
    /// The parser produced something during the read being passed on.
    private var parsedDuringRead = false
    private var exceeded = false

    /// `maxBytes`: the most the parser may be given while it produces nothing; `sliceBytes`: the most passed on at
    /// once. Each slice of a body costs a write of its own further on, so a path that carries large bodies may pass
    /// larger slices, for a looser bound.
    init(maxBytes: Int, sliceBytes: Int = 16 * 1024) {
        self.maxBytes = maxBytes
        self.sliceBytes = sliceBytes
    }

    /// The parser produced a part or an error: what it was given so far has been parsed.
    func parsed() {
        unparsed = 0
        parsedDuringRead = true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard buffer.readableBytes > sliceBytes else {
            return passOn(data, count: buffer.readableBytes, context: context)
        }
        while buffer.readableBytes > 0, !exceeded, context.channel.isActive,
              let slice = buffer.readSlice(length: min(sliceBytes, buffer.readableBytes)) {
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
