import NIOCore
import Synchronization

/// The admin listener's open connections, by the peer's address. Past ``AdminChannel/maxConnections`` a new connection
/// is served, and the oldest connection of the address that holds the most is closed instead: whoever holds many
/// connections cannot keep a load balancer's `/readyz` probe or a Prometheus scrape from another address waiting, as
/// a cap that leaves newcomers in the kernel's backlog let them. Among addresses holding as many, the oldest
/// connection of all goes. A connection between requests goes before one whose request is being answered (a scrape
/// under way), whatever their ages; one that has waited more than ``answerWindow`` for its answer's end to be written,
/// since its request was read or its previous answer written (a client that does not read it, or a request pipelined
/// after `Connection: close`, which is never answered), counts as between requests again, so that a client cannot keep
/// its connections from going first. The newcomer is never the one closed. Clients that share an address (every local
/// one, on the default loopback listener) count as one: among them a newcomer is still served, and a scrape under way
/// still goes last, but a scraper's idle connection may be closed for another's.
final class AdminConnections: Sendable {
    private struct Open {
        let channel: any Channel
        let address: String
        let opened: UInt64
        /// Requests whose head was read and whose answer's end is not written yet (several, when pipelined).
        var unanswered = 0
        /// When the request now being answered was read; nil when none is.
        var answeringSince: ContinuousClock.Instant?
    }

    private struct State {
        var open: [ObjectIdentifier: Open] = [:]
        var opened: UInt64 = 0
    }

    private let cap: Int
    private let answerWindow: Duration
    private let now: @Sendable () -> ContinuousClock.Instant
    private let state = Mutex(State())

    /// Longer than the admin listener takes to answer any request it serves.
    static let answerWindow = Duration.seconds(5)

    init(cap: Int, answerWindow: Duration = AdminConnections.answerWindow, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.cap = cap
        self.answerWindow = answerWindow
        self.now = now
    }

    /// Records `channel`, drops it from the record when it closes, and closes the connections that make room for it.
    /// A connection chosen to close leaves the record at once: a burst accepted in one read (before any close has
    /// completed) closes one live connection for each newcomer, never the same one twice.
    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        let address = channel.remoteAddress?.ipAddress ?? channel.remoteAddress?.description ?? "unknown"
        let evicted = state.withLock { state -> [any Channel] in
            state.opened += 1
            state.open[key] = Open(channel: channel, address: address, opened: state.opened)
            var evicted: [any Channel] = []
            let answeredSince = now() - answerWindow
            while state.open.count > cap, let evictee = Self.evictee(in: state.open, answeredSince: answeredSince, sparing: key) {
                state.open.removeValue(forKey: evictee.key)
                evicted.append(evictee.open.channel)
            }
            return evicted
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.open.removeValue(forKey: key) }
        }
        for connection in evicted { connection.close(promise: nil) }
    }

    /// Records that a request's head was read on `channel`.
    func requestRead(on channel: any Channel) {
        let time = now()
        state.withLock { state in
            guard var connection = state.open[ObjectIdentifier(channel)] else { return }
            connection.unanswered += 1
            if connection.unanswered == 1 { connection.answeringSince = time }
            state.open[ObjectIdentifier(channel)] = connection
        }
    }

    /// Records that the end of an answer was written on `channel`; the next request pipelined, if any, is answered
    /// from now.
    func answerWritten(on channel: any Channel) {
        let time = now()
        state.withLock { state in
            guard var connection = state.open[ObjectIdentifier(channel)], connection.unanswered > 0 else { return }
            connection.unanswered -= 1
            connection.answeringSince = connection.unanswered > 0 ? time : nil
            state.open[ObjectIdentifier(channel)] = connection
        }
    }

    /// The connection of the address holding the most that is between requests (or has been answering one since
    /// before `answeredSince`), else answering one; the oldest. Never `newcomer`, which is served.
    private static func evictee(
        in open: [ObjectIdentifier: Open], answeredSince: ContinuousClock.Instant, sparing newcomer: ObjectIdentifier
    ) -> (key: ObjectIdentifier, open: Open)? {
        var held: [String: Int] = [:]
        for connection in open.values { held[connection.address, default: 0] += 1 }
        let most = held.values.max() ?? 0
        func answering(_ connection: Open) -> Int { connection.answeringSince.map { $0 > answeredSince ? 1 : 0 } ?? 0 }
        return open.filter { $0.key != newcomer && held[$0.value.address] == most }
            .min { (answering($0.value), $0.value.opened) < (answering($1.value), $1.value.opened) }
            .map { ($0.key, $0.value) }
    }
}
