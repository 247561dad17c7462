/// How one append is answered once its batch is durable, or has failed.
enum AppendReply: Sendable {
    /// An async ``DecisionLog/append(_:)``, resumed where it is.
    case resume(CheckedContinuation<Void, any Error>)
    /// A completion to run on its executor.
    case complete(on: any LogCompletionExecutor, @Sendable (Result<Void, any Error>) -> Void)
}

/// The replies that one commit, or one sync, answers with one result. Completions are grouped by executor: each
/// executor runs its own in one `execute` call, in the order they were added.
struct AppendReplies: Sendable {
    private struct ExecutorCompletions {
        let executor: any LogCompletionExecutor
        var completions: [@Sendable (Result<Void, any Error>) -> Void]
    }

    private var continuations: [CheckedContinuation<Void, any Error>] = []
    private var completions: [ObjectIdentifier: ExecutorCompletions] = [:]
    /// How many appends these replies answer.
    private(set) var count = 0

    init(_ replies: some Sequence<AppendReply> = []) {
        for reply in replies { add(reply) }
    }

    var isEmpty: Bool { count == 0 }

    mutating func add(_ reply: AppendReply) {
        count += 1
        switch reply {
        case .resume(let continuation):
            continuations.append(continuation)
        case .complete(let executor, let completion):
            completions[ObjectIdentifier(executor), default: ExecutorCompletions(executor: executor, completions: [])]
                .completions.append(completion)
        }
    }

    /// Adds `later`'s replies after these, keeping each executor's completions in order.
    mutating func add(_ later: AppendReplies) {
        count += later.count
        continuations += later.continuations
        completions.merge(later.completions) { earlier, later in
            ExecutorCompletions(executor: earlier.executor, completions: earlier.completions + later.completions)
        }
    }

    /// Answers every append with `result`: continuations at once, completions with one `execute` per executor.
    func deliver(_ result: Result<Void, any Error>) {
        for continuation in continuations { continuation.resume(with: result) }
        for group in completions.values {
            let completions = group.completions
            group.executor.execute {
                for completion in completions { completion(result) }
            }
        }
    }
}
