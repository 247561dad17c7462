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
public final class DecisionLog: Sendable {
    private struct Waiter {
        let entries: [LogEntry]
        let continuation: CheckedContinuation<Void, any Error>?
    }

    private struct State {
        var queue: [Waiter] = []
        var writerIdle: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let writer: any DatabaseWriter
    private let file: DatabaseFileIdentity?
    private let state = Mutex(State())

    /// - Parameter path: the database file; when given, each batch first checks that the file is still the one
    ///   that was opened, since SQLite would otherwise go on writing to a deleted file that no one can read.
    public init(writer: any DatabaseWriter, path: String? = nil) {
        self.writer = writer
        self.file = path.flatMap(DatabaseFileIdentity.init(path:))
    }

    /// Appends entries and waits until they are durable.
    public func append(_ entries: [LogEntry]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let wake: CheckedContinuation<Void, Never>? = state.withLock { state in
                if state.closed {
                    continuation.resume(throwing: StoreError("the decision log is closed"))
                    return nil
                }
                state.queue.append(Waiter(entries: entries, continuation: continuation))
                defer { state.writerIdle = nil }
                return state.writerIdle
            }
            wake?.resume()
        }
    }

    /// Queues entries without waiting for the commit: for records written after the answer (outcomes), which go
    /// out with the next batch. Entries queued before ``close()`` are written before ``run()`` returns.
    public func enqueue(_ entries: [LogEntry]) {
        let wake: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard !state.closed else { return nil }
            state.queue.append(Waiter(entries: entries, continuation: nil))
            defer { state.writerIdle = nil }
            return state.writerIdle
        }
        wake?.resume()
    }

    /// Writes queued batches until ``close()`` is called and the queue is empty. Run exactly one of these.
    public func run() async {
        while true {
            await waitForWork()
            let (batch, finished) = state.withLock { state in
                let batch = state.queue
                state.queue.removeAll(keepingCapacity: true)
                return (batch, state.closed && batch.isEmpty)
            }
            if finished { return }
            if !batch.isEmpty { await commit(batch) }
        }
    }

    private func waitForWork() async {
        await withCheckedContinuation { (idle: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if !state.queue.isEmpty || state.closed { return true }
                state.writerIdle = idle
                return false
            }
            if ready { idle.resume() }
        }
    }

    /// One transaction, one fsync, for every entry in the batch.
    private func commit(_ batch: [Waiter]) async {
        do {
            if let file, !file.isUnchanged() {
                throw StoreError("the database file \(file.path) was removed or replaced")
            }
            try await writer.write { db in
                try LogAppender.append(db, batch.flatMap(\.entries).map { entry in
                    LogAppender.Pending(
                        kind: entry.kind.rawValue, time: Timestamp.format(entry.time), decisionId: entry.decisionId,
                        entry: String(decoding: entry.canonical, as: UTF8.self)
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
        let wake = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.closed = true
            defer { state.writerIdle = nil }
            return state.writerIdle
        }
        wake?.resume()
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
