import Foundation
import Logging
import NIOCore
import PostgresNIO
import WarrantGateCore

/// Signs checkpoints of the PostgreSQL log, one signer at a time across every gateway and CLI, never two that fork.
///
/// A signing is one transaction. It first takes a transaction-scoped advisory lock with `pg_try_advisory_xact_lock`:
/// while another signer holds it, this one signs nothing and leaves the signing to that one. It then recomputes the
/// root at the last checkpoint's size from the stored tree and refuses if it differs, and inserts the new checkpoint
/// with the id after the last one's, so that even a signer that bypassed the lock could not add a second checkpoint
/// after the same predecessor (compare-and-swap on the primary key).
public struct PostgresCheckpointer: Sendable {
    /// The class of WarrantGate's advisory locks ("WG" in ASCII), in their two-key form; the signing lease is object 1.
    static let lockClass: Int32 = 0x5747

    let client: PostgresClient
    public let key: LogSigningKey
    /// The origin line, which names this log.
    public let origin: String
    let logger: Logger

    public init(client: PostgresClient, key: LogSigningKey, origin: String, logger: Logger) {
        self.client = client
        self.key = key
        self.origin = origin
        self.logger = logger
    }

    /// Signs a checkpoint of the whole log if it has grown since the last one (or if `always`); nil when there was
    /// nothing new to sign, or another signer holds the lease.
    @discardableResult
    public func sign(always: Bool = false, at time: Date = Date()) async throws -> StoredCheckpoint? {
        let (key, origin, logger) = (key, origin, logger)
        return try await client.transaction(logger: logger) { connection -> StoredCheckpoint? in
            var leased = false
            for try await granted in try await connection.query("SELECT pg_try_advisory_xact_lock(\(Self.lockClass), 1)", logger: logger)
                .decode(Bool.self) {
                leased = granted
            }
            guard leased else { return nil }
            var found: (Int64, ByteBuffer)?
            for try await row in try await connection.query("SELECT size, subtrees FROM tree_frontier WHERE id = 1", logger: logger)
                .decode((Int64, ByteBuffer).self) {
                found = row
            }
            guard let (size, encoded) = found, let frontier = MerkleFrontier(size: UInt64(max(size, 0)), encoded: encoded) else {
                throw StoreError("the log's tree frontier is missing or malformed")
            }
            // The frontier row is the appenders' to write: sign its root only if the stored tree agrees.
            guard try await PostgresLogTree.root(connection, size: frontier.size, logger: logger) == frontier.root else {
                throw StoreError("the tree frontier does not match the stored tree: refusing to sign")
            }
            let last = try await PostgresLogTree.checkpoints(connection, latestOnly: true, logger: logger).last
            var rootAtLast: Merkle.Hash?
            if let last { rootAtLast = try await PostgresLogTree.root(connection, size: min(last.size, frontier.size), logger: logger) }
            guard let checkpoint = try Checkpointer.next(origin: origin, frontier: frontier, last: last, rootAtLast: rootAtLast, always: always) else {
                return nil
            }
            let note = try checkpoint.signed(by: key)
            let (id, overflow) = (last?.id ?? 0).addingReportingOverflow(1)
            guard !overflow else { throw StoreError("the checkpoints' ids are exhausted") }
            let stamp = Timestamp.format(time)
            try await connection.query(
                """
                INSERT INTO checkpoints (id, size, root, note, time)
                VALUES (\(id), \(Int64(checkpoint.size)), \(ByteBuffer(bytes: checkpoint.root)), \(note), \(stamp))
                """,
                logger: logger
            )
            return StoredCheckpoint(id: id, size: checkpoint.size, root: checkpoint.root, note: note, time: stamp)
        }
    }
}
