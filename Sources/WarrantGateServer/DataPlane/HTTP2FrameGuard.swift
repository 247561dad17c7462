import NIOCore
import NIOHTTP2

/// Reads an HTTP/2 connection's frames as bytes on both sides of NIOHTTP2, for what NIOHTTP2 leaves unbounded:
///
/// - The client's `SETTINGS_HEADER_TABLE_SIZE` sizes the gateway's HPACK encoder table, which NIOHTTP2 searches
///   entry by entry for every header it encodes, and every answer adds its own `Decision-Id` and `Date`: with 4 GiB
///   allowed, each answer on a connection cost more than the last, until one loop was busy with nothing else. A value
///   above `maxHeaderTableSize` is lowered to it before NIOHTTP2 reads it; an encoder may use less than its peer
///   allows (RFC 7541 §4.2).
/// - What NIOHTTP2's flood heuristics do not count may come only within a budget: WINDOW_UPDATE, GOAWAY and extension
///   (unknown-type) frames; SETTINGS entries (NIOHTTP2 counts a SETTINGS frame as one frame, and walks every open
///   stream for each window-size entry in it, up to 2,730 a frame); and DATA frames much smaller than their bytes (a
///   body sent a byte a frame). A few GOAWAYs a connection; for the others a budget that grows with the connection's
///   requests, and for WINDOW_UPDATE and DATA with the bytes they carry. Beyond it the connection ends, recorded as a
///   flood.
/// - A GOAWAY the gateway sends with an error code ends the connection (NIOHTTP2 leaves it open), and the refusal
///   recorder hears of it, unless the gateway had already sent one without an error (idle, shutting down): some
///   protocol errors (a frame on an idle stream, a client's even stream id) reach it only as a stream's error type.
final class HTTP2FrameGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// The largest HPACK table the gateway's encoder keeps: HTTP/2's default.
    static let maxHeaderTableSize: UInt32 = 4_096

    /// What a connection may send beyond its requests.
    struct Budget {
        var extensionFrames = 100
        var extensionFramesPerRequest = 10
        var windowUpdates = 1_000
        var windowUpdatesPerRequest = 10
        /// A client may send GOAWAY more than once (each naming a lower last stream), never many times.
        var goAwayFrames = 10
        /// A client's SETTINGS hold a handful of entries, at the start and now and then after.
        var settingsEntries = 100
        var settingsEntriesPerRequest = 2
        var dataFrames = 1_000
        var dataFramesPerRequest = 10
        /// One more DATA frame for each this many bytes of DATA received.
        var dataBytesPerDataFrame = 1_024
        /// One more WINDOW_UPDATE for each this many bytes of DATA sent.
        var dataBytesPerWindowUpdate = 1_024
    }

    private let budget: Budget
    private var inbound = HTTP2FrameScanner(prefaceBytes: 24, maxHeaderTableSize: HTTP2FrameGuard.maxHeaderTableSize)
    private var outbound = HTTP2FrameScanner(prefaceBytes: 0, maxHeaderTableSize: nil)
    /// The start of a setting that did not fit in the last read, held until the rest arrives.
    private var held: ByteBuffer?
    private var requests = 0
    private var extensionFrames = 0
    private var windowUpdates = 0
    private var goAwayFrames = 0
    private var settingsEntries = 0
    private var dataFrames = 0
    private var dataBytesReceived = 0
    private var dataBytesSent = 0
    private var ended = false
    /// Whether the gateway has sent a GOAWAY without an error: the connection is ending, and what follows is no request.
    private var quiescing = false
    /// The last stream the gateway's latest errorless GOAWAY takes; streams the client opens after it are not taken.
    private var quiescedAfter: UInt32?
    /// The highest stream id the client has sent HEADERS on.
    private var lastOpened: UInt32 = 0
    /// Streams the client opened while the gateway's GOAWAY named no last stream yet (its first, while it waits for
    /// the client's PING acknowledgement): those past the last stream the next one names were not taken. As many as
    /// the refusal recorder records.
    private var openedWhileQuiescing: [UInt32] = []
    private static let openedWhileQuiescingLimit = 16

    init(budget: Budget = Budget()) {
        self.budget = budget
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !ended else { return }
        var buffer = unwrapInboundIn(data)
        if var earlier = held {
            earlier.writeBuffer(&buffer)
            buffer = earlier
            held = nil
        }
        let waiting = inbound.scan(&buffer) { event in
            guard case let .frame(type, length, stream) = event else { return }
            switch type {
            case HTTP2FrameScanner.headers:
                requests += 1
                // A stream the client opens past the gateway's GOAWAY, which NIOHTTP2 ignores unanswered.
                if let lastTaken = quiescedAfter, stream > lastOpened, stream % 2 == 1 {
                    if stream > lastTaken {
                        HTTP2RefusalRecorder.streamNotTaken(context, stream: stream)
                    } else if openedWhileQuiescing.count < Self.openedWhileQuiescingLimit {
                        // Under a GOAWAY that names no last stream yet; its PING's acknowledgement may come in this
                        // very read, before NIOHTTP2 reads this stream and ignores it.
                        openedWhileQuiescing.append(stream)
                    }
                }
                lastOpened = max(lastOpened, stream)
            case HTTP2FrameScanner.windowUpdate: windowUpdates += 1
            case HTTP2FrameScanner.goAway: goAwayFrames += 1
            case HTTP2FrameScanner.settings: settingsEntries += length / 6
            case HTTP2FrameScanner.data:
                dataFrames += 1
                dataBytesReceived += length
            case HTTP2FrameScanner.lastKnownType...: extensionFrames += 1
            default: break
            }
        }
        if let flood = flood() {
            ended = true
            HTTP2RefusalRecorder.connectionEnded(context.pipeline, detail: flood)
            context.close(promise: nil)
            return
        }
        if waiting > 0 {
            held = buffer.getSlice(at: buffer.writerIndex - waiting, length: waiting)
            buffer.moveWriterIndex(to: buffer.writerIndex - waiting)
        }
        if buffer.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(buffer)) }
    }

    /// What the client has sent beyond its budget, in words; nil while within it.
    private func flood() -> String? {
        if goAwayFrames > budget.goAwayFrames { return "a flood of GOAWAY frames (\(goAwayFrames))" }
        if settingsEntries > budget.settingsEntries + requests * budget.settingsEntriesPerRequest {
            return "a flood of SETTINGS entries (\(settingsEntries) for \(requests) requests)"
        }
        if dataFrames > budget.dataFrames + requests * budget.dataFramesPerRequest + dataBytesReceived / budget.dataBytesPerDataFrame {
            return "a flood of small DATA frames (\(dataFrames) carrying \(dataBytesReceived) bytes)"
        }
        if extensionFrames > budget.extensionFrames + requests * budget.extensionFramesPerRequest {
            return "a flood of extension frames (\(extensionFrames) for \(requests) requests)"
        }
        let windowUpdateBudget = budget.windowUpdates + requests * budget.windowUpdatesPerRequest + dataBytesSent / budget.dataBytesPerWindowUpdate
        if windowUpdates > windowUpdateBudget {
            return "a flood of WINDOW_UPDATE frames (\(windowUpdates) for \(requests) requests and \(dataBytesSent) bytes of DATA)"
        }
        return nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case var .byteBuffer(buffer) = unwrapOutboundIn(data) {
            _ = outbound.scan(&buffer) { event in
                switch event {
                case let .frame(type, length, _) where type == HTTP2FrameScanner.data:
                    dataBytesSent += length
                case let .goAway(lastStream, errorCode: 0):
                    quiescing = true
                    quiescedAfter = lastStream
                    for stream in openedWhileQuiescing where stream > lastStream { HTTP2RefusalRecorder.streamNotTaken(context, stream: stream) }
                    openedWhileQuiescing = []
                case let .goAway(_, errorCode):
                    // After the gateway's own GOAWAY (idle, shutting down), what the client sends is no request.
                    if quiescing {
                        let channel = context.channel
                        context.eventLoop.execute { channel.close(promise: nil) }
                    } else {
                        HTTP2RefusalRecorder.goAwaySent(context, errorCode: errorCode)
                    }
                default:
                    break
                }
            }
        }
        context.write(data, promise: promise)
    }
}

/// Frame boundaries in one direction of an HTTP/2 connection, found in its bytes as they pass (RFC 9113 §4.1): each
/// frame's type and length, and a GOAWAY's error code. Inbound, it also lowers a SETTINGS_HEADER_TABLE_SIZE above the
/// cap, in place.
struct HTTP2FrameScanner {
    static let data: UInt8 = 0x0
    static let headers: UInt8 = 0x1
    static let settings: UInt8 = 0x4
    static let goAway: UInt8 = 0x7
    static let windowUpdate: UInt8 = 0x8
    /// The first type RFC 9113 does not define (CONTINUATION is the last it does).
    static let lastKnownType: UInt8 = 0xa

    enum Event {
        case frame(type: UInt8, length: Int, stream: UInt32)
        case goAway(lastStream: UInt32, errorCode: UInt32)
    }

    private enum Phase {
        case preface(remaining: Int)
        case header
        case skipping(remaining: Int)
        case settings(remaining: Int)
        case goAway(remaining: Int)
    }

    private var phase: Phase
    /// A frame header, or a GOAWAY's first eight bytes, gathered across pieces.
    private var gathered: [UInt8] = []
    private let maxHeaderTableSize: UInt32?

    /// `prefaceBytes`: the client's connection preface to pass over first (24 inbound on a server, 0 outbound).
    /// `maxHeaderTableSize`: the cap on SETTINGS_HEADER_TABLE_SIZE, or nil to leave SETTINGS as they are.
    init(prefaceBytes: Int, maxHeaderTableSize: UInt32?) {
        phase = prefaceBytes > 0 ? .preface(remaining: prefaceBytes) : .header
        self.maxHeaderTableSize = maxHeaderTableSize
        gathered.reserveCapacity(9)
    }

    /// Scans `buffer`'s readable bytes, calling `event` for each frame header and GOAWAY. Returns how many bytes at
    /// the end must wait for the next piece: the start of a setting (six bytes) that did not fit, when SETTINGS are
    /// capped; 0 otherwise.
    mutating func scan(_ buffer: inout ByteBuffer, _ event: (Event) -> Void) -> Int {
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        while index < end {
            switch phase {
            case let .preface(remaining):
                let count = min(remaining, end - index)
                index += count
                phase = remaining == count ? .header : .preface(remaining: remaining - count)
            case .header:
                let count = min(9 - gathered.count, end - index)
                gathered += buffer.getBytes(at: index, length: count) ?? []
                index += count
                guard gathered.count == 9 else { continue }
                let length = Int(gathered[0]) << 16 | Int(gathered[1]) << 8 | Int(gathered[2])
                let (type, flags) = (gathered[3], gathered[4])
                let stream = Self.integer(gathered[5...8]) & 0x7fff_ffff
                gathered.removeAll(keepingCapacity: true)
                event(.frame(type: type, length: length, stream: stream))
                if type == Self.settings, flags & 0x1 == 0, maxHeaderTableSize != nil, length > 0 {
                    phase = .settings(remaining: length)
                } else if type == Self.goAway, length > 0 {
                    phase = .goAway(remaining: length)
                } else {
                    phase = length > 0 ? .skipping(remaining: length) : .header
                }
            case let .skipping(remaining):
                let count = min(remaining, end - index)
                index += count
                phase = remaining == count ? .header : .skipping(remaining: remaining - count)
            case let .settings(remaining):
                // A length that is no multiple of six is NIOHTTP2's to refuse: its last bytes pass as they are.
                guard remaining >= 6 else {
                    phase = .skipping(remaining: remaining)
                    continue
                }
                guard end - index >= 6 else { return end - index }
                if let cap = maxHeaderTableSize, buffer.getInteger(at: index, as: UInt16.self) == 0x1,
                   let value = buffer.getInteger(at: index + 2, as: UInt32.self), value > cap {
                    buffer.setInteger(cap, at: index + 2)
                }
                index += 6
                phase = remaining == 6 ? .header : .settings(remaining: remaining - 6)
            case let .goAway(remaining):
                // The last stream id (four bytes), then the error code (four).
                let count = min(8 - gathered.count, remaining, end - index)
                gathered += buffer.getBytes(at: index, length: count) ?? []
                index += count
                let left = remaining - count
                if gathered.count == 8 {
                    event(.goAway(lastStream: Self.integer(gathered[0...3]) & 0x7fff_ffff, errorCode: Self.integer(gathered[4...7])))
                    gathered.removeAll(keepingCapacity: true)
                    phase = left > 0 ? .skipping(remaining: left) : .header
                } else if left == 0 {
                    gathered.removeAll(keepingCapacity: true)
                    phase = .header
                } else {
                    phase = .goAway(remaining: left)
                }
            }
        }
        return 0
    }

    /// Four bytes in network order.
    private static func integer(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }
}
