import NIOCore
import Synchronization

/// Asks each event loop of the data plane to run a task, for `/readyz`: a loop that does not run it within
/// ``deadline`` of being asked is stuck (a task that never yields), and the gateway, whose admin listener has loops of
/// its own, would otherwise say it is ready while it answers no agency.
///
/// Each loop records when it ran its task, and the verdict is read from those times, not from when this task wakes to
/// read them: a busy cooperative thread pool delays the answer, never turns a prompt loop into a stuck one.
struct EventLoopProbe: Sendable {
    static let deadline: Duration = .seconds(1)

    let loops: [any EventLoop]

    init(_ group: any EventLoopGroup) {
        loops = Array(group.makeIterator())
    }

    /// When each loop ran its task, nil until it has.
    private final class RunTimes: Sendable {
        let times: Mutex<[ContinuousClock.Instant?]>
        init(count: Int) { times = Mutex(Array(repeating: nil, count: count)) }
    }

    /// Whether every loop ran its task within the deadline of being asked.
    func answers() async -> Bool {
        let asked = ContinuousClock.now
        let ran = RunTimes(count: loops.count)
        for (index, loop) in loops.enumerated() {
            loop.execute { ran.times.withLock { $0[index] = .now } }
        }
        while ran.times.withLock({ $0.contains(nil) }), ContinuousClock.now - asked < Self.deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return ran.times.withLock { times in times.allSatisfy { $0.map { $0 - asked < Self.deadline } ?? false } }
    }
}
