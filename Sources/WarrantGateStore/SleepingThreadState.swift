import Foundation
import Synchronization

/// The state of one of the log's threads that sleeps on a semaphore when it has nothing to do: it sets ``sleeping``
/// under the lock before it waits, and whoever gives it work clears it and signals.
protocol SleepingThreadState {
    var sleeping: Bool { get set }
}

extension Mutex where Value: SleepingThreadState {
    /// Applies `change` under the lock, then signals `wake` if the thread slept or was about to: it is then awake, so
    /// one signal serves however many changes came before it looked again.
    func update(_ change: (inout Value) -> Void, waking wake: DispatchSemaphore) {
        let wakeThread = withLock { state -> Bool in
            change(&state)
            defer { state.sleeping = false }
            return state.sleeping
        }
        if wakeThread { wake.signal() }
    }
}
