import NIOCore
import NIOHTTP1

@testable import WarrantGateServer

/// Counts the reads that pass it on their way to the socket.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    var reads = 0

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

/// Keeps the HTTP parser errors that reach it, so that a test sees one handed on while it writes an answer (an
/// embedded channel would throw it from the write instead).
final class ParserErrorRecorder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    var errors: [HTTPParserError] = []

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError { errors.append(error) } else { context.fireErrorCaught(error) }
    }
}

/// Keeps the requests a sequencer tells it it will not take: each one's target (empty for input the parser refused)
/// and reason.
final class UntakenRecorder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    var untaken: [(uri: String, reason: String)] = []

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let told = event as? HTTP1RequestSequencer.RequestsNotTaken else { return context.fireUserInboundEventTriggered(event) }
        untaken += told.heads.map { ($0.uri, told.reason.rawValue) } + Array(repeating: ("", told.reason.rawValue), count: told.unparsed)
    }
}
