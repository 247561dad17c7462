import Foundation
import Testing

/// Runs a suite's tests on threads of their own instead of Swift concurrency's shared pool.
///
/// These tests wait for the processes they run by blocking: reading a pipe to its end, `waitUntilExit`, sleeping
/// between polls. The shared pool has one thread per core (two on CI), so two such tests on it stall every test
/// beside them, and one with a deadline (an HTTP client's) then fails for no fault of its own.
struct OwnThreads: SuiteTrait, TestTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await withTaskExecutorPreference(ThreadPerJob.shared) { try await function() }
    }
}

extension Trait where Self == OwnThreads {
    /// The suite's tests run, and may block, on threads of their own.
    static var ownThreads: Self { OwnThreads() }
}

/// Runs each job it is given on a new thread, so that a job may block for as long as it likes.
final class ThreadPerJob: TaskExecutor {
    static let shared = ThreadPerJob()
    /// The key its threads carry in their thread dictionary.
    static let marker = "ThreadPerJob"

    /// Whether the calling code runs on one of its threads.
    static var isCurrent: Bool { Thread.current.threadDictionary[marker] != nil }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        Thread {
            Thread.current.threadDictionary[Self.marker] = true
            job.runSynchronously(on: executor)
        }.start()
    }
}

@Suite("Suites that run processes", .ownThreads)
struct OwnThreadsTests {
    @Test("run their tests, and what the tests await, on threads of their own")
    func ownThreads() async throws {
        #expect(ThreadPerJob.isCurrent)
        try await Task.sleep(for: .milliseconds(1))
        #expect(ThreadPerJob.isCurrent)
    }

    @Test("run a test that never awaits on a thread of its own too")
    func synchronous() {
        #expect(ThreadPerJob.isCurrent)
    }
}
