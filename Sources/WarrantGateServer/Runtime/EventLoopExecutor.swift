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
/// holds up an event loop (which, with ``EventLoopExecutor/install()``, also runs the tasks). Every synchronous store
/// call from async code goes through here: on PostgreSQL such a call waits for the server's answer.
public enum BlockingWork {
    public static func run<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await NIOThreadPool.singleton.runIfActive(work)
    }
}
