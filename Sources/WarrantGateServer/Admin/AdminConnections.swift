import NIOCore
import Synchronization

/// The admin listener's open connections, by the peer's address. Past ``AdminChannel/maxConnections`` a new connection
/// is served, and the oldest connection of the address that holds the most is closed instead: whoever holds many
/// connections cannot keep a load balancer's `/readyz` probe or a Prometheus scrape from another address waiting, as
/// a cap that leaves newcomers in the kernel's backlog let them. Among addresses holding as many, the oldest
/// connection of all goes. A connection between requests goes before one whose request is being answered (a scrape
/// under way), whatever their ages.
final class AdminConnections: Sendable {
    private struct Open {
        let channel: any Channel
        let address: String
        let opened: UInt64
        /// Requests whose head was read and whose answer's end is not written yet (several, when pipelined).
        var unanswered = 0
    }

    private struct State {
        var open: [ObjectIdentifier: Open] = [:]
        var opened: UInt64 = 0
    }

    private let cap: Int
    private let state = Mutex(State())

    init(cap: Int) {
        self.cap = cap
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
            while state.open.count > cap, let evictee = Self.evictee(in: state.open) {
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
        state.withLock { $0.open[ObjectIdentifier(channel)]?.unanswered += 1 }
    }

    /// Records that the end of an answer was written on `channel`.
    func answerWritten(on channel: any Channel) {
        state.withLock { state in
            guard let unanswered = state.open[ObjectIdentifier(channel)]?.unanswered, unanswered > 0 else { return }
            state.open[ObjectIdentifier(channel)]?.unanswered = unanswered - 1
        }
    }

    /// The connection of the address holding the most that is between requests, else answering one; the oldest.
    private static func evictee(in open: [ObjectIdentifier: Open]) -> (key: ObjectIdentifier, open: Open)? {
        var held: [String: Int] = [:]
        for connection in open.values { held[connection.address, default: 0] += 1 }
        let most = held.values.max() ?? 0
        return open.filter { held[$0.value.address] == most }
            .min { ($0.value.unanswered > 0 ? 1 : 0, $0.value.opened) < ($1.value.unanswered > 0 ? 1 : 0, $1.value.opened) }
            .map { ($0.key, $0.value) }
    }
}
