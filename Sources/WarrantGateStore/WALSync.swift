import Foundation
import Glibc
import Synchronization

/// Makes committed transactions durable by syncing the database's write-ahead log, and answers the log's callers in
/// the order their batches were committed.
///
/// The decision log commits each batch with `synchronous = NORMAL` — SQLite appends the batch's frames to the WAL
/// without waiting for the disk — and then either syncs at once on its own thread (``syncHere(_:)``, when no other
/// batch is waiting to be written) or hands the batch's callers to this syncer's thread (``submit(_:)``) and goes on
/// writing the next batch. Either way a caller is answered only after an `fdatasync` of the WAL that began after its
/// commit has returned, which is the guarantee `synchronous = FULL` gives. (A frame that leaves the WAL before the
/// sync does so by a checkpoint, which SQLite syncs at `NORMAL` too.) Batches whose answer is already known (a lone
/// caller's, committed with `FULL`, or a failed one) go through ``answer(_:with:)``. No batch's callers are answered
/// before those of a batch handed over earlier.
///
/// A failed sync fails its callers and every later one: after `fdatasync` reports an error, the kernel may have
/// dropped the dirty pages, so no later success would prove them written.
final class WALSync: Sendable {
    /// Callers handed over by the writer, not answered yet.
    private struct Handover {
        var callers: AppendReplies
        /// The answer when it is already known; nil when it is the outcome of the next sync.
        let known: Result<Void, any Error>?
    }

    private struct State: SleepingThreadState {
        var waiting: [Handover] = []
        /// The syncer holds handovers it has not answered yet.
        var answering = false
        var sleeping = false
        var closed = false
    }

    private let walPath: String
    private let state = Mutex(State())
    /// Set under `state`'s lock, so that a caller queued after a failure always sees it.
    private let failed = FailureLatch()
    private let wake = DispatchSemaphore(value: 0)
    /// The descriptor ``syncHere(_:)`` uses; the syncer's thread has its own.
    private let writerFile: Mutex<SyncedFile>

    /// - Parameter databasePath: the database file; its WAL is the file beside it named with `-wal`.
    init(databasePath: String) {
        walPath = databasePath + "-wal"
        writerFile = Mutex(SyncedFile(path: walPath, role: "the write-ahead log"))
    }

    deinit {
        writerFile.withLock { $0.close() }
    }

    /// Whether callers handed over earlier are not answered yet.
    var isBusy: Bool { state.withLock { !$0.waiting.isEmpty || $0.answering } }

    /// Why the log can no longer be made durable, once a sync has failed.
    var failure: StoreError? { failed.failure }

    /// Answers `callers` after a sync that starts after this call, or fails them if it fails. The callers of
    /// batches submitted before one sync are answered together: one `execute` per executor.
    func submit(_ callers: AppendReplies) {
        guard !callers.isEmpty else { return }
        let handover = Handover(callers: callers, known: nil)
        let failure = state.withLock { state -> StoreError? in
            if let failure = failed.failure { return failure }
            enqueue(handover, in: &state)
            return nil
        }
        if let failure { callers.deliver(.failure(failure)) }
    }

    /// Syncs on the calling thread (the log's writer), then answers `callers`, or fails them if the sync fails. If
    /// earlier callers still wait for the syncer, these are queued behind them instead.
    func syncHere(_ callers: AppendReplies) {
        let handover = Handover(callers: callers, known: nil)
        guard !callers.isEmpty, !queuedBehindEarlier(handover) else { return }
        do {
            if let failure { throw failure }
            try writerFile.withLock { try $0.sync() }
            callers.deliver(.success(()))
        } catch {
            fail([handover], with: error)
        }
    }

    /// Answers `callers` with a result already known, once every caller handed over before them is answered.
    func answer(_ callers: AppendReplies, with result: Result<Void, any Error>) {
        guard !callers.isEmpty, !queuedBehindEarlier(Handover(callers: callers, known: result)) else { return }
        callers.deliver(result)
    }

    /// Queues `handover` if callers handed over earlier are not answered yet; false if there are none, and the writer
    /// answers it itself. Only the writer hands over, so none can be handed over meanwhile.
    private func queuedBehindEarlier(_ handover: Handover) -> Bool {
        state.withLock { state in
            guard !state.waiting.isEmpty || state.answering else { return false }
            enqueue(handover, in: &state)
            return true
        }
    }

    /// Queues `handover` for the syncer, merged into the handover before it when both wait for the same sync.
    private func enqueue(_ handover: Handover, in state: inout State) {
        if handover.known == nil, let last = state.waiting.indices.last, state.waiting[last].known == nil {
            state.waiting[last].callers.add(handover.callers)
        } else {
            state.waiting.append(handover)
        }
        if state.sleeping {
            state.sleeping = false
            wake.signal()
        }
    }

    /// Syncs until ``close()`` is called and every handed-over caller is answered. Run on one dedicated thread.
    func syncUntilClosed() {
        var wal = SyncedFile(path: walPath, role: "the write-ahead log")
        defer { wal.close() }
        while true {
            let (handovers, earlierFailure, finished) = state.withLock { state -> ([Handover], StoreError?, Bool) in
                let handovers = state.waiting
                state.waiting.removeAll(keepingCapacity: true)
                state.answering = !handovers.isEmpty
                state.sleeping = handovers.isEmpty && !state.closed
                return (handovers, failed.failure, handovers.isEmpty && state.closed)
            }
            if finished { return }
            if handovers.isEmpty {
                wake.wait()
                continue
            }
            do {
                // Queued while the syncer answered a failed sync: a sync now would prove nothing (see the type's doc).
                if let earlierFailure { throw earlierFailure }
                if handovers.contains(where: { $0.known == nil }) { try wal.sync() }
                for handover in handovers { handover.callers.deliver(handover.known ?? .success(())) }
            } catch {
                fail(handovers, with: error)
            }
            state.withLock { $0.answering = false }
        }
    }

    /// Records the failure for good and fails the callers that waited for a sync, here and still queued; callers
    /// whose answer was known get it.
    private func fail(_ handovers: [Handover], with error: any Error) {
        let failure = (error as? StoreError) ?? StoreError("cannot sync \(walPath): \(error)")
        let stranded = state.withLock { state in
            failed.record(failure)
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for handover in handovers + stranded { handover.callers.deliver(handover.known ?? .failure(failure)) }
    }

    /// Stops once the handed-over callers are answered.
    func close() {
        state.update({ $0.closed = true }, waking: wake)
    }
}
