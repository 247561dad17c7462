import NIOCore
import NIOPosix

/// Runs Swift Concurrency's tasks on the NIO event loops that the server and the upstream client use.
public enum EventLoopExecutor {
    /// Installs the shared event loop group as the global executor. Call once, from the main thread, before any
    /// task starts; returns false if the platform or an earlier call prevented it (tasks then use the default pool).
    @discardableResult
    public static func install() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}

/// Runs blocking work — synchronous SQLite calls, file reads — on NIO's blocking thread pool, so that it never
/// holds up an event loop (which, with ``EventLoopExecutor/install()``, also runs the tasks).
enum BlockingWork {
    static func run<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await NIOThreadPool.singleton.runIfActive(work)
    }
}

/// A task executor that runs jobs on one event loop, so that a request's stages, its log wait and its upstream
/// exchange all resume on the loop of the connection they answer.
///
/// NIO's global-executor hook runs each job as if on the loop's serial executor; every call into a nonisolated
/// async function then switches back to the generic executor through the loop's task queue. A job run with a task
/// executor preference runs on the generic executor already, so those calls stay on the thread without a switch,
/// and continuations resumed from other threads (the log writer) come back to this loop, not to whichever is next.
final class EventLoopTaskExecutor: TaskExecutor {
    private let loop: any EventLoop

    private init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }

    /// One executor per loop of the shared group, made once.
    private static let shared: [ObjectIdentifier: EventLoopTaskExecutor] = Dictionary(
        uniqueKeysWithValues: MultiThreadedEventLoopGroup.singleton.makeIterator().map { (ObjectIdentifier($0), EventLoopTaskExecutor($0)) }
    )

    /// The executor for `loop`.
    static func of(_ loop: any EventLoop) -> EventLoopTaskExecutor {
        shared[ObjectIdentifier(loop)] ?? EventLoopTaskExecutor(loop)
    }
}
