import Logging
import PostgresNIO

extension PostgresClient {
    /// ``withTransaction(logger:file:line:isolation:_:)``, throwing the error that ended the transaction (the closure's,
    /// or else the commit's, the begin's or the rollback's) rather than PostgresNIO's wrapper of them, so that a
    /// ``StoreError`` reaches the caller as it was thrown; wrapped in ``UncommittedTransaction`` when the transaction is
    /// known not to have committed.
    func transaction<Result: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let commitError = error.commitError { throw commitError }
            throw UncommittedTransaction(cause: error.closureError ?? error.beginError ?? error.rollbackError ?? error)
        } catch {
            // No connection could be leased: no transaction began.
            throw UncommittedTransaction(cause: error)
        }
    }
}
