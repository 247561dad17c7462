import Logging
import NIOCore
import PostgresNIO
import Synchronization
import WarrantGateCore

/// The append-only decision log on PostgreSQL, shared by every gateway, with group commit.
///
/// An append is a transaction that locks the one frontier row (`SELECT … FOR UPDATE`), takes the next sequence
/// numbers after it, inserts the entries and moves the frontier past them. Appenders on every gateway queue on that
/// row lock, so sequence numbers stay contiguous and the tree stays one tree. Within one gateway, concurrent callers
/// share a transaction: while one batch commits, new entries queue and go out together in the next.
///
/// ``append(_:)`` returns, and ``append(_:on:completion:)`` completes, only once the commit has returned, which with
/// PostgreSQL's default `synchronous_commit = on` means the commit record is flushed, and with a synchronous standby
/// configured, that the standby has it too. If the commit fails or its outcome is unknown (the connection dropped),
/// every caller of the batch gets the error: the gateway refuses rather than forwards.
public final class PostgresDecisionLog: DecisionLogWriter {
    private struct State {
        var queue: [LogWaiter] = []
        var retries = LogRetries()
        var writing = false
        var commits = 0
        var closed = false
        /// When the commit in progress began (its first caller queued), if one is.
        var committingSince: ContinuousClock.Instant?
        var lastFailure: ContinuousClock.Instant?
        /// ``run()``, waiting for ``close()`` and then for the queue to drain.
        var runner: CheckedContinuation<Void, Never>?
    }

    /// The most entries one transaction takes, so that a queue grown during a stall drains in commits that each fit
    /// the deadline.
    private static let maxBatch = 10_000

    private let client: PostgresClient
    /// Whether ``run()`` runs the client, which this log then made itself.
    private let ownsClient: Bool
    private let logger: Logger
    private let commitTimeout: Duration
    private let state = Mutex(State())
    private let unwritten = Atomic<Int>(0)

    /// - Parameters:
    ///   - client: a client connected as the gateways' role, which the caller runs. It reconnects by itself when the
    ///     server comes back.
    ///   - commitTimeout: how long a batch may take, from its first query to its commit's return; past it, the batch's
    ///     callers get an error (the commit may still land, which logs a decision that was refused: never the reverse),
    ///     and the server ends any statement, or wait for the frontier's lock, that lasts longer. A network that
    ///     drops packets is noticed only by TCP keepalives: configure them on the server and the host.
    public init(client: PostgresClient, logger: Logger, commitTimeout: Duration = .seconds(5)) {
        self.client = client
        self.ownsClient = false
        self.logger = logger
        self.commitTimeout = commitTimeout
    }

    /// A log with a client of its own, which ``run()`` runs.
    init(configuration: PostgresClient.Configuration, logger: Logger, commitTimeout: Duration) {
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.ownsClient = true
        self.logger = logger
        self.commitTimeout = commitTimeout
    }

    /// False while a commit has been outstanding longer than the deadline (a server gone, a synchronous standby cut
    /// off), and for a few seconds after one failed.
    public var isHealthy: Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            !(state.committingSince.map { now - $0 >= commitTimeout } ?? false) && !(state.lastFailure.map { now - $0 < unhealthyAfterFailedCommit } ?? false)
        }
    }

    /// Entries refused once closed, given up on in the queue behind a stalled commit, or in a batch whose commit
    /// failed (not those of a commit past its deadline, which may still land, nor those queued again; see
    /// ``unwaitedEntriesRetriedFor``).
    public var unwrittenEntries: Int { unwritten.load(ordering: .relaxed) }

    /// How many transactions have committed appends so far: fewer than the appends, under load.
    public var commits: Int { state.withLock { $0.commits } }

    /// Appends entries and waits until their commit has returned.
    public func append(_ entries: [LogEntry]) async throws {
        let pending = entries.map(LogAppender.Pending.init)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            submit(LogWaiter(entries: pending, reply: .resume(continuation)))
        }
    }

    /// Appends entries and calls `completion` on `executor` once their commit has returned, or with the error.
    public func append(
        _ entries: [LogEntry], on executor: any LogCompletionExecutor, completion: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) {
        submit(LogWaiter(entries: entries.map(LogAppender.Pending.init), reply: .complete(on: executor, completion)))
    }

    /// Queues entries without waiting for their commit (outcomes, written after the answer): they go out with the
    /// next batch. Entries queued before ``close()`` are written before ``run()`` returns.
    public func enqueue(_ entries: [LogEntry]) {
        submit(LogWaiter(entries: entries.map(LogAppender.Pending.init), reply: nil))
    }

    private func submit(_ waiter: LogWaiter) {
        let (accepted, startWriter) = state.withLock { state -> (Bool, Bool) in
            guard !state.closed else { return (false, false) }
            state.queue.append(waiter)
            guard !state.writing else { return (true, false) }
            state.writing = true
            return (true, true)
        }
        if !accepted {
            unwritten.add(waiter.entries.count, ordering: .relaxed)
            if let reply = waiter.reply { AppendReplies([reply]).deliver(.failure(StoreError("the decision log is closed"))) }
        }
        if startWriter { Task { await writeQueued() } }
    }

    /// Runs the log's client (if it made its own) until ``close()`` is called and every queued entry is written.
    public func run() async {
        await withDiscardingTaskGroup { group in
            if ownsClient { group.addTask { await self.client.run() } }
            await withCheckedContinuation { (runner: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    guard !(state.closed && !state.writing) else { return true }
                    state.runner = runner
                    return false
                }
                if resumeNow { runner.resume() }
            }
            group.cancelAll()
        }
    }

    /// Stops accepting entries; ``run()`` returns once what is queued is written, and entries queued again are tried
    /// once more.
    public func close() {
        let (runner, startWriter) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Bool) in
            state.closed = true
            guard !state.writing else { return (nil, false) }
            if state.retries.due != nil {
                state.writing = true
                return (nil, true)
            }
            defer { state.runner = nil }
            return (state.runner, false)
        }
        runner?.resume()
        if startWriter { Task { await writeQueued() } }
    }

    /// Starts the writer, unless it runs, once entries queued again are due.
    private func writeRetries(after pause: Duration) {
        Task {
            try? await Task.sleep(for: pause)
            let start = state.withLock { state -> Bool in
                guard !state.writing, state.retries.due != nil else { return false }
                state.writing = true
                return true
            }
            if start { await writeQueued() }
        }
    }

    /// Commits queued batches until the queue is empty, at most ``maxBatch`` entries at a time, and entries queued
    /// again after a failure in batches of their own (see ``LogRetries``), turn about with the queue when both wait.
    private func writeQueued() async {
        var retriedLast = false
        while true {
            let (batch, retries) = state.withLock { state -> ([LogWaiter], Bool) in
                // Turn about with the queue when both wait.
                if !(retriedLast && !state.queue.isEmpty),
                   let retries = state.retries.take(at: .now, closing: state.closed, maxEntries: Self.maxBatch) {
                    return (retries, true)
                }
                var count = 0
                let taken = state.queue.prefix { waiter in
                    defer { count += waiter.entries.count }
                    return count == 0 || count + waiter.entries.count <= Self.maxBatch
                }
                state.queue.removeFirst(taken.count)
                if taken.isEmpty { state.writing = false }
                return (Array(taken), false)
            }
            retriedLast = retries
            guard !batch.isEmpty else {
                let runner = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    guard state.closed && !state.writing else { return nil }
                    defer { state.runner = nil }
                    return state.runner
                }
                runner?.resume()
                return
            }
            let replies = AppendReplies(batch.compactMap(\.reply))
            // The callers are answered once: by the commit, or by the deadline if it comes first. The writer itself
            // waits for the transaction to end, which the server's statement and lock timeouts bound.
            let answered = Mutex(false)
            let answer: @Sendable (Result<Void, any Error>) -> Void = { result in
                if answered.withLock({ answered in defer { answered = true }; return !answered }) { replies.deliver(result) }
            }
            let timeout = commitTimeout
            // The deadline counts from when the batch's first caller queued, not from now: callers queued behind a
            // commit that hung are answered within the timeout too, not within twice it. Past the deadline, while the
            // commit still hangs (a server that went away, a lease that waits for a connection), the callers queued
            // behind it are refused too once they have waited as long.
            let firstQueued = batch.filter { $0.reply != nil }.map(\.queued).min() ?? .now
            let waited = ContinuousClock.now - firstQueued
            // Counted from the same instant as the deadline, so that the log is unhealthy once its callers are refused.
            state.withLock { $0.committingSince = firstQueued }
            let deadline = Task {
                try await Task.sleep(for: max(.zero, timeout - waited))
                answer(.failure(StoreError("the decision log's commit took longer than \(timeout)")))
                while true {
                    refuseQueued(waitingLongerThan: timeout)
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            do {
                try await commitOrAbandon(batch.flatMap(\.entries))
                state.withLock { state in
                    state.commits += 1
                    state.committingSince = nil
                }
                answer(.success(()))
            } catch {
                // Entries no one waits for (outcomes, requests that were never answered) are queued again if nothing
                // of the batch landed: a paused gateway or a server restart would otherwise lose them. Callers were
                // answered with the error: their requests were refused, and are not retried.
                let now = ContinuousClock.now
                let kept = state.withLock { state -> Int in
                    state.committingSince = nil
                    state.lastFailure = now
                    guard error is UncommittedTransaction, !state.closed else { return 0 }
                    return state.retries.requeue(from: batch, failedAt: now, wereRetries: retries)
                }
                unwritten.add(batch.entryCount - kept, ordering: .relaxed)
                let cause = (error as? UncommittedTransaction)?.cause ?? error
                // Described, not reflected: a reflected query error would print the entries it carried.
                logger.error(
                    "decision log commit failed; its requests are refused",
                    metadata: ["error": "\(StoreDatabase.describe(cause))", "entriesQueuedAgain": "\(kept)"]
                )
                answer(.failure(cause))
                if kept > 0 { writeRetries(after: pauseBeforeRetry) }
            }
            deadline.cancel()
        }
    }

    /// Refuses the queued callers that have waited longer than `timeout`; their entries are not written.
    private func refuseQueued(waitingLongerThan timeout: Duration) {
        let now = ContinuousClock.now
        let stale = state.withLock { state -> [AppendReply] in
            var stale: [AppendReply] = []
            state.queue.removeAll { waiter in
                guard let reply = waiter.reply, now - waiter.queued > timeout else { return false }
                stale.append(reply)
                unwritten.add(waiter.entries.count, ordering: .relaxed)
                return true
            }
            return stale
        }
        if !stale.isEmpty { AppendReplies(stale).deliver(.failure(StoreError("the decision log could not commit within \(timeout)"))) }
    }

    /// ``commit(_:)``, given up on once it has taken twice the commit deadline: the server's timeouts end a slow
    /// transaction on a live connection, but a connection that died mid-query without a word can leave its query
    /// unanswered for good, and the writer must not wait with it. An abandoned commit may still land later, in a
    /// transaction of its own: its callers have been refused, so the log then holds decisions that were refused,
    /// never the reverse.
    private func commitOrAbandon(_ entries: [LogAppender.Pending]) async throws {
        let result = Mutex<CheckedContinuation<Void, any Error>?>(nil)
        let finish: @Sendable (Result<Void, any Error>) -> Void = { outcome in
            result.withLock { continuation in
                continuation?.resume(with: outcome)
                continuation = nil
            }
        }
        let patience = commitTimeout * 2
        var work: Task<Void, Never>?
        var watchdog: Task<Void, Never>?
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            result.withLock { $0 = continuation }
            work = Task {
                do {
                    try await self.commit(entries)
                    finish(.success(()))
                } catch {
                    finish(.failure(error))
                }
            }
            watchdog = Task {
                guard (try? await Task.sleep(for: patience)) != nil else { return }
                finish(.failure(StoreError("the decision log's commit was abandoned after \(patience) without an answer from the server")))
            }
        }
        watchdog?.cancel()
        work?.cancel()
    }

    /// One transaction (see ``PostgresLogAppend``), which the server ends if it outlasts the commit deadline.
    private func commit(_ entries: [LogAppender.Pending]) async throws {
        guard !entries.isEmpty else { return }
        let logger = logger
        let milliseconds = Int64(commitTimeout / .milliseconds(1))
        try await client.transaction(logger: logger) { connection in
            // In one round trip, for this transaction only: the server ends a statement that outlasts the deadline,
            // and gives up waiting for the frontier's lock before it, so that a batch that waited too long rolls back
            // rather than landing after its callers heard; it ends the transaction if this gateway stops between
            // statements (a paused process or machine) while holding the frontier's lock, which every other gateway's
            // appends wait for; and the commit returns once it is flushed (and, with a synchronous standby,
            // replicated), whatever the role's or the database's default says.
            try await connection.query(
                """
                SELECT set_config('statement_timeout', \(String(milliseconds)), true), set_config('lock_timeout', \(String(milliseconds * 3 / 4)), true),
                       set_config('idle_in_transaction_session_timeout', \(String(milliseconds)), true), set_config('synchronous_commit', 'on', true)
                """,
                logger: logger
            )
            var found: (Int64, ByteBuffer)?
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: PostgresLogAppend.lockFrontier), logger: logger)
                .decode((Int64, ByteBuffer).self) {
                found = row
            }
            guard let (size, subtrees) = found else { throw StoreError("the log's tree frontier is missing") }
            let frontier = try PostgresLogAppend.frontier(size: size, subtrees: subtrees)
            for query in PostgresLogAppend.statements(entries, after: frontier).queries {
                try await connection.query(query, logger: logger)
            }
        }
    }
}
