import Synchronization

/// Asks the database whether it answers, for `/readyz`: one question at a time, answered within ``deadline``.
///
/// A question still unanswered past the deadline counts as no answer, and later requests are told no at once instead
/// of asking another: while the database is silent, probes neither hang past the deadline nor pile up, on the thread
/// pool that the registry's refresh shares or as requests waiting on the question.
final class DatabaseProbe: Sendable {
    static let deadline: Duration = .seconds(2)

    /// A question asked, and its answer once the database gave one: whether it came within the deadline.
    private final class Question: Sendable {
        let asked = ContinuousClock.now
        let answer = Mutex<Bool?>(nil)
    }

    private let pending = Mutex<Question?>(nil)
    private let ask: @Sendable () throws -> Void

    init(ask: @escaping @Sendable () throws -> Void) {
        self.ask = ask
    }

    /// Whether the database answered the question in flight, or a new one, within the deadline of its asking. Returns
    /// by that deadline.
    func answers() async -> Bool {
        let question = pending.withLock { pending -> Question in
            if let pending { return pending }
            let question = Question()
            pending = question
            Task { [ask, weak self] in
                let answered = (try? await BlockingWork.run(ask)) != nil
                question.answer.withLock { $0 = answered && .now < question.asked + Self.deadline }
                self?.pending.withLock { $0 = nil }
            }
            return question
        }
        while ContinuousClock.now < question.asked + Self.deadline {
            if let answer = question.answer.withLock({ $0 }) { return answer }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return question.answer.withLock { $0 } ?? false
    }
}
