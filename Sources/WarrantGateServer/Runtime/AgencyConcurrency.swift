import Synchronization

/// Counts requests in flight per agency, so that one agency cannot take the whole gateway.
final class AgencyConcurrency: Sendable {
    private let limit: Int
    private let inFlight = Mutex<[String: Int]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot for `agency`; false when the agency is at its limit.
    func acquire(_ agency: String) -> Bool {
        inFlight.withLock { counts in
            let current = counts[agency, default: 0]
            guard current < limit else { return false }
            counts[agency] = current + 1
            return true
        }
    }

    func release(_ agency: String) {
        inFlight.withLock { counts in
            let remaining = counts[agency, default: 1] - 1
            counts[agency] = remaining > 0 ? remaining : nil
        }
    }
}
