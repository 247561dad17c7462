import NIOCore
import Synchronization

/// Asks each event loop of the data plane to run an empty task, for `/readyz`: a loop that does not run it within
/// ``deadline`` is stuck (a task that never yields), and the gateway, whose admin listener has loops of its own, would
/// otherwise say it is ready while it answers no agency.
struct EventLoopProbe: Sendable {
    static let deadline: Duration = .seconds(1)

    let loops: [any EventLoop]

    init(_ group: any EventLoopGroup) {
        loops = Array(group.makeIterator())
    }

    /// Whether every loop ran an empty task within the deadline.
    func answers() async -> Bool {
        let replied = Mutex(false)
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let reply: @Sendable (Bool) -> Void = { answered in
                if replied.withLock({ replied in defer { replied = true }; return !replied }) { continuation.resume(returning: answered) }
            }
            let futures = loops.map { $0.submit {} }
            Task {
                for future in futures { _ = try? await future.get() }
                reply(true)
            }
            Task {
                try? await Task.sleep(for: Self.deadline)
                reply(false)
            }
        }
    }
}
