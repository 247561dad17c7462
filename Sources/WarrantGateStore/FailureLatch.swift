import Synchronization

/// The first failure that stops the decision log for good, kept once recorded. Every append reads it, so reading a
/// latch that has not failed takes no lock: a lock there would be contended by every event loop and the log's threads.
struct FailureLatch: ~Copyable, Sendable {
    private let recorded = Mutex<StoreError?>(nil)
    private let hasFailed = Atomic<Bool>(false)

    init() {}

    /// The failure kept, if any.
    var failure: StoreError? {
        guard hasFailed.load(ordering: .acquiring) else { return nil }
        return recorded.withLock { $0 }
    }

    /// Keeps `failure` unless one is kept already, and returns the one kept.
    @discardableResult
    func record(_ failure: StoreError) -> StoreError {
        recorded.withLock { kept in
            if kept == nil {
                kept = failure
                hasFailed.store(true, ordering: .releasing)
            }
            return kept!
        }
    }
}
