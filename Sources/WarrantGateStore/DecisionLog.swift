import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import Synchronization
import WarrantGateCore

/// The append-only decision log, with group commit.
///
/// ``append(_:)`` returns only once its entries are durably committed (`synchronous = FULL`). Concurrent callers
/// share transactions: while one batch is being written and synced, new entries queue up and go out together in
/// the next, so there is one fsync per batch rather than per request. If a commit fails, every caller in that batch
/// gets the error, and the gateway refuses the request: nothing is forwarded without its decision on disk.
///
/// The writer runs on a thread of its own rather than in the shared task pool, so that a busy pool — the very
/// requests waiting on this commit — never delays the next batch.
public final class DecisionLog: Sendable {
    private struct Waiter {
        let entries: [LogEntry]
        let continuation: CheckedContinuation<Void, any Error>?
    }

    private struct State {
        var queue: [Waiter] = []
        var writerSleeping = false
        var closed = false
    }

    private let writer: any DatabaseWriter
    private let file: DatabaseFileIdentity?
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    /// - Parameter path: the database file; when given, each batch first checks that the file is still the one
    ///   that was opened, since SQLite would otherwise go on writing to a deleted file that no one can read.
    public init(writer: any DatabaseWriter, path: String? = nil) {
        self.writer = writer
        self.file = path.flatMap(DatabaseFileIdentity.init(path:))
    }

    /// Appends entries and waits until they are durable.
    public func append(_ entries: [LogEntry]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            submit(Waiter(entries: entries, continuation: continuation))
        }
    }

    /// Queues entries without waiting for the commit: for records written after the answer (outcomes), which go
    /// out with the next batch. Entries queued before ``close()`` are written before ``run()`` returns.
    public func enqueue(_ entries: [LogEntry]) {
        submit(Waiter(entries: entries, continuation: nil))
    }

    private func submit(_ waiter: Waiter) {
        let (accepted, wakeWriter) = state.withLock { state -> (Bool, Bool) in
            guard !state.closed else { return (false, false) }
            state.queue.append(waiter)
            defer { state.writerSleeping = false }
            return (true, state.writerSleeping)
        }
        if !accepted { waiter.continuation?.resume(throwing: StoreError("the decision log is closed")) }
        if wakeWriter { wake.signal() }
    }

    /// Writes queued batches until ``close()`` is called and the queue is empty. Run exactly one of these.
    public func run() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                writeUntilClosed()
                done.resume()
            }
            thread.name = "warrant-gate-log-writer"
            thread.start()
        }
    }

    private func writeUntilClosed() {
        while true {
            let (batch, finished, sleep) = state.withLock { state -> ([Waiter], Bool, Bool) in
                if state.queue.isEmpty {
                    state.writerSleeping = !state.closed
                    return ([], state.closed, !state.closed)
                }
                let batch = state.queue
                state.queue.removeAll(keepingCapacity: true)
                return (batch, false, false)
            }
            if finished { return }
            if sleep {
                wake.wait()
                continue
            }
            commit(batch)
        }
    }

    /// One transaction, one fsync, for every entry in the batch.
    private func commit(_ batch: [Waiter]) {
        do {
            if let file, !file.isUnchanged() {
                throw StoreError("the database file \(file.path) was removed or replaced")
            }
            try writer.write { db in
                try LogAppender.append(db, batch.flatMap(\.entries).map { entry in
                    LogAppender.Pending(
                        kind: entry.kind.rawValue, time: Timestamp.format(entry.time), decisionId: entry.decisionId,
                        entry: entry.canonical
                    )
                })
            }
            for waiter in batch { waiter.continuation?.resume() }
        } catch {
            for waiter in batch { waiter.continuation?.resume(throwing: error) }
        }
    }

    /// Stops accepting entries; ``run()`` returns after writing what is queued.
    public func close() {
        let wakeWriter = state.withLock { state -> Bool in
            state.closed = true
            defer { state.writerSleeping = false }
            return state.writerSleeping
        }
        if wakeWriter { wake.signal() }
    }
}

/// The device and inode of a database file, to notice when the file is deleted or replaced under an open connection.
struct DatabaseFileIdentity: Sendable {
    let path: String
    private let device: UInt64
    private let inode: UInt64

    init?(path: String) {
        guard let (device, inode) = Self.stat(path) else { return nil }
        self.path = path
        self.device = device
        self.inode = inode
    }

    func isUnchanged() -> Bool {
        guard let (device, inode) = Self.stat(path) else { return false }
        return device == self.device && inode == self.inode
    }

    private static func stat(_ path: String) -> (UInt64, UInt64)? {
        var info = Glibc.stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }
}
