import Foundation
import Glibc

/// Threads of the store's own (the log's writer and syncer, the export's reader and decoders), named so that
/// `top -H` and `perf` tell them apart.
enum NamedThread {
    /// How the kernel schedules a thread.
    enum Scheduling {
        /// The default policy (`SCHED_OTHER`).
        case normal
        /// `SCHED_BATCH`: the same share of the CPU, but waking never preempts a running thread, so the thread waits
        /// for the next tick or for a CPU to fall idle. For work that other threads wait on in batches, such as the
        /// log's commits: an event loop is then not switched out in the middle of its requests each time a commit or
        /// a sync ends, and the writer finds more entries queued when it runs.
        case batch
        /// `SCHED_BATCH` at nice 10: for work that nobody waits on in the moment, such as signing a checkpoint, which
        /// then gives way to the event loops when the CPUs are busy (it still runs, with a smaller share).
        case background
    }

    /// Linux's `SCHED_BATCH`, which Glibc's module does not export (its header defines it only under `_GNU_SOURCE`).
    private static let schedBatch: Int32 = 3

    /// - Parameters:
    ///   - name: at most 15 bytes, Linux's limit for a thread's name.
    ///   - scheduling: the thread's policy. If the kernel refuses it, the thread runs with the default one.
    static func start(_ name: String, scheduling: Scheduling = .normal, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            if scheduling != .normal {
                // Linux applies the policy to the calling thread when given 0. SCHED_BATCH needs no privilege.
                var parameters = sched_param(sched_priority: 0)
                _ = sched_setscheduler(0, schedBatch, &parameters)
            }
            if scheduling == .background {
                // On Linux a nice value is the thread's own (0 is the calling thread); raising it needs no privilege.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            }
            // Named only once its policy is set, so a thread seen by its name runs with that policy. Foundation's
            // `Thread.name` names the thread only if it already knows its pthread, which races with the thread's
            // start; the kernel's own interface does not.
            try? name.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            body()
        }
        thread.start()
    }
}
