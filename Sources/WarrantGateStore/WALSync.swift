import Foundation
import Glibc
import Synchronization

/// Makes committed transactions durable by syncing the database's write-ahead log.
///
/// The decision log commits each batch with `synchronous = NORMAL` — SQLite appends the batch's frames to the WAL
/// without waiting for the disk — and then either syncs at once on its own thread (``syncHere(_:)``, when no other
/// batch is waiting to be written) or hands the batch's callers to this syncer's thread (``submit(_:)``) and goes on
/// writing the next batch. Either way a caller is resumed only after an `fdatasync` of the WAL that began after its
/// commit has returned, which is the guarantee `synchronous = FULL` gives. (A frame that leaves the WAL before the
/// sync does so by a checkpoint, which SQLite syncs at `NORMAL` too.)
///
/// A failed sync fails its callers and every later one: after `fdatasync` reports an error, the kernel may have
/// dropped the dirty pages, so no later success would prove them written.
final class WALSync: Sendable {
    private struct State {
        var waiting: [CheckedContinuation<Void, any Error>] = []
        var sleeping = false
        var closed = false
        var failure: StoreError?
    }

    private let walPath: String
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    /// The descriptor ``syncHere(_:)`` uses; the syncer's thread has its own.
    private let writerFile: Mutex<WALFile>

    /// - Parameter databasePath: the database file; its WAL is the file beside it named with `-wal`.
    init(databasePath: String) {
        walPath = databasePath + "-wal"
        writerFile = Mutex(WALFile(path: walPath))
    }

    deinit {
        writerFile.withLock { $0.close() }
    }

    /// Why the log can no longer be made durable, once a sync has failed.
    var failure: StoreError? { state.withLock { $0.failure } }

    /// Resumes `callers` after a sync that starts after this call, or fails them if it fails.
    func submit(_ callers: [CheckedContinuation<Void, any Error>]) {
        guard !callers.isEmpty else { return }
        let (failure, wakeSyncer) = state.withLock { state -> (StoreError?, Bool) in
            if let failure = state.failure { return (failure, false) }
            state.waiting.append(contentsOf: callers)
            defer { state.sleeping = false }
            return (nil, state.sleeping)
        }
        if let failure { for caller in callers { caller.resume(throwing: failure) } }
        if wakeSyncer { wake.signal() }
    }

    /// Syncs on the calling thread (the log's writer), then resumes `callers`, or fails them if the sync fails.
    func syncHere(_ callers: [CheckedContinuation<Void, any Error>]) {
        do {
            if let failure { throw failure }
            try writerFile.withLock { try $0.sync() }
            for caller in callers { caller.resume() }
        } catch {
            fail(callers, with: error)
        }
    }

    /// Syncs until ``close()`` is called and every submitted caller is resumed. Run on one dedicated thread.
    func syncUntilClosed() {
        var wal = WALFile(path: walPath)
        defer { wal.close() }
        while true {
            let (callers, finished) = state.withLock { state -> ([CheckedContinuation<Void, any Error>], Bool) in
                let callers = state.waiting
                state.waiting.removeAll(keepingCapacity: true)
                state.sleeping = callers.isEmpty && !state.closed
                return (callers, callers.isEmpty && state.closed)
            }
            if finished { return }
            if callers.isEmpty {
                wake.wait()
                continue
            }
            do {
                try wal.sync()
                for caller in callers { caller.resume() }
            } catch {
                fail(callers, with: error)
            }
        }
    }

    /// Records the failure for good and fails `callers` and everyone still waiting for a sync.
    private func fail(_ callers: [CheckedContinuation<Void, any Error>], with error: any Error) {
        let failure = (error as? StoreError) ?? StoreError("cannot sync \(walPath): \(error)")
        let stranded = state.withLock { state in
            state.failure = state.failure ?? failure
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for caller in callers + stranded { caller.resume(throwing: failure) }
    }

    /// Stops once the submitted callers are resumed.
    func close() {
        let wakeSyncer = state.withLock { state -> Bool in
            state.closed = true
            defer { state.sleeping = false }
            return state.sleeping
        }
        if wakeSyncer { wake.signal() }
    }
}

/// A descriptor on the WAL file, opened at its first sync. The file must stay the same one: SQLite keeps its WAL
/// while a connection is open, so a different file at the path means the WAL was deleted or replaced.
private struct WALFile {
    let path: String
    private var descriptor: Int32 = -1
    private var identity: FileIdentity?

    init(path: String) {
        self.path = path
    }

    mutating func sync() throws {
        guard let current = FileIdentity.at(path) else {
            throw StoreError("the write-ahead log \(path) is missing: committed decisions cannot be made durable")
        }
        if let identity {
            guard identity == current else {
                throw StoreError("the write-ahead log \(path) was replaced: committed decisions cannot be made durable")
            }
        } else {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw StoreError("cannot open \(path): \(String(cString: strerror(errno)))") }
            guard FileIdentity.of(descriptor: descriptor) == current else {
                throw StoreError("the write-ahead log \(path) changed while it was opened")
            }
            identity = current
        }
        guard fdatasync(descriptor) == 0 else { throw StoreError("cannot sync \(path): \(String(cString: strerror(errno)))") }
    }

    mutating func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }
}
