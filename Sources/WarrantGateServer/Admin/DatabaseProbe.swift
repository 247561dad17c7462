import Synchronization

/// Asks the database whether it answers, for `/readyz`: one question at a time, answered within ``deadline``.
///
/// A question still unanswered past the deadline counts as no answer, and later requests wait on it instead of asking
/// another: while the database is silent, probes neither hang past the deadline nor pile up on the thread pool that
/// the registry's refresh shares.
final class DatabaseProbe: Sendable {
    static let deadline: Duration = .seconds(2)

    private struct Question: Sendable {
        let asked: ContinuousClock.Instant
        let answer: Task<Bool, Never>
    }

    private let pending = Mutex<Question?>(nil)
    private let ask: @Sendable () throws -> Void

    init(ask: @escaping @Sendable () throws -> Void) {
        self.ask = ask
    }

    /// Whether the database answered the question in flight, or a new one, within the deadline of its asking.
    func answers() async -> Bool {
        let question = pending.withLock { pending -> Question in
            if let pending { return pending }
            let asked = Question(asked: .now, answer: Task { [ask, weak self] in
                let answered = (try? await BlockingWork.run(ask)) != nil
                self?.pending.withLock { $0 = nil }
                return answered
            })
            pending = asked
            return asked
        }
        let replied = Mutex(false)
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let reply: @Sendable (Bool) -> Void = { answered in
                if replied.withLock({ replied in defer { replied = true }; return !replied }) { continuation.resume(returning: answered) }
            }
            // An answer after the deadline is no answer, whichever of the two replies runs first.
            Task { reply(await question.answer.value && .now < question.asked + Self.deadline) }
            Task {
                try? await Task.sleep(until: question.asked + Self.deadline)
                reply(false)
            }
        }
    }
}
