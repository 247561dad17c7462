import Foundation
import GRDB
import Glibc
import Synchronization
import WarrantGateCore

/// Where a log append's completion runs (in the server: an event loop). The store does not depend on NIO.
public protocol LogCompletionExecutor: AnyObject, Sendable {
    func execute(_ work: @escaping @Sendable () -> Void)
}

/// The gateway's writer of the append-only log: ``DecisionLog`` on SQLite, ``PostgresDecisionLog`` on PostgreSQL.
///
/// An append returns, or completes, only once its entries are durably committed, or with the error that says they may
/// not be: the gateway answers or forwards a request only after its decision's append succeeded.
public protocol DecisionLogWriter: AnyObject, Sendable {
    /// Appends entries and waits until they are durable.
    func append(_ entries: [LogEntry]) async throws
    /// Appends entries and calls `completion` on `executor` once they are durable, or with the error.
    func append(_ entries: [LogEntry], on executor: any LogCompletionExecutor, completion: @escaping @Sendable (Result<Void, any Error>) -> Void)
    /// Queues entries without waiting for their commit: for records written after the answer (outcomes).
    func enqueue(_ entries: [LogEntry])
    /// Writes until ``close()`` is called and every queued entry is written. Run exactly one of these.
    func run() async
    /// Stops accepting entries; ``run()`` returns once what is queued is written.
    func close()
    /// Whether appends are being committed: false once a failure means they cannot be for now (the gateway then
    /// reports itself not ready, so that the load balancer sends its requests elsewhere).
    var isHealthy: Bool { get }
    /// How many entries the log has failed to write since it was opened, whether or not a caller waited for them
    /// (outcomes are queued without waiting): the gateway exports it for alerting.
    var unwrittenEntries: Int { get }
}

/// How long after a failed commit a decision log, on SQLite or PostgreSQL, reports itself unhealthy: long enough for
/// `/readyz` to be seen, short enough that a load balancer that stops sending requests sees the gateway come back.
let unhealthyAfterFailedCommit: Duration = .seconds(5)

/// How long a decision log queues again, after failed commits, entries that no one waits for (outcomes, requests
/// never answered), counted from when they were first queued: a lock held for a while, a paused gateway or a server's
/// restart would otherwise lose them. Well inside ``EntryTime/clockAllowance``, which bounds how long after the time
/// it states an outcome may be stored.
let unwaitedEntriesRetriedFor: Duration = .seconds(60)

/// Entries queued for a decision log's next batch, and the caller who waits for their commit.
struct LogWaiter {
    let entries: [LogAppender.Pending]
    /// Nil for entries queued with `enqueue(_:)`, which no one waits for.
    let reply: AppendReply?
    let queued = ContinuousClock.now

    /// Whether these are queued again after their batch rolled back: no one waits for them, and they have waited less
    /// than ``unwaitedEntriesRetriedFor`` at `now`.
    func isRetried(at now: ContinuousClock.Instant) -> Bool {
        reply == nil && now - queued < unwaitedEntriesRetriedFor
    }
}

extension Collection<LogWaiter> {
    /// How many entries these waiters hold.
    var entryCount: Int { reduce(0) { $0 + $1.entries.count } }
}

/// The error that ended a transaction before its commit was sent, or before it began: nothing it wrote landed. A
/// transaction whose commit failed is not one: the commit may have landed before its answer was lost.
struct UncommittedTransaction: Error {
    let cause: any Error
}

/// The pause after a failed commit before entries queued again are tried: a log that fails at once (a full disk, a
/// server that refuses connections) is not asked again in a tight loop.
let pauseBeforeRetry: Duration = .milliseconds(500)

/// Entries queued again after their batch rolled back (see ``unwaitedEntriesRetriedFor``). They are written in
/// transactions of their own, from ``pauseBeforeRetry`` after the first of them failed, never in a caller's batch: an
/// entry that cannot be written at all would otherwise fail every batch it joined, and refuse every request, for as
/// long as it is retried. Once a transaction of several of them fails, they are tried one waiter at a time, so that
/// one such entry cannot take the others with it; each of their own transactions that fails puts the next off by
/// the pause, so that a log that cannot be written is not tried in a tight loop.
struct LogRetries {
    private(set) var waiters: [LogWaiter] = []
    /// When ``waiters`` may be tried; nil when there are none. The failures of callers' batches never put it off.
    private(set) var due: ContinuousClock.Instant?
    private var oneAtATime = false

    /// Queues `retried` again after a failure at `now`; `wereRetries` if the batch that failed was taken from here.
    mutating func add(_ retried: [LogWaiter], failedAt now: ContinuousClock.Instant, wereRetries: Bool) {
        guard !retried.isEmpty else { return }
        waiters += retried
        if due == nil || wereRetries { due = now + pauseBeforeRetry }
        if wereRetries && retried.count > 1 { oneAtATime = true }
    }

    /// Queues again those of `batch`'s waiters, which failed at `now` before its commit, that no one waits for and that
    /// have waited less than ``unwaitedEntriesRetriedFor``; returns how many entries they hold.
    mutating func requeue(from batch: [LogWaiter], failedAt now: ContinuousClock.Instant, wereRetries: Bool) -> Int {
        let retried = batch.filter { $0.isRetried(at: now) }
        add(retried, failedAt: now, wereRetries: wereRetries)
        return retried.entryCount
    }

    /// Takes the waiters due at `now` (at once when `closing`, the log's last try): one, when they are tried one at
    /// a time, else as many as hold at most `maxEntries` entries (the first whatever its size).
    mutating func take(at now: ContinuousClock.Instant, closing: Bool, maxEntries: Int = .max) -> [LogWaiter]? {
        guard let due, closing || now >= due else { return nil }
        var entries = 0
        let count = oneAtATime ? 1 : waiters.prefix { waiter in
            defer { entries += waiter.entries.count }
            return entries == 0 || entries + waiter.entries.count <= maxEntries
        }.count
        let taken = Array(waiters.prefix(count))
        waiters.removeFirst(count)
        if waiters.isEmpty {
            self.due = nil
            oneAtATime = false
        }
        return taken
    }
}

/// The append-only decision log on SQLite, with group commit.
///
/// ``append(_:)`` returns, and ``append(_:on:completion:)`` completes, only once its entries are durably committed.
/// Concurrent callers share transactions: while one batch is being written, new entries queue up and go out together
/// in the next. If a commit fails, every caller in that batch gets the error, and the gateway refuses the request:
/// nothing is forwarded without its decision on disk. Batches are answered in the order they were committed.
///
/// The writer runs on a thread of its own rather than in the shared task pool, so that a busy pool — the very
/// requests waiting on this commit — never delays the next batch. With a database path, durability is pipelined
/// under load: the writer commits without waiting for the disk and, when another batch is already queued, a second
/// thread syncs the write-ahead log before answering the batch's callers (``WALSync``), so one batch is written while
/// the one before it is synced. Without a path (a database with no file to sync), each batch commits with
/// `synchronous = FULL`.
public final class DecisionLog: DecisionLogWriter {
    /// What the writer thread is doing, so that a submitter knows whether to wake it.
    private enum WriterMode {
        case busy
        /// Waiting for any entry.
        case sleeping
        /// Holding queued outcomes for up to ``outcomeDelay``, until a caller who waits on a commit arrives.
        case lingering
    }

    private struct State {
        var queue: [LogWaiter] = []
        var retries = LogRetries()
        var writer = WriterMode.busy
        var closed = false
        /// When a batch last failed to commit (a full disk, a lock held past the busy timeout).
        var lastFailure: ContinuousClock.Instant?
    }


    private let writer: any DatabaseWriter
    /// The database file and its write-ahead log, as they were when the log was opened.
    private let files: [DatabaseFileIdentity]
    private let walSync: WALSync?
    /// Copies the WAL into the database file in the background; nil without a file.
    let backfill: WALBackfill?
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let unwritten = Atomic<Int>(0)

    /// How long queued outcomes may wait for a decision to share its commit.
    private let outcomeDelay: DispatchTimeInterval

    /// - Parameters:
    ///   - path: the database file, or a symbolic link to it; when given, each batch first checks that the file and its
    ///     write-ahead log are still the ones that were opened, since SQLite would otherwise go on writing to a deleted
    ///     file that no one can read, and under load the log is synced off the writer's thread.
    ///   - outcomeDelay: how long entries queued with ``enqueue(_:)`` may wait for an ``append(_:)`` to commit
    ///     with. Written on their own, they would cost a commit and a sync each, on the writer's thread, ahead of
    ///     the decisions that requests wait for.
    init(writer: any DatabaseWriter, path: String? = nil, outcomeDelay: Duration = .milliseconds(20)) {
        self.writer = writer
        self.outcomeDelay = .nanoseconds(Int(outcomeDelay / .nanoseconds(1)))
        let path = path.map(Self.resolvingLinks)
        let database = path.flatMap(DatabaseFileIdentity.init(path:))
        self.files = [database, path.flatMap { DatabaseFileIdentity(path: $0 + "-wal") }].compactMap { $0 }
        let walSync = path.map(WALSync.init(databasePath:))
        self.walSync = walSync
        self.backfill = database.map { WALBackfill(database: $0, walSync: walSync) }
    }

    /// `path` with its symbolic links resolved: SQLite follows them, and keeps the write-ahead log beside the file they
    /// lead to. `path` itself if it cannot be resolved: nothing is there, and every batch fails.
    private static func resolvingLinks(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Why entries can no longer be made durable: the write-ahead log, or the database file after a checkpoint, could
    /// not be synced. Every later append fails.
    private var durabilityFailure: StoreError? { walSync?.failure ?? backfill?.failure }

    /// False once the write-ahead log, or the database file after a checkpoint, could not be synced (every later
    /// append fails), and for a few seconds after a batch failed to commit.
    public var isHealthy: Bool {
        guard durabilityFailure == nil else { return false }
        let now = ContinuousClock.now
        return !(state.withLock { $0.lastFailure }.map { now - $0 < unhealthyAfterFailedCommit } ?? false)
    }

    /// Entries refused (after a sync failure, or once closed), or in a batch whose commit failed (except those queued
    /// again; see ``unwaitedEntriesRetriedFor``).
    public var unwrittenEntries: Int { unwritten.load(ordering: .relaxed) }

    /// Appends entries and waits until they are durable.
    public func append(_ entries: [LogEntry]) async throws {
        let pending = entries.map(LogAppender.Pending.init)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            submit(LogWaiter(entries: pending, reply: .resume(continuation)))
        }
    }

    /// Appends entries and calls `completion` on `executor` once they are durable, or with the error. The
    /// completions of one batch that share an executor run in one `executor.execute` call, in submission order;
    /// an executor runs the completions of earlier batches first.
    public func append(
        _ entries: [LogEntry], on executor: any LogCompletionExecutor,
        completion: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) {
        submit(LogWaiter(entries: entries.map(LogAppender.Pending.init), reply: .complete(on: executor, completion)))
    }

    /// Queues entries without waiting for the commit: for records written after the answer (outcomes). They go out
    /// with the next batch that an ``append(_:)`` waits for, or on their own after the log's `outcomeDelay`.
    /// Entries queued before ``close()`` are written before ``run()`` returns.
    public func enqueue(_ entries: [LogEntry]) {
        submit(LogWaiter(entries: entries.map(LogAppender.Pending.init), reply: nil))
    }

    private func submit(_ waiter: LogWaiter) {
        if let failure = durabilityFailure {
            refuse(waiter, failure)
            return
        }
        let waits = waiter.reply != nil
        let (accepted, wakeWriter) = state.withLock { state -> (Bool, Bool) in
            guard !state.closed else { return (false, false) }
            state.queue.append(waiter)
            // A lingering writer waits for a caller; queued outcomes alone leave it be.
            let wake = state.writer == .sleeping || (state.writer == .lingering && waits)
            if wake { state.writer = .busy }
            return (true, wake)
        }
        if !accepted { refuse(waiter, StoreError("the decision log is closed")) }
        if wakeWriter { wake.signal() }
    }

    private func refuse(_ waiter: LogWaiter, _ error: any Error) {
        unwritten.add(waiter.entries.count, ordering: .relaxed)
        if let reply = waiter.reply { AppendReplies([reply]).deliver(.failure(error)) }
    }

    /// Writes queued batches until ``close()`` is called and every queued entry is written and synced. Run exactly
    /// one of these.
    public func run() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let threads = DispatchGroup()
            let walSync = self.walSync, backfill = self.backfill
            if let walSync {
                Self.startThread(named: "wg-log-sync", in: threads) { walSync.syncUntilClosed() }
            }
            if let backfill {
                Self.startThread(named: "wg-log-backfill", in: threads) { backfill.runUntilClosed() }
            }
            Self.startThread(named: "wg-log-writer", in: threads) { [self] in
                withBackfill { writeUntilClosed() }
                backfill?.close()
                walSync?.close()
            }
            threads.notify(queue: .global()) { done.resume() }
        }
    }

    /// Starts one of the log's threads, scheduled as ``NamedThread/Scheduling/batch``.
    private static func startThread(named name: String, in group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
        group.enter()
        NamedThread.start(name, scheduling: .batch) {
            body()
            group.leave()
        }
    }

    /// Runs `body` with the background checkpoint installed on the writer's connection, if there is one.
    private func withBackfill(_ body: () -> Void) {
        guard let backfill else { return body() }
        writer.writeWithoutTransaction { db in backfill.install(on: db) }
        body()
        writer.writeWithoutTransaction { db in backfill.uninstall(from: db) }
    }

    private enum WriterStep {
        case write([LogWaiter], retries: Bool)
        /// Until an entry is queued, or the entries queued again are due.
        case sleep(until: ContinuousClock.Instant?)
        case linger
        case finish
    }

    /// Writes batches as they queue, and entries queued again after a failure in batches of their own, turn about
    /// with the queue when both wait. A queue of outcomes alone first lingers (once) for a caller to commit with, so
    /// that an outcome costs no commit of its own. A wake-up whose signal was meant for an earlier wait only sends the
    /// loop round again.
    private func writeUntilClosed() {
        var lingered = false
        var retriedLast = false
        var tree: MerkleFrontier?
        while true {
            let step = state.withLock { state -> WriterStep in
                if !(retriedLast && !state.queue.isEmpty), let retries = state.retries.take(at: .now, closing: state.closed) {
                    state.writer = .busy
                    return .write(retries, retries: true)
                }
                if state.queue.isEmpty {
                    if state.closed { return .finish }
                    state.writer = .sleeping
                    return .sleep(until: state.retries.due)
                }
                if !lingered && !state.closed && !state.queue.contains(where: { $0.reply != nil }) {
                    state.writer = .lingering
                    return .linger
                }
                let batch = state.queue
                state.queue.removeAll(keepingCapacity: true)
                state.writer = .busy
                return .write(batch, retries: false)
            }
            switch step {
            case .finish:
                return
            case .sleep(let due?):
                let remaining = max(.zero, due - .now)
                _ = wake.wait(timeout: .now() + .nanoseconds(Int(remaining / .nanoseconds(1))))
            case .sleep(nil):
                wake.wait()
            case .linger:
                _ = wake.wait(timeout: .now() + outcomeDelay)
                lingered = true
            case .write(let batch, let retries):
                lingered = false
                retriedLast = retries
                commit(batch, retries: retries, tree: &tree)
            }
        }
    }

    /// One transaction for every entry in the batch, and one sync. A batch with a single caller (no concurrency to
    /// gain from) commits with `synchronous = FULL`, unless the syncer is still busy with earlier batches: it would
    /// then only sync beside it, so the batch is handed to it like a larger one. A larger one commits without waiting
    /// for the disk and is synced here if nothing else waits to be written, or on the syncer's thread while the next
    /// batch is written.
    ///
    /// If the transaction fails before its commit (it rolled back), the batch's entries that no one waits for are
    /// queued again (see ``LogRetries``); not after a failed commit, which may have landed, nor once the log cannot be
    /// synced or its file was replaced, which last.
    ///
    /// - Parameters:
    ///   - retries: whether the batch is of entries queued again.
    ///   - tree: the log's tree as the last batch left it, if that batch committed; see ``write(_:syncLater:tree:)``.
    private func commit(_ batch: [LogWaiter], retries: Bool, tree: inout MerkleFrontier?) {
        let callers = AppendReplies(batch.lazy.compactMap(\.reply))
        let deferredSync = walSync.flatMap { callers.count > 1 || (callers.count == 1 && $0.isBusy) ? $0 : nil }
        if let lasting = durabilityFailure
            ?? files.first(where: { !$0.isUnchanged() }).map({ StoreError("the database file \($0.path) was removed or replaced") }) {
            return failed(batch, callers, lasting, retrying: false, retries: retries)
        }
        do {
            try write(batch.flatMap(\.entries), syncLater: deferredSync != nil, tree: &tree)
        } catch let error as UncommittedTransaction {
            return failed(batch, callers, error.cause, retrying: true, retries: retries)
        } catch {
            return failed(batch, callers, error, retrying: false, retries: retries)
        }
        if let deferredSync {
            let moreWaiting = state.withLock { !$0.queue.isEmpty }
            if moreWaiting { deferredSync.submit(callers) } else { deferredSync.syncHere(callers) }
        } else {
            answer(callers, with: .success(()))
        }
    }

    /// Refuses a batch that was not written. With `retrying`, for a failure that may pass, its entries that no one
    /// waits for are queued again, unless the log is closed; `retries` if the batch was of entries queued again.
    private func failed(_ batch: [LogWaiter], _ callers: AppendReplies, _ error: any Error, retrying: Bool, retries: Bool) {
        let now = ContinuousClock.now
        let kept = state.withLock { state -> Int in
            state.lastFailure = now
            guard retrying, !state.closed else { return 0 }
            return state.retries.requeue(from: batch, failedAt: now, wereRetries: retries)
        }
        unwritten.add(batch.entryCount - kept, ordering: .relaxed)
        answer(callers, with: .failure(error))
    }

    /// Answers a batch whose result is known, after the batches before it that still wait for a sync.
    private func answer(_ callers: AppendReplies, with result: Result<Void, any Error>) {
        if let walSync { walSync.answer(callers, with: result) } else { callers.deliver(result) }
    }

    /// Appends `entries` in one transaction. `tree` is the log's tree after the last committed batch, reused while
    /// the log's size shows that no one else appended since (the CLI appends its admin records); it becomes the tree
    /// with these entries once they are committed, and nil if they are not.
    private func write(_ entries: [LogAppender.Pending], syncLater: Bool, tree: inout MerkleFrontier?) throws {
        let known = tree
        tree = nil
        tree = try writer.writeWithoutTransaction { db in
            func appendInTransaction() throws -> MerkleFrontier {
                try Self.inImmediateTransaction(db) {
                    try LogAppender.append(db, entries, to: LogAppender.frontier(SQLiteSession(db: db), reusing: known))
                }
            }
            guard syncLater else { return try appendInTransaction() }
            // Only this transaction skips SQLite's own sync; every other write on the connection stays FULL.
            try db.cachedStatement(sql: "PRAGMA synchronous = NORMAL").execute()
            let committed = Result { try appendInTransaction() }
            try db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute()
            return try committed.get()
        }
    }

    /// Runs `body` in an IMMEDIATE transaction that commits if it returns and rolls back if it throws, through cached
    /// statements: GRDB's `inTransaction` prepares BEGIN and COMMIT anew for every batch. An error before the COMMIT
    /// is thrown as ``UncommittedTransaction``; one from the COMMIT as it is (a commit record may have reached the
    /// write-ahead log before a failed sync).
    private static func inImmediateTransaction<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        do {
            try db.cachedStatement(sql: "BEGIN IMMEDIATE").execute()
        } catch {
            throw UncommittedTransaction(cause: error)
        }
        do {
            let result: T
            do {
                result = try body()
            } catch {
                throw UncommittedTransaction(cause: error)
            }
            try db.cachedStatement(sql: "COMMIT").execute()
            return result
        } catch {
            if db.isInsideTransaction { try? db.cachedStatement(sql: "ROLLBACK").execute() }
            throw error
        }
    }

    /// Stops accepting entries; ``run()`` returns after writing and syncing what is queued.
    public func close() {
        let wakeWriter = state.withLock { state -> Bool in
            state.closed = true
            let wake = state.writer != .busy
            state.writer = .busy
            return wake
        }
        if wakeWriter { wake.signal() }
    }
}
