import Foundation

/// Runs blocking work — a process to its end, a server's start or stop — on a thread of its own, so that it never
/// holds one of the few threads that every other test's tasks share.
@discardableResult
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
