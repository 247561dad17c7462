import NIOCore
import Synchronization

/// Asks each event loop of the data plane to run a task, for `/readyz`: a loop that does not run one within
/// ``deadline`` of being asked is stuck (a task that never yields), and the gateway, whose admin listener has loops of
/// its own, would otherwise say it is ready while it answers no agency.
///
/// Each loop records when it ran its task, and the verdict is read from those times, not from when this task wakes to
/// read them: a busy cooperative thread pool delays the answer, never turns a prompt loop into a stuck one. A loop
/// holds at most one probe's task at a time: a stuck loop is not handed another with every request.
final class EventLoopProbe: Sendable {
    static let deadline: Duration = .seconds(1)

    let loops: [any EventLoop]
    private let state: Mutex<[LoopState]>

    /// Whether a loop holds a task not yet run, and when it last ran one.
    private struct LoopState {
        var pending = false
        var lastRun: ContinuousClock.Instant?
    }

    init(_ group: any EventLoopGroup) {
        loops = Array(group.makeIterator())
        state = Mutex(Array(repeating: LoopState(), count: loops.count))
    }

    /// How many loops hold a probe's task they have not run yet.
    var tasksHeld: Int { state.withLock { loops in loops.count(where: \.pending) } }

    /// Whether every loop ran a task within the deadline of being asked.
    func answers() async -> Bool {
        let asked = ContinuousClock.now
        let idle = state.withLock { loops in
            loops.indices.filter { index in
                defer { loops[index].pending = true }
                return !loops[index].pending
            }
        }
        for index in idle {
            loops[index].execute { [self] in
                state.withLock { loops in loops[index] = LoopState(pending: false, lastRun: .now) }
            }
        }
        func ranSince() -> [Bool] { state.withLock { loops in loops.map { $0.lastRun.map { $0 >= asked } ?? false } } }
        while ranSince().contains(false), ContinuousClock.now - asked < Self.deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return state.withLock { loops in
            loops.allSatisfy { loop in loop.lastRun.map { $0 >= asked && $0 - asked < Self.deadline } ?? false }
        }
    }
}
