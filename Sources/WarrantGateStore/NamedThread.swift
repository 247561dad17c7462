import Foundation

/// Threads of the store's own (the log's writer and syncer, the export's reader and decoders), named so that
/// `top -H` and `perf` tell them apart.
enum NamedThread {
    /// - Parameter name: at most 15 bytes, Linux's limit for a thread's name.
    static func start(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            // Foundation's `Thread.name` names the thread only if it already knows its pthread, which races with
            // the thread's start; the kernel's own interface does not.
            try? name.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            body()
        }
        thread.start()
    }
}
