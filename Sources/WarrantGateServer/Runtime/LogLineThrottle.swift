import NIOCore
import Synchronization

/// Lets one line of a kind into the operational log per ``interval`` and counts the rest, so that an outage refusing
/// every request writes a line a second, not one a request. The line let through says how many it stands for.
final class LogLineThrottle: Sendable {
    let interval: TimeAmount
    private let nextAllowed = Atomic<Int64>(0)
    private let held = Atomic<Int>(0)

    init(interval: TimeAmount = .seconds(1)) {
        self.interval = interval
    }

    /// Nil when the line is held back; otherwise how many lines were held back since the last one let through.
    func admit(now: NIODeadline = .now()) -> Int? {
        let nanoseconds = Int64(truncatingIfNeeded: now.uptimeNanoseconds)
        let next = nextAllowed.load(ordering: .relaxed)
        guard nanoseconds >= next,
              nextAllowed.compareExchange(expected: next, desired: nanoseconds + interval.nanoseconds, ordering: .relaxed).exchanged else {
            held.add(1, ordering: .relaxed)
            return nil
        }
        return held.exchange(0, ordering: .relaxed)
    }
}
