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

    /// Starts a detached thread that runs `body`; false if the system would not start one (a process or memory
    /// limit), in which case `body` is not run.
    ///
    /// - Parameters:
    ///   - name: at most 15 bytes, Linux's limit for a thread's name.
    ///   - scheduling: the thread's policy. If the kernel refuses it, the thread runs with the default one.
    @discardableResult
    static func start(_ name: String, scheduling: Scheduling = .normal, _ body: @escaping @Sendable () -> Void) -> Bool {
        let work = Unmanaged.passRetained(ThreadWork {
            if scheduling != .normal {
                // Linux applies the policy to the calling thread when given 0. SCHED_BATCH needs no privilege.
                var parameters = sched_param(sched_priority: 0)
                _ = sched_setscheduler(0, schedBatch, &parameters)
            }
            if scheduling == .background {
                // On Linux a nice value is the thread's own (0 is the calling thread); raising it needs no privilege.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            }
            // Named only once its policy is set, so a thread seen by its name runs with that policy.
            try? name.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            body()
        })
        var thread = pthread_t()
        // pthread_create, unlike Foundation's Thread, says when it could not start the thread.
        let started = pthread_create(&thread, nil, { context in
            Unmanaged<ThreadWork>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, work.toOpaque())
        guard started == 0 else {
            work.release()
            return false
        }
        pthread_detach(thread)
        return true
    }
}

/// What a ``NamedThread`` runs, passed through `pthread_create`'s context pointer.
private final class ThreadWork: Sendable {
    let run: @Sendable () -> Void

    init(_ run: @escaping @Sendable () -> Void) {
        self.run = run
    }
}
