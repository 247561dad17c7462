import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import UnixSignals
import WarrantGateCore
import WarrantGateStore

/// Where the forwarder sends: a RELP listener (rsyslog's `imrelp`), over TCP or TLS.
public struct SyslogDestination: Sendable {
    public let host: String
    public let port: Int
    let tls: TLSConfiguration?

    /// The bytes of a host name, an IPv4 address, or an IPv6 one with its zone.
    private static let hostBytes = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:%".utf8)

    /// Parses `HOST:PORT` or `[IPv6]:PORT`; with `tls`, loads its files' contents (TLS 1.2 or later, the receiver's
    /// certificate checked against `tls.ca` or else the system's trust store, and against HOST).
    public init(parsing text: String, tls files: SyslogTLSFiles? = nil) throws {
        let host: Substring
        let port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") {
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        } else {
            throw ForwardingError("'\(text)' is not HOST:PORT (write an IPv6 address as [ADDRESS]:PORT)")
        }
        guard !host.isEmpty, let number = Int(port), (1...65535).contains(number) else {
            throw ForwardingError("'\(FreeText.escaped(text))' is not HOST:PORT with a port from 1 to 65535")
        }
        // A host name, an IPv4 address or an IPv6 one: it names the cursor file and its lines, so no '/', no space.
        guard host.utf8.allSatisfy(Self.hostBytes.contains) else {
            throw ForwardingError("'\(FreeText.escaped(text))' does not name a host: letters, digits, '-', '.', '_', or an IPv6 address in brackets")
        }
        self.host = String(host)
        self.port = number
        self.tls = try files.map { try $0.configuration() }
    }

    /// The name its cursor file records.
    public var name: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether the host is a loopback address, written as one (127.0.0.0/8 or ::1): a connection in the clear to it
    /// never leaves the machine. A name, `localhost` included, is not: what it resolves to is not this check's to know.
    public var isLoopbackAddress: Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        return withUnsafeBytes(of: &v6) { $0.elementsEqual(repeatElement(0, count: 15) + [1]) }
    }
}

/// The PEM files of a TLS connection to the receiver, as read: the connection is configured from these bytes, and
/// nothing opens the files again (run through sudo, the CLI reads them as the person who ran it may read them).
public struct SyslogTLSFiles: Sendable {
    /// The CA that signed the receiver's certificate; nil for the system's trust store.
    public var ca: [UInt8]?
    /// This forwarder's certificate and key, for a receiver that asks for one; both or neither.
    public var certificate: [UInt8]?
    public var key: [UInt8]?

    public init(ca: [UInt8]?, certificate: [UInt8]?, key: [UInt8]?) {
        self.ca = ca
        self.certificate = certificate
        self.key = key
    }

    func configuration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        do {
            if let ca { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca)) }
            switch (certificate, key) {
            case (let certificate?, let key?):
                configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            case (nil, nil): break
            default: throw ForwardingError("a client certificate and its key go together")
            }
        } catch let error as ForwardingError {
            throw error
        } catch {
            throw ForwardingError("cannot load the TLS files: \(error)")
        }
        return configuration
    }
}

/// Why forwarding cannot go on.
public struct ForwardingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How the forwarder paces itself.
public struct SyslogForwarderSettings: Sendable {
    /// The host name written into each message's header.
    public var hostname: String
    /// Frames sent before the oldest must be acknowledged (librelp's own default window is 128): the most. A session
    /// closed for a late answer halves the window (to at most half of what it delivered), and each window's worth of
    /// frames answered in time widens it by one again, so that a receiver slower than a window a deadline is sent
    /// no more than it can answer in time, rather than reconnected to every deadline.
    public var window = 128
    /// How often an idle forwarder looks for new entries.
    public var pollInterval: Duration = .milliseconds(500)
    /// The wait before the first reconnection; it doubles after each failure up to `maximumReconnectDelay`.
    public var reconnectDelay: Duration = .milliseconds(500)
    public var maximumReconnectDelay: Duration = .seconds(30)
    /// With an end to reach (`--once`): the sessions in a row that may fail without delivering anything before the
    /// forwarder gives up, so that a run from cron or a timer ends, and fails, while the receiver is down. Without
    /// one, each run of this many such sessions is logged as an error, which names the entries the receiver lacks: a
    /// receiver that refuses one entry for good (one too large for it, say) holds back every entry after it.
    public var attemptsWithoutProgress = 5
    /// How long the server may leave a frame unanswered before the session is closed and opened again.
    public var answerDeadline: Duration = .seconds(30)

    public init(hostname: String) {
        self.hostname = hostname
    }
}

/// Sends every entry of the log, in sequence order, to a SIEM over RELP, and remembers how far the SIEM has
/// acknowledged in a cursor file.
///
/// Delivery is at least once and never lossy: an entry counts as delivered only when the server has answered its
/// frame with `200`, the cursor moves only over delivered entries, and after an outage, a server restart or a
/// forwarder restart, sending resumes at the entry after the cursor. What the server had received but not yet
/// acknowledged (at most one window), or acknowledged since the cursor's last save, can arrive twice: every message
/// carries its `seq`, by which a receiver drops duplicates. Nothing is buffered but the window, so nothing overflows:
/// a SIEM that is away only makes the forwarder fall behind the log, which keeps every entry.
public final class SyslogForwarder: Sendable {
    private let store: Store
    private let destination: SyslogDestination
    private let cursorPath: String
    private let settings: SyslogForwarderSettings
    private let logger: Logger

    public init(store: Store, destination: SyslogDestination, cursorPath: String, settings: SyslogForwarderSettings, logger: Logger) {
        self.store = store
        self.destination = destination
        self.cursorPath = cursorPath
        self.settings = settings
        self.logger = logger
    }

    /// Forwards the entries after the cursor (or after `start` if there is no cursor file yet). With `through`, returns
    /// once every entry up to that sequence number is acknowledged; else runs until the task is cancelled. Returns the
    /// cursor, saved. Throws what retrying cannot mend (a cursor file for another destination, a cursor the log no
    /// longer matches (``Store/check(_:)``), archived entries) and, with `through`, a receiver that took nothing in
    /// ``SyslogForwarderSettings/attemptsWithoutProgress`` sessions in a row.
    @discardableResult
    public func run(start: Int64, through: Int64? = nil) async throws -> ForwardCursor {
        let (store, path, name) = (store, cursorPath, destination.name)
        let (cursor, fresh) = try await BlockingWork.run {
            guard let saved = try ForwardCursor.load(path: path, destination: name) else { return (try store.cursor(destination: name, seq: start), true) }
            try store.check(saved)
            return (saved, false)
        }
        if !fresh && cursor.seq > 0 && cursor.leaf == nil {
            logger.warning("the cursor \(path) names no entry's hash (an older version wrote it): whether the log was rolled back or replaced under it cannot be checked this once")
        }
        var progress = Progress(acknowledged: cursor.seq, leaf: cursor.leaf)
        // A new cursor is saved at once: `--start-at end` started again before anything was acknowledged would
        // otherwise start at the log's new end, and skip what was logged in between.
        if fresh {
            progress.unsaved = 1
            try await save(&progress)
        }
        logger.notice("forwarding the log to \(name) over RELP\(destination.tls == nil ? "" : " with TLS") after seq \(progress.acknowledged)")
        var delay = settings.reconnectDelay
        var failuresWithoutProgress = 0
        /// When the current run of sessions that delivered nothing began.
        var stalledSince = ContinuousClock.now
        var window = SendingWindow(widest: settings.window)
        while !Task.isCancelled {
            if let through, progress.acknowledged >= through { break }
            let before = progress.acknowledged
            do {
                let channel = try await connect()
                try await session(channel, progress: &progress, window: &window, through: through)
            } catch let error as TailGap {
                try await save(&progress)
                throw ForwardingError("cannot forward seq \(error.needed): \(error) (to skip them, give a new --state file with --start-at \(error.firstHeld))")
            } catch let error as TailRolledBack {
                try await save(&progress)
                throw ForwardingError("""
                    stopped at seq \(progress.acknowledged): \(error). Check what \(name) holds, then forward with a new --state file and \
                    --start-at the first entry it lacks
                    """)
            } catch {
                try await save(&progress)
                if Task.isCancelled { break }
                // Only a session that delivered something starts the backoff over: a receiver that accepts and then
                // fails every session is retried ever more slowly.
                if progress.acknowledged > before {
                    delay = settings.reconnectDelay
                    failuresWithoutProgress = 0
                } else {
                    if failuresWithoutProgress == 0 { stalledSince = .now }
                    failuresWithoutProgress += 1
                }
                if through != nil && failuresWithoutProgress >= settings.attemptsWithoutProgress {
                    throw ForwardingError("\(name) took nothing in \(failuresWithoutProgress) attempts in a row (the last: \(error)); stopped at seq \(progress.acknowledged), cursor saved")
                }
                if failuresWithoutProgress > 0 && failuresWithoutProgress % max(1, settings.attemptsWithoutProgress) == 0 {
                    await reportStall(progress.acknowledged, since: stalledSince, attempts: failuresWithoutProgress, last: error)
                }
                var narrowed = ""
                if error is RELPAnswerLate, window.narrow(delivered: Int(progress.acknowledged - before)) {
                    narrowed = "; sending at most \(window.frames) frames ahead"
                }
                logger.warning("forwarding to \(name) stopped at seq \(progress.acknowledged): \(error); retrying in \(delay)\(narrowed)")
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, settings.maximumReconnectDelay)
            }
        }
        try await save(&progress)
        return ForwardCursor(destination: name, seq: progress.acknowledged, leaf: progress.leaf)
    }

    /// Logs as an error that the receiver has taken nothing in `attempts` sessions in a row, begun at `stalledSince`,
    /// with how many entries after `acknowledged` it lacks: the alert for a feed that has stopped, whatever the cause.
    /// Nothing when no entry waits (a receiver, or a balancer before it, closing idle sessions).
    private func reportStall(_ acknowledged: Int64, since stalledSince: ContinuousClock.Instant, attempts: Int, last error: any Error) async {
        let store = store
        let size = try? await BlockingWork.run { try store.logSize() }
        let waiting = size.map { Int64(clamping: $0) - acknowledged }
        if let waiting, waiting <= 0 { return }
        let seconds = (ContinuousClock.now - stalledSince).components.seconds
        logger.error("""
            \(destination.name) has taken nothing in \(attempts) attempts in a row over \(seconds < 120 ? "\(seconds) s" : "\(seconds / 60) min") \
            (the last: \(error)): \(waiting.map { "\($0) entries" } ?? "the entries") after seq \(acknowledged) wait for it, kept in the \
            log. If it refuses one entry each time, see the receiver's own log
            """)
    }

    /// ``run(start:through:)`` until it returns or SIGTERM or SIGINT arrives; then the cursor is saved and returned.
    public func runUntilSignalled(start: Int64, through: Int64?) async throws -> ForwardCursor {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        return try await withThrowingTaskGroup(of: ForwardCursor?.self) { group in
            group.addTask { try await self.run(start: start, through: through) }
            group.addTask {
                for await _ in signals { break }
                return nil
            }
            while let result = try await group.next() {
                if let cursor = result {
                    group.cancelAll()
                    return cursor
                }
                group.cancelAll()  // a signal: the forwarder saves its cursor and returns it next
            }
            throw CancellationError()
        }
    }

    /// How many frames a session keeps in flight: between 1 and `widest`, narrowed by late answers, widened by timely
    /// ones (``SyslogForwarderSettings/window``).
    struct SendingWindow {
        let widest: Int
        private(set) var frames: Int
        /// Frames answered in time since the window last widened.
        private var answered = 0

        init(widest: Int) {
            self.widest = max(1, widest)
            frames = self.widest
        }

        /// A session that `delivered` frames ended on a late answer: half the window, and at most half of what was
        /// delivered in time. Returns whether the window narrowed.
        mutating func narrow(delivered: Int) -> Bool {
            let before = frames
            frames = max(1, min(frames / 2, delivered / 2))
            answered = 0
            return frames < before
        }

        /// A frame was answered in time: a window's worth widens it by one.
        mutating func answeredInTime() {
            guard frames < widest else { return }
            answered += 1
            if answered >= frames {
                frames += 1
                answered = 0
            }
        }
    }

    /// How far the server has acknowledged, and what of that the cursor file does not hold yet.
    private struct Progress {
        var acknowledged: Int64
        /// The leaf hash of entry `acknowledged`.
        var leaf: Merkle.Hash?
        var unsaved = 0
        var savedAt = ContinuousClock.now
    }

    /// Saves the cursor if it moved. Not cancellable: the save after SIGTERM is the one that must land, and the
    /// thread pool refuses work for a cancelled task.
    private func save(_ progress: inout Progress) async throws {
        guard progress.unsaved > 0 else { return }
        let cursor = ForwardCursor(destination: destination.name, seq: progress.acknowledged, leaf: progress.leaf)
        let path = cursorPath
        try await Task.detached { try await BlockingWork.run { try cursor.save(path: path) } }.value
        progress.unsaved = 0
        progress.savedAt = .now
    }

    private func connect() async throws -> NIOAsyncChannel<RELPEvent, RELPFrame> {
        let tlsContext = try destination.tls.map { try NIOSSLContext(configuration: $0) }
        let serverName = destination.host.isIPAddress ? nil : destination.host
        let (pollInterval, answerDeadline) = (TimeAmount(settings.pollInterval), TimeAmount(settings.answerDeadline))
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: destination.host, port: destination.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tlsContext { try pipeline.addHandler(try NIOSSLClientHandler(context: tlsContext, serverHostname: serverName)) }
                    try pipeline.addHandler(ByteToMessageHandler(RELPResponseDecoder()))
                    try pipeline.addHandler(MessageToByteHandler(RELPFrameEncoder()))
                    try pipeline.addHandler(RELPSessionClock(pollInterval: pollInterval, answerDeadline: answerDeadline))
                    return try NIOAsyncChannel<RELPEvent, RELPFrame>(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// One RELP session: open, then keep up to a window of entries in flight, moving the cursor over each answered
    /// one, and look for new entries at every answer and every tick; close once `through` is acknowledged. Returns
    /// normally only then; any failure throws.
    private func session(
        _ channel: NIOAsyncChannel<RELPEvent, RELPFrame>, progress: inout Progress, window: inout SendingWindow, through: Int64?
    ) async throws {
        try await channel.executeThenClose { inbound, outbound in
            var events = inbound.makeAsyncIterator()
            var transactions = TransactionNumbers()
            let opening = transactions.next()
            try await outbound.write(.open(txnr: opening))
            let offer = try await Self.answer(to: opening, from: &events)
            guard offer.status == 200 else { throw ForwardingError("the server refused the RELP session: \(offer.text)") }

            var inFlight = CircularBuffer<(txnr: Int, seq: Int64, leaf: Merkle.Hash)>(initialCapacity: window.frames)
            var (sent, sentLeaf) = (progress.acknowledged, progress.leaf)
            while true {
                if inFlight.count <= window.frames / 2 {
                    let (store, after, leaf, limit) = (store, sent, sentLeaf, window.frames - inFlight.count)
                    let entries = try await BlockingWork.run { try store.logEntries(after: after, leaf: leaf, limit: limit) }
                    if let last = entries.last {
                        let frames = entries.map { entry in
                            let txnr = transactions.next()
                            inFlight.append((txnr, entry.seq, entry.leaf))
                            let record = SyslogRecord(seq: entry.seq, kind: entry.kind, time: entry.time, entry: entry.entry)
                            return RELPFrame.syslog(txnr: txnr, message: record.message(hostname: settings.hostname))
                        }
                        try await outbound.write(contentsOf: frames)
                        (sent, sentLeaf) = (last.seq, last.leaf)
                    }
                }
                if inFlight.isEmpty {
                    try await save(&progress)
                    if let through, progress.acknowledged >= through {
                        let closing = transactions.next()
                        try await outbound.write(.close(txnr: closing))
                        _ = try await Self.answer(to: closing, from: &events)
                        return
                    }
                }
                guard case .response(let response) = try await Self.next(from: &events) else { continue }
                guard let oldest = inFlight.first, response.txnr == oldest.txnr else { throw Self.unexpected(response, next: inFlight.first?.txnr) }
                guard response.status == 200 else { throw ForwardingError("the server refused seq \(oldest.seq): \(response.text)") }
                inFlight.removeFirst()
                window.answeredInTime()
                progress.acknowledged = oldest.seq
                progress.leaf = oldest.leaf
                progress.unsaved += 1
                if progress.unsaved >= 4096 || ContinuousClock.now - progress.savedAt >= .seconds(1) { try await save(&progress) }
            }
        }
    }

    /// The server's answer to transaction `txnr` (RELP answers in order), skipping ticks.
    private static func answer(to txnr: Int, from events: inout NIOAsyncChannelInboundStream<RELPEvent>.AsyncIterator) async throws -> RELPResponse {
        while true {
            guard case .response(let response) = try await next(from: &events) else { continue }
            guard response.txnr == txnr else { throw unexpected(response, next: txnr) }
            return response
        }
    }

    /// The next event; throws when the connection or the session has ended.
    private static func next(from events: inout NIOAsyncChannelInboundStream<RELPEvent>.AsyncIterator) async throws -> RELPEvent {
        guard let event = try await events.next() else { throw ForwardingError("the server closed the connection") }
        if case .response(let response) = event {
            if response.command == "serverclose" { throw ForwardingError("the server closed the session") }
            guard response.command == "rsp" else { throw ForwardingError("the server sent \(response.command), not rsp") }
        }
        return event
    }

    private static func unexpected(_ response: RELPResponse, next txnr: Int?) -> ForwardingError {
        ForwardingError("the server answered transaction \(response.txnr) while \(txnr.map(String.init) ?? "none") was awaited")
    }
}

/// RELP transaction numbers: 1, 2, … 999,999,999, then 1 again.
private struct TransactionNumbers {
    private var last = 0

    mutating func next() -> Int {
        last = last == RELPFrame.maximumTxnr ? 1 : last + 1
        return last
    }
}

extension String {
    /// Whether this is a literal IPv4 or IPv6 address (TLS then checks the certificate's IP names, with no SNI).
    fileprivate var isIPAddress: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}
