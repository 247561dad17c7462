import Foundation
import GRDB
import Synchronization
import WarrantGateCore

/// The append-only decision log, with group commit.
///
/// ``append(_:)`` returns only once its entries are durably committed. Concurrent callers share transactions:
/// while one batch is being written, new entries queue up and go out together in the next. If a commit fails, every
/// caller in that batch gets the error, and the gateway refuses the request: nothing is forwarded without its
/// decision on disk.
///
/// The writer runs on a thread of its own rather than in the shared task pool, so that a busy pool — the very
/// requests waiting on this commit — never delays the next batch. With a database path, durability is pipelined
/// under load: the writer commits without waiting for the disk and, when another batch is already queued, a second
/// thread syncs the write-ahead log before resuming the batch's callers (``WALSync``), so one batch is written while
/// the one before it is synced. Without a path (a database with no file to sync), each batch commits with
/// `synchronous = FULL`.
public final class DecisionLog: Sendable {
    private struct Waiter {
        let entries: [LogAppender.Pending]
        let continuation: CheckedContinuation<Void, any Error>?
    }

    /// What the writer thread is doing, so that a submitter knows whether to wake it.
    private enum WriterMode {
        case busy
        /// Waiting for any entry.
        case sleeping
        /// Holding queued outcomes for up to ``outcomeDelay``, until a caller who waits on a commit arrives.
        case lingering
    }

    private struct State {
        var queue: [Waiter] = []
        var writer = WriterMode.busy
        var closed = false
    }

    private let writer: any DatabaseWriter
    /// The database file and its write-ahead log, as they were when the log was opened.
    private let files: [DatabaseFileIdentity]
    private let walSync: WALSync?
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    /// How long queued outcomes may wait for a decision to share its commit.
    private let outcomeDelay: DispatchTimeInterval

    /// - Parameters:
    ///   - path: the database file; when given, each batch first checks that the file and its write-ahead log are
    ///     still the ones that were opened, since SQLite would otherwise go on writing to a deleted file that no one
    ///     can read, and under load the log is synced off the writer's thread.
    ///   - outcomeDelay: how long entries queued with ``enqueue(_:)`` may wait for an ``append(_:)`` to commit
    ///     with. Written on their own, they would cost a commit and a sync each, on the writer's thread, ahead of
    ///     the decisions that requests wait for.
    init(writer: any DatabaseWriter, path: String? = nil, outcomeDelay: Duration = .milliseconds(20)) {
        self.writer = writer
        self.outcomeDelay = .nanoseconds(Int(outcomeDelay / .nanoseconds(1)))
        self.files = path.map { [$0, $0 + "-wal"].compactMap(DatabaseFileIdentity.init(path:)) } ?? []
        self.walSync = path.map(WALSync.init(databasePath:))
    }

    /// Appends entries and waits until they are durable.
    public func append(_ entries: [LogEntry]) async throws {
        let pending = entries.map(LogAppender.Pending.init)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            submit(Waiter(entries: pending, continuation: continuation))
        }
    }

    /// Queues entries without waiting for the commit: for records written after the answer (outcomes). They go out
    /// with the next batch that an ``append(_:)`` waits for, or on their own after the log's `outcomeDelay`.
    /// Entries queued before ``close()`` are written before ``run()`` returns.
    public func enqueue(_ entries: [LogEntry]) {
        submit(Waiter(entries: entries.map(LogAppender.Pending.init), continuation: nil))
    }

    private func submit(_ waiter: Waiter) {
        if let failure = walSync?.failure {
            waiter.continuation?.resume(throwing: failure)
            return
        }
        let waits = waiter.continuation != nil
        let (accepted, wakeWriter) = state.withLock { state -> (Bool, Bool) in
            guard !state.closed else { return (false, false) }
            state.queue.append(waiter)
            // A lingering writer waits for a caller; queued outcomes alone leave it be.
            let wake = state.writer == .sleeping || (state.writer == .lingering && waits)
            if wake { state.writer = .busy }
            return (true, wake)
        }
        if !accepted { waiter.continuation?.resume(throwing: StoreError("the decision log is closed")) }
        if wakeWriter { wake.signal() }
    }

    /// Writes queued batches until ``close()`` is called and every queued entry is written and synced. Run exactly
    /// one of these.
    public func run() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let threads = DispatchGroup()
            let walSync = self.walSync
            if let walSync {
                Self.startThread(named: "wg-log-sync", in: threads) { walSync.syncUntilClosed() }
            }
            Self.startThread(named: "wg-log-writer", in: threads) { [self] in
                writeUntilClosed()
                walSync?.close()
            }
            threads.notify(queue: .global()) { done.resume() }
        }
    }

    private static func startThread(named name: String, in group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
        group.enter()
        NamedThread.start(name) {
            body()
            group.leave()
        }
    }

    private enum WriterStep {
        case write([Waiter])
        case sleep
        case linger
        case finish
    }

    /// Writes batches as they queue. A queue of outcomes alone first lingers (once) for a caller to commit with, so
    /// that an outcome costs no commit of its own. A wake-up whose signal was meant for an earlier wait only sends
    /// the loop round again.
    private func writeUntilClosed() {
        var lingered = false
        while true {
            let step = state.withLock { state -> WriterStep in
                if state.queue.isEmpty {
                    if state.closed { return .finish }
                    state.writer = .sleeping
                    return .sleep
                }
                if !lingered && !state.closed && !state.queue.contains(where: { $0.continuation != nil }) {
                    state.writer = .lingering
                    return .linger
                }
                let batch = state.queue
                state.queue.removeAll(keepingCapacity: true)
                state.writer = .busy
                return .write(batch)
            }
            switch step {
            case .finish:
                return
            case .sleep:
                wake.wait()
            case .linger:
                _ = wake.wait(timeout: .now() + outcomeDelay)
                lingered = true
            case .write(let batch):
                lingered = false
                commit(batch)
            }
        }
    }

    /// One transaction for every entry in the batch, and one sync. A batch with a single caller (no concurrency to
    /// gain from) commits with `synchronous = FULL`. A larger one commits without waiting for the disk and is synced
    /// here if nothing else waits to be written, or on the syncer's thread while the next batch is written.
    private func commit(_ batch: [Waiter]) {
        let callers = batch.compactMap(\.continuation)
        let deferredSync = callers.count > 1 ? walSync : nil
        do {
            if let failure = walSync?.failure { throw failure }
            if let changed = files.first(where: { !$0.isUnchanged() }) {
                throw StoreError("the database file \(changed.path) was removed or replaced")
            }
            try write(batch.flatMap(\.entries), syncLater: deferredSync != nil)
        } catch {
            for caller in callers { caller.resume(throwing: error) }
            return
        }
        if let deferredSync {
            let moreWaiting = state.withLock { !$0.queue.isEmpty }
            if moreWaiting { deferredSync.submit(callers) } else { deferredSync.syncHere(callers) }
        } else {
            for caller in callers { caller.resume() }
        }
    }

    private func write(_ entries: [LogAppender.Pending], syncLater: Bool) throws {
        try writer.writeWithoutTransaction { db in
            guard syncLater else {
                return try db.inTransaction(.immediate) {
                    try LogAppender.append(db, entries)
                    return .commit
                }
            }
            // Only this transaction skips SQLite's own sync; every other write on the connection stays FULL.
            try db.cachedStatement(sql: "PRAGMA synchronous = NORMAL").execute()
            let committed = Result {
                try db.inTransaction(.immediate) {
                    try LogAppender.append(db, entries)
                    return .commit
                }
            }
            try db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute()
            try committed.get()
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
