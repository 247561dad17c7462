import NIOCore

/// A frame the client sends, in RELP (rsyslog's Reliable Event Logging Protocol):
/// `TXNR SP COMMAND SP DATALEN [SP DATA] LF`.
struct RELPFrame: Sendable, Equatable {
    /// 1…999,999,999, increasing by one per frame on a session.
    let txnr: Int
    let command: String
    let data: [UInt8]

    static let maximumTxnr = 999_999_999

    static func open(txnr: Int) -> RELPFrame {
        RELPFrame(txnr: txnr, command: "open", data: Array("relp_version=0\nrelp_software=warrant-gate\ncommands=syslog".utf8))
    }

    static func syslog(txnr: Int, message: [UInt8]) -> RELPFrame {
        RELPFrame(txnr: txnr, command: "syslog", data: message)
    }

    static func close(txnr: Int) -> RELPFrame {
        RELPFrame(txnr: txnr, command: "close", data: [])
    }
}

/// A frame the server sends: `rsp` answering a transaction, or `serverclose` (transaction number 0).
struct RELPResponse: Sendable, Equatable {
    let txnr: Int
    let command: String
    let data: [UInt8]

    /// The three-digit status that starts a `rsp`'s data (`200 OK`), ended by a space, a line feed or the data's end;
    /// nil if there is none (`2000 error` has none).
    var status: Int? {
        guard command == "rsp", data.count >= 3, data.prefix(3).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              data.count == 3 || data[3] == 0x20 || data[3] == 0x0A else { return nil }
        return data.prefix(3).reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    /// The data as text, for an error message (bounded, control characters removed).
    var text: String {
        String(decoding: data.prefix(200).map { $0 < 0x20 || $0 == 0x7F ? 0x20 : $0 }, as: UTF8.self)
    }
}

/// The server left a frame unanswered past the answer deadline (``RELPSessionClock``).
struct RELPAnswerLate: Error, CustomStringConvertible {
    let deadline: TimeAmount
    var description: String { "the server left a frame unanswered for \(deadline.nanoseconds / 1_000_000) ms" }
}

/// Why the server's bytes are not RELP.
struct RELPProtocolError: Error, CustomStringConvertible {
    let description: String
}

/// Writes ``RELPFrame``s.
struct RELPFrameEncoder: MessageToByteEncoder {
    typealias OutboundIn = RELPFrame

    func encode(data frame: RELPFrame, out: inout ByteBuffer) throws {
        out.writeString("\(frame.txnr) \(frame.command) \(frame.data.count)")
        if !frame.data.isEmpty {
            out.writeInteger(UInt8(ascii: " "))
            out.writeBytes(frame.data)
        }
        out.writeInteger(UInt8(ascii: "\n"))
    }
}

/// Reads the server's frames. Every byte is checked: the numbers are digits of bounded length, the command is
/// letters, the data is at most ``maximumData`` bytes, and the trailer is LF; anything else is an error, which
/// closes the session.
struct RELPResponseDecoder: ByteToMessageDecoder {
    typealias InboundOut = RELPResponse

    /// Responses carry a status and, for `open`, the offers: a few hundred bytes. More is refused.
    static let maximumData = 64 * 1024

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        var cursor = buffer
        guard let txnr = try Self.number(&cursor, maximumDigits: 9, name: "transaction number", terminators: [0x20]),
              cursor.readInteger(as: UInt8.self) != nil,
              let command = try Self.word(&cursor),
              let length = try Self.number(&cursor, maximumDigits: 9, name: "data length", terminators: [0x20, 0x0A]),
              let separator = cursor.readInteger(as: UInt8.self)
        else { return .needMoreData }
        guard length <= Self.maximumData else { throw RELPProtocolError(description: "the server sent \(length) bytes of response data") }
        var data: [UInt8] = []
        if length > 0 {
            guard separator == 0x20 else { throw RELPProtocolError(description: "no space before the response data") }
            guard let bytes = cursor.readBytes(length: length), let trailer = cursor.readInteger(as: UInt8.self) else { return .needMoreData }
            guard trailer == 0x0A else { throw RELPProtocolError(description: "a response frame does not end in LF") }
            data = bytes
        } else {
            guard separator == 0x0A else { throw RELPProtocolError(description: "a response frame does not end in LF") }
        }
        buffer = cursor
        context.fireChannelRead(wrapInboundOut(RELPResponse(txnr: txnr, command: command, data: data)))
        return .continue
    }

    /// Reads decimal digits up to (not including) one of `terminators`; nil if the bytes end first.
    private static func number(_ cursor: inout ByteBuffer, maximumDigits: Int, name: String, terminators: Set<UInt8>) throws -> Int? {
        var value = 0
        var digits = 0
        while let byte = cursor.getInteger(at: cursor.readerIndex, as: UInt8.self) {
            if terminators.contains(byte) {
                guard digits > 0 else { throw RELPProtocolError(description: "an empty \(name)") }
                return value
            }
            guard byte >= 0x30, byte <= 0x39, digits < maximumDigits else { throw RELPProtocolError(description: "a malformed \(name)") }
            value = value * 10 + Int(byte - 0x30)
            digits += 1
            cursor.moveReaderIndex(forwardBy: 1)
        }
        return nil
    }

    /// Reads a command (1…32 ASCII letters) and the space after it; nil if the bytes end first.
    private static func word(_ cursor: inout ByteBuffer) throws -> String? {
        var letters: [UInt8] = []
        while let byte = cursor.readInteger(as: UInt8.self) {
            if byte == 0x20 {
                guard !letters.isEmpty else { throw RELPProtocolError(description: "an empty command") }
                return String(decoding: letters, as: UTF8.self)
            }
            let letter = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A)
            guard letter, letters.count < 32 else { throw RELPProtocolError(description: "a malformed command") }
            letters.append(byte)
        }
        return nil
    }
}

/// What the forwarder's session reads: the server's frames, and a tick every poll interval, so that one loop both
/// answers the server (a `serverclose` while idle included) and looks for new entries.
enum RELPEvent: Sendable {
    case response(RELPResponse)
    case tick
}

/// The session's clocks.
/// - A tick into the inbound stream every `pollInterval`.
/// - An answer deadline: the session is closed when the server has left a frame unanswered for `answerDeadline` since
///   that frame was sent. A SIEM that accepts a connection and then stops answering must not hold the forwarder (and
///   its cursor) forever, nor one that answers a frame just inside the deadline each time, a window's worth of frames
///   a day. Answers come in the order the frames went out; with none outstanding there is no deadline, so an idle
///   session stays open.
final class RELPSessionClock: ChannelDuplexHandler {
    typealias InboundIn = RELPResponse
    typealias InboundOut = RELPEvent
    typealias OutboundIn = RELPFrame
    typealias OutboundOut = RELPFrame

    private let pollInterval: TimeAmount
    private let answerDeadline: TimeAmount
    /// When each unanswered frame was sent, oldest first.
    private var sentAt = CircularBuffer<NIODeadline>()
    private var deadline: Scheduled<Void>?
    private var ticks: RepeatedTask?

    init(pollInterval: TimeAmount, answerDeadline: TimeAmount) {
        self.pollInterval = pollInterval
        self.answerDeadline = answerDeadline
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        // Each tick is a read of its own, completed: the async channel holds reads back until their read completes,
        // so a tick without it reached the forwarder only with the receiver's next answer, which a caught-up
        // forwarder never gets.
        ticks = context.eventLoop.scheduleRepeatedTask(initialDelay: pollInterval, delay: pollInterval) { _ in
            loopBound.value.fireChannelRead(NIOAny(RELPEvent.tick))
            loopBound.value.fireChannelReadComplete()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        sentAt.append(.now())
        if deadline == nil { arm(context) }
        context.write(data, promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let response = unwrapInboundIn(data)
        if response.command == "rsp", !sentAt.isEmpty {
            sentAt.removeFirst()
            deadline?.cancel()
            deadline = nil
            if !sentAt.isEmpty { arm(context) }
        }
        context.fireChannelRead(wrapInboundOut(.response(response)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    private func stop() {
        deadline?.cancel()
        deadline = nil
        ticks?.cancel()
        ticks = nil
    }

    /// Closes the session `answerDeadline` after the oldest unanswered frame was sent, unless it is answered first.
    private func arm(_ context: ChannelHandlerContext) {
        guard let oldest = sentAt.first else { return }
        let limit = answerDeadline
        deadline = context.eventLoop.assumeIsolated().scheduleTask(deadline: oldest + limit) { [weak self] in
            guard let self, !self.sentAt.isEmpty else { return }
            context.fireErrorCaught(RELPAnswerLate(deadline: limit))
            context.close(promise: nil)
        }
    }
}
