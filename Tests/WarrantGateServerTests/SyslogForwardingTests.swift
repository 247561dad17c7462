import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
import WarrantGateCore
import WarrantGateDevPKI
import WarrantGateTestSupport
import WarrantGateStore

@testable import WarrantGateServer

/// The forwarder against a real rsyslog (imrelp) on loopback, started by the test.
@Suite("Forwarding the log to a SIEM over RELP", .enabled(if: Rsyslog.isEnabled), .serialized)
struct SyslogForwardingTests {
    @Test("every entry arrives in order through an rsyslog restart mid-stream, and a new forwarder resends nothing before its cursor")
    func restartMidStream() async throws {
        let site = try ForwardingSite()
        defer { site.remove() }
        let rsyslog = try await blocking { try Rsyslog() }
        defer { rsyslog.stop() }
        let log = try site.store.decisionLog()
        let writer = Task { await log.run() }
        defer { log.close() }

        try await Self.append(log, from: 1, count: 1500)
        let forwarder = site.forwarder(port: rsyslog.port)
        let forwarding = Task { try await forwarder.run(start: 0) }
        try await Self.waitUntil("rsyslog has 400 entries") { rsyslog.lines().count >= 400 }
        try await blocking { try rsyslog.halt() }
        try await Self.append(log, from: 1501, count: 500)  // written while the SIEM is away
        try await Self.pause(.milliseconds(300))
        try await blocking { try rsyslog.start() }
        try await Self.append(log, from: 2001, count: 1000)
        let total = try site.store.lastSeq()
        try await Self.waitUntil("rsyslog has every seq through \(total)") { Set(rsyslog.sequenceNumbers().compactMap { $0 }).count == Int(total) }
        // rsyslog writes before it answers: the cursor reaches the end once the answers are in, and is saved when idle.
        let destination = "127.0.0.1:\(rsyslog.port)"
        try await Self.waitUntil("the cursor is at \(total)") { (try? ForwardCursor.load(path: site.cursorPath, destination: destination))??.seq == total }
        forwarding.cancel()
        let cursor = try await forwarding.value
        #expect(cursor.seq == total)
        #expect(try ForwardCursor.load(path: site.cursorPath, destination: destination) == cursor)

        let received = rsyslog.sequenceNumbers()
        #expect(received.allSatisfy { $0 != nil }, "a line without seq")
        let seqs = received.compactMap { $0 }
        Self.expectInOrderWithResendsOnly(seqs, window: SyslogForwarderSettings(hostname: "").window, total: total)
        // Each line parsed as RFC 5424: MSGID is the kind, the MSG is the entry's JSON.
        for line in rsyslog.lines().prefix(50) {
            #expect(line.hasPrefix("decision [warrantgate@32473 seq=\"") || line.hasPrefix("outcome [warrantgate@32473 seq=\""), "\(line)")
            #expect(line.hasSuffix("}"), "\(line)")
        }

        // A new forwarder resumes after the cursor: the entries appended since arrive, and nothing before them again.
        let before = seqs.count
        try await Self.append(log, from: 3001, count: 10)
        let last = try site.store.lastSeq()
        let resumed = try await site.forwarder(port: rsyslog.port).run(start: 0, through: last)
        #expect(resumed.seq == last)
        #expect(Array(rsyslog.sequenceNumbers().compactMap { $0 }.dropFirst(before)) == Array((total + 1)...last))
        log.close()
        await writer.value
    }

    @Test("cancelled mid-stream (as SIGTERM does), the forwarder still saves its cursor, and only over what was answered")
    func cancelledMidStream() async throws {
        let site = try ForwardingSite()
        defer { site.remove() }
        let rsyslog = try await blocking { try Rsyslog() }
        defer { rsyslog.stop() }
        try await site.store.appendDecisions(1...2000)
        let forwarding = Task { try await site.forwarder(port: rsyslog.port).run(start: 0) }
        try await Self.waitUntil("rsyslog has 300 entries") { rsyslog.lines().count >= 300 }
        forwarding.cancel()
        let cursor = try await forwarding.value
        #expect(cursor.seq > 0)
        #expect(try ForwardCursor.load(path: site.cursorPath, destination: "127.0.0.1:\(rsyslog.port)") == cursor)
        #expect(Array(rsyslog.sequenceNumbers().compactMap { $0 }.prefix(Int(cursor.seq))) == Array(1...cursor.seq))
    }

    @Test("over TLS: the receiver's certificate must chain to the CA given; a stranger's CA delivers nothing")
    func tls() async throws {
        let site = try ForwardingSite()
        defer { site.remove() }
        let pki = DevPKIDirectory(directory: site.directory.appendingPathComponent("pki"))
        _ = try pki.ensure(clients: [])
        let rsyslog = try await blocking {
            try Rsyslog(tls: .init(ca: pki.caPath, certificate: pki.serverCertificatePath, key: pki.serverKeyPath))
        }
        defer { rsyslog.stop() }
        try await site.store.appendDecisions(1...20)

        let stranger = DevPKIDirectory(directory: site.directory.appendingPathComponent("stranger"))
        _ = try stranger.ensure(clients: [])
        let refused = site.forwarder(destination: try SyslogDestination(
            parsing: "localhost:\(rsyslog.port)", tls: SyslogTLSFiles(ca: Array(try Data(contentsOf: URL(fileURLWithPath: stranger.caPath))), certificate: nil, key: nil)
        ))
        let attempt = Task { try await refused.run(start: 0) }
        try await Self.pause(.seconds(1))
        attempt.cancel()
        #expect(try await attempt.value.seq == 0)
        #expect(rsyslog.lines().isEmpty)

        let trusted = site.forwarder(destination: try SyslogDestination(
            parsing: "localhost:\(rsyslog.port)", tls: SyslogTLSFiles(ca: Array(try Data(contentsOf: URL(fileURLWithPath: pki.caPath))), certificate: nil, key: nil)
        ))
        #expect(try await trusted.run(start: 0, through: 20).seq == 20)
        #expect(rsyslog.sequenceNumbers() == (1...20).map { $0 })
    }

    /// An attacker's pass: the poll tick reached the forwarder only with the receiver's next answer, so a forwarder
    /// that had caught up (rsyslog then sends nothing) never sent another entry until its session broke.
    @Test("a forwarder that has caught up sends what is appended later, while the receiver says nothing")
    func caughtUp() async throws {
        let site = try ForwardingSite()
        defer { site.remove() }
        let rsyslog = try await blocking { try Rsyslog() }
        defer { rsyslog.stop() }
        try await site.store.appendDecisions(1...10)
        let forwarding = Task { try await site.forwarder(port: rsyslog.port).run(start: 0) }
        try await Self.waitUntil("rsyslog has 10 entries") { Set(rsyslog.sequenceNumbers().compactMap { $0 }).count == 10 }
        try await Self.pause(.seconds(2))
        try await site.store.appendDecisions(11...20)
        try await Self.waitUntil("rsyslog has the 10 appended later", timeout: .seconds(20)) {
            Set(rsyslog.sequenceNumbers().compactMap { $0 }).count == 20
        }
        forwarding.cancel()
        _ = try await forwarding.value
    }

    @Test("a receiver that accepts and never answers holds no entry: the session is closed at the deadline and opened again")
    func silentReceiver() async throws {
        let site = try ForwardingSite()
        defer { site.remove() }
        try await site.store.appendDecisions(1...5)
        let silent = try await SilentReceiver.start()
        let forwarder = site.forwarder(port: silent.port, answerDeadline: .milliseconds(300))
        let attempt = Task { try await forwarder.run(start: 0) }
        try await Self.waitUntil("three sessions") { silent.connections.value >= 3 }
        attempt.cancel()
        #expect(try await attempt.value.seq == 0)
        await silent.server.close()
    }

    /// An attacker's pass: the deadline ran from the last answer, so a receiver answering every 29 s kept the session
    /// "healthy" at an entry every 29 s, and nothing was logged.
    @Test("a receiver answering each frame just inside the deadline has the session closed: each frame's deadline runs from its sending")
    func drippingReceiver() async throws {
        let site = try ForwardingSite()
        defer { site.remove() }
        try await site.store.appendDecisions(1...3)
        let connections = ConnectionCount()
        let server = try await LoopbackTCPServer { channel in
            connections.increment()
            try channel.pipeline.syncOperations.addHandlers([ByteToMessageHandler(RELPResponseDecoder()), DrippingReceiver(interval: .seconds(1))])
        }
        let forwarder = site.forwarder(port: server.port, answerDeadline: .milliseconds(1800))
        // The three frames go out together: the second is answered two intervals after it was sent, past the deadline.
        #expect(try await forwarder.run(start: 0, through: 3).seq == 3)
        #expect(connections.value >= 2, "the session outlived a frame left unanswered past the deadline")
        await server.close()
    }

    /// The last stop's note: with each frame's deadline running from its sending, a receiver slower than a window a
    /// deadline (here 20 answers a second against a 1 s deadline and 128 frames sent at once) had its session closed
    /// at every deadline, about 20 entries a session. The window now narrows to what the receiver answers in time.
    @Test("a receiver slower than a window a deadline gets a narrower window, not a reconnection every deadline")
    func slowReceiverNarrowsTheWindow() async throws {
        let site = try ForwardingSite()
        defer { site.remove() }
        try await site.store.appendDecisions(1...100)
        let connections = ConnectionCount()
        let server = try await LoopbackTCPServer { channel in
            connections.increment()
            try channel.pipeline.syncOperations.addHandlers([ByteToMessageHandler(RELPResponseDecoder()), DrippingReceiver(interval: .milliseconds(50))])
        }
        let forwarder = site.forwarder(port: server.port, answerDeadline: .seconds(1))
        #expect(try await forwarder.run(start: 0, through: 100).seq == 100)
        // The first session is closed at its first late answer; the next, at a window of about 10, delivers the rest.
        #expect(connections.value >= 2 && connections.value <= 3, "\(connections.value) sessions for 100 entries")
        await server.close()
    }

    @Test("entries archived before they were forwarded stop the reader with the range named, instead of a silent gap")
    func archivedGap() async throws {
        let site = try ForwardingSite()
        defer { site.remove() }
        try await site.store.appendDecisions(1...4)
        let key = LogSigningKey(name: "county.example/warrant-gate")
        _ = try site.store.checkpointer(key: key, lastSigned: nil).sign(always: true)
        let archive = site.directory.appendingPathComponent("old.archive").path
        #expect(try site.store.archive(before: .distantFuture, key: key, path: archive, operator: "records-officer") == 4)
        // The archive's own admin record is entry 5.
        #expect(throws: TailGap(needed: 1, firstHeld: 5)) { try site.store.logEntries(after: 0, limit: 10) }
        try await site.store.appendDecisions(5...6)
        #expect(throws: TailGap(needed: 3, firstHeld: 5)) { try site.store.logEntries(after: 2, limit: 10) }
        #expect(try site.store.logEntries(after: 4, limit: 10).map(\.kind) == ["admin", "decision", "decision"])
        #expect(try site.store.lastSeq() == 7)
    }

    // MARK: - Helpers

    /// Appends decisions `from`…`from + count - 1`, each denied or with an outcome, in batches of 50.
    static func append(_ log: any DecisionLogWriter, from: Int, count: Int) async throws {
        for batch in stride(from: from, to: from + count, by: 50) {
            try await log.append((batch..<min(batch + 50, from + count)).map(ForwardingSite.entry))
        }
    }

    /// Checks that `seqs` holds 1…`total`, each first seen in order, and that anything seen twice was resent from
    /// within one window of the highest seq seen before it (a restart's unacknowledged frames).
    static func expectInOrderWithResendsOnly(_ seqs: [Int64], window: Int, total: Int64) {
        var highest: Int64 = 0
        var resent = 0
        for seq in seqs {
            if seq == highest + 1 {
                highest = seq
            } else {
                #expect(seq <= highest && seq > highest - Int64(window), "seq \(seq) after \(highest)")
                resent += 1
            }
        }
        #expect(highest == total)
        #expect(resent <= window)
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw ClusterError("timed out waiting until \(what)") }
            try await pause(.milliseconds(50))
        }
    }

    static func pause(_ duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}

/// The attacker's F5: forward through seq 8, restore a size-3 backup with --allow-rollback, append 5 entries: the
/// cursor held only `seq 8`, and the forwarder took the new entries 4…8 for ones already sent and skipped them.
@Suite("Forward cursors name the entry they stopped at")
struct ForwardCursorTests {
    private static let destination = "127.0.0.1:9"

    /// Runs the forwarder to `through` (the cursor's own seq: it connects nowhere) and returns its error's text.
    private func refusal(_ site: ForwardingSite, through: Int64) async -> String? {
        do {
            _ = try await site.forwarder(destination: try SyslogDestination(parsing: Self.destination)).run(start: 0, through: through)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// An attacker's pass: `--start-at end` with the receiver down saved no cursor before its first acknowledgement,
    /// so started again it began at the log's new end and skipped what was logged in between.
    @Test("a new cursor is saved as forwarding starts, before anything is acknowledged")
    func freshCursorSaved() async throws {
        let site = try ForwardingSite()
        defer { site.remove() }
        try await site.store.appendDecisions(1...5)
        let forwarding = Task { try await site.forwarder(destination: try SyslogDestination(parsing: Self.destination)).run(start: 5) }
        try await SyslogForwardingTests.waitUntil("the cursor is saved") {
            (try? ForwardCursor.load(path: site.cursorPath, destination: Self.destination))??.seq == 5
        }
        forwarding.cancel()
        #expect(try await forwarding.value.seq == 5)
        #expect(try ForwardCursor.load(path: site.cursorPath, destination: Self.destination)?.leaf != nil)
    }

    /// Forwards `site`'s log after `start` to a port nothing listens on, until cancelled, with what it logs kept.
    private static func forwardNowhere(_ site: ForwardingSite, start: Int64) -> (Task<ForwardCursor, any Error>, LoggedErrors) {
        let errors = LoggedErrors()
        let logger = Logger(label: "test") { _ in LoggedErrors.Handler(errors: errors) }
        let forwarding = Task { try await site.forwarder(destination: try SyslogDestination(parsing: destination), logger: logger).run(start: start) }
        return (forwarding, errors)
    }

    /// An attacker's pass: a receiver that refused one entry for good held back every entry after it, and the
    /// forwarder said so only in warnings, among those of every passing outage.
    @Test("a receiver that takes nothing for five sessions in a row is an error naming the entries that wait")
    func stallIsAnError() async throws {
        let site = try ForwardingSite()
        defer { site.remove() }
        try await site.store.appendDecisions(1...7)
        let (forwarding, errors) = Self.forwardNowhere(site, start: 2)
        defer { forwarding.cancel() }
        try await SyslogForwardingTests.waitUntil("an error is logged", timeout: .seconds(30)) { !errors.messages.isEmpty }
        let message = try #require(errors.messages.first)
        #expect(message.contains("\(Self.destination) has taken nothing in 5 attempts in a row over"), "\(message)")
        #expect(message.contains("5 entries after seq 2 wait for it, kept in the log"), "\(message)")
    }

    /// A review's pass: a receiver (or a balancer before it) that closes idle sessions, with nothing to send, would
    /// have raised the same error every fifth close.
    @Test("sessions that fail while no entry waits are no error")
    func idleFailuresAreNoError() async throws {
        let site = try ForwardingSite()
        defer { site.remove() }
        try await site.store.appendDecisions(1...3)
        let (forwarding, errors) = Self.forwardNowhere(site, start: 3)
        defer { forwarding.cancel() }
        try await SyslogForwardingTests.waitUntil("six sessions failed", timeout: .seconds(30)) { errors.warnings >= 6 }
        #expect(errors.messages.isEmpty, "\(errors.messages)")
    }

    @Test("a log shorter than the cursor, or another entry at its seq, stops the forwarder naming both; an older cursor is read")
    func rolledBack() async throws {
        let sent = try ForwardingSite()
        defer { sent.remove() }
        try await sent.store.appendDecisions(1...8)
        let cursor = try sent.store.cursor(destination: Self.destination, seq: 8)
        #expect(cursor.leaf != nil)
        try cursor.save(path: sent.cursorPath)
        #expect(try ForwardCursor.load(path: sent.cursorPath, destination: Self.destination) == cursor)
        #expect(await refusal(sent, through: 8) == nil, "the log the cursor was taken from passes")

        // The log as restored from a backup of 3 entries, then as written again past the cursor.
        let restored = try ForwardingSite()
        defer { restored.remove() }
        try await restored.store.appendDecisions(1...3)
        try cursor.save(path: restored.cursorPath)
        let shorter = try #require(await refusal(restored, through: 8))
        #expect(shorter.contains("acknowledged entries through seq 8, but the log has only 3"), "\(shorter)")
        try await restored.store.appendDecisions(104...108)
        let other = try #require(await refusal(restored, through: 8))
        let held = try #require(try restored.store.cursor(destination: Self.destination, seq: 8).leaf)
        #expect(other.contains("entry 8 of the log (leaf \(Data(held).base64EncodedString())) is not the one \(Self.destination) acknowledged (leaf \(Data(try #require(cursor.leaf)).base64EncodedString()))"), "\(other)")

        // A cursor an older version wrote (a seq alone) is read; only the log's size can be checked.
        try Data("destination \(Self.destination)\nseq 8\n".utf8).write(to: URL(fileURLWithPath: restored.cursorPath))
        #expect(try ForwardCursor.load(path: restored.cursorPath, destination: Self.destination)?.leaf == nil)
        #expect(await refusal(restored, through: 8) == nil)
    }
}

/// The messages logged at `error` or above, and how many warnings, for a test to read.
final class LoggedErrors: Sendable {
    private let held = Mutex<[String]>([])
    private let warned = Mutex(0)

    var messages: [String] { held.withLock { $0 } }
    var warnings: Int { warned.withLock { $0 } }

    struct Handler: LogHandler {
        let errors: LoggedErrors
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            if event.level >= .error { errors.held.withLock { $0.append("\(event.message)") } }
            if event.level == .warning { errors.warned.withLock { $0 += 1 } }
        }
    }
}

/// A SQLite store in a temporary directory, and the forwarder's cursor beside it.
struct ForwardingSite {
    let directory: URL
    let store: Store

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-forward-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try Store.open(path: directory.appendingPathComponent("warrant-gate.sqlite").path)
    }

    var cursorPath: String { directory.appendingPathComponent("forward.cursor").path }

    func forwarder(port: Int, answerDeadline: Duration? = nil) -> SyslogForwarder {
        // A fixed destination: the cursor file names it.
        forwarder(destination: try! SyslogDestination(parsing: "127.0.0.1:\(port)"), answerDeadline: answerDeadline)
    }

    func forwarder(destination: SyslogDestination, answerDeadline: Duration? = nil, logger: Logger = Logger(label: "test")) -> SyslogForwarder {
        var settings = SyslogForwarderSettings(hostname: "gw1.county.example")
        settings.pollInterval = .milliseconds(20)
        settings.reconnectDelay = .milliseconds(200)
        settings.maximumReconnectDelay = .seconds(1)
        if let answerDeadline { settings.answerDeadline = answerDeadline }
        return SyslogForwarder(store: store, destination: destination, cursorPath: cursorPath, settings: settings, logger: logger)
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Entry `index`: a decision, refused when a multiple of 3.
    static func entry(_ index: Int) -> LogEntry {
        let denied = index % 3 == 0
        let record = DecisionRecord(
            decisionId: "d-\(index)", time: Timestamp.format(Date()), component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=ice",
            agency: "ice-ero", category: AgencyCategory.federalImmigration.rawValue, method: "GET", path: "/records/inmates/2017-000123",
            action: "records.read", subject: "2017-000123", warrantReference: nil, effect: denied ? .deny : .allow,
            reason: denied ? "warrant_missing" : "warrant_verified", rules: ["r-\(index)"], obligations: [], policy: "denver", policyDigest: "00",
            status: denied ? 403 : nil
        )
        return LogEntry(kind: .decision, time: Date(), decisionId: record.decisionId, canonical: record.canonical)
    }
}

extension Store {
    /// Appends the decisions `indices` through the gateway's writer, and closes it.
    func appendDecisions(_ indices: ClosedRange<Int>) async throws {
        let log = try decisionLog()
        let writer = Task { await log.run() }
        try await SyslogForwardingTests.append(log, from: indices.lowerBound, count: indices.count)
        log.close()
        await writer.value
    }
}

/// A TCP server that accepts RELP sessions, reads everything, answers nothing, and counts its connections.
struct SilentReceiver {
    let server: LoopbackTCPServer
    let connections: ConnectionCount
    var port: Int { server.port }

    static func start() async throws -> SilentReceiver {
        let connections = ConnectionCount()
        let server = try await LoopbackTCPServer { _ in connections.increment() }
        return SilentReceiver(server: server, connections: connections)
    }
}

/// A RELP receiver that answers every frame `200 OK`, in order, an answer every `interval` at most: a slow drip.
final class DrippingReceiver: ChannelInboundHandler {
    typealias InboundIn = RELPResponse  // the decoder reads any frame: TXNR COMMAND DATALEN [DATA]
    typealias OutboundOut = ByteBuffer

    private let interval: TimeAmount
    private var lastAnswer = NIODeadline.uptimeNanoseconds(0)

    init(interval: TimeAmount) {
        self.interval = interval
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        lastAnswer = max(lastAnswer, .now()) + interval
        let (answer, bound) = (ByteBuffer(string: "\(frame.txnr) rsp 6 200 OK\n"), NIOLoopBound(context, eventLoop: context.eventLoop))
        context.eventLoop.scheduleTask(deadline: lastAnswer) { bound.value.writeAndFlush(NIOAny(answer), promise: nil) }
    }
}

final class ConnectionCount: Sendable {
    private let count = Mutex(0)

    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
