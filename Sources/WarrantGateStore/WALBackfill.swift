import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization

/// Copies the write-ahead log's committed frames into the database file (SQLite's passive checkpoint) and syncs them
/// there, on a thread and connection of its own, so that the log's writer, which still checkpoints the whole WAL
/// every ``StoreDatabase/checkpointPages`` pages, finds little left to copy or sync.
///
/// SQLite checkpoints on the committing connection. Left to itself, the writer copied every page the WAL held and
/// synced the database file inside a commit, while every request waited on it. Installed on the writer's connection,
/// this replaces that connection's automatic checkpoint (both are SQLite's WAL hook):
/// - every ``step`` pages of new WAL, up to ``StoreDatabase/checkpointPages`` less one step, wake this thread for a
///   passive checkpoint, which never blocks the writer. One that stops short of the WAL's end (the writer committed
///   meanwhile) leaves its pages unsynced, and this thread syncs the database file after it;
/// - at ``StoreDatabase/checkpointPages`` pages the committing connection checkpoints itself, as SQLite's own hook
///   did. Only a checkpoint that copies the whole WAL lets the next commit start the WAL over, and under load only the
///   writer, between two of its commits, can copy it whole. So the WAL stays bounded.
///
/// A checkpoint or sync that fails, other than for another checkpoint running, is ``failure``: the pages it copied
/// may not be on disk while the WAL no longer counts on them, so the log stops accepting entries, and this object no
/// longer checkpoints, so that the WAL keeps every frame until the gateway restarts. Nor does it once the log's
/// ``WALSync`` has failed: a checkpoint would copy frames whose write-back may have failed into the database file,
/// and let the WAL start over without them.
final class WALBackfill: Sendable {
    private static let logger = Logger(label: "warrant-gate.store")

    private struct State: SleepingThreadState {
        var requested = false
        var sleeping = false
        var closed = false
    }

    private let database: DatabaseFileIdentity
    /// The log's syncer of the WAL, whose failure stops checkpoints too.
    private let walSync: WALSync?
    /// Pages of new WAL between two background checkpoints.
    let step: Int
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    /// The WAL's size in steps at the last commit: a new step wakes the thread.
    private let lastStep = Atomic<Int>(0)
    private let copies = Atomic<Int>(0)
    private let failed = FailureLatch()

    /// - Parameters:
    ///   - database: the database file as the log opened it; the thread refuses to open any other.
    ///   - walSync: the log's syncer of the WAL, if any: once its sync has failed, nothing checkpoints.
    ///   - step: pages of new WAL between two background checkpoints.
    init(database: DatabaseFileIdentity, walSync: WALSync?, step: Int = StoreDatabase.checkpointPages / 8) {
        self.database = database
        self.walSync = walSync
        self.step = step
    }

    /// Background checkpoints that left frames of the WAL copied into the database file.
    var checkpoints: Int { copies.load(ordering: .relaxed) }

    /// Why a checkpoint, or the sync after one, failed: from then on the log's entries cannot be made durable.
    var failure: StoreError? { failed.failure }

    /// Whether checkpoints have stopped for good: one failed, or the WAL's sync did.
    private var stopped: Bool { failure != nil || walSync?.failure != nil }

    /// Makes `db` (the log writer's connection) wake this thread as its WAL grows, and checkpoint itself at
    /// ``StoreDatabase/checkpointPages``, until ``uninstall(from:)``.
    func install(on db: Database) {
        lastStep.store(0, ordering: .relaxed)
        let context = Unmanaged.passRetained(self).toOpaque()
        sqlite3_wal_hook(db.sqliteConnection, { context, connection, name, pages in
            Unmanaged<WALBackfill>.fromOpaque(context!).takeUnretainedValue().committed(connection, name, pages: Int(pages))
            return SQLITE_OK
        }, context)
    }

    /// Gives `db` SQLite's automatic checkpoint back, and releases the hook's reference to this object.
    func uninstall(from db: Database) {
        sqlite3_wal_autocheckpoint(db.sqliteConnection, Int32(StoreDatabase.checkpointPages))
        Unmanaged.passUnretained(self).release()
    }

    /// Called by SQLite after each commit on the connection it is installed on (the log's batches, and the registry's
    /// and checkpoints' writes through the same connection), with the WAL's size in pages.
    private func committed(_ connection: OpaquePointer?, _ name: UnsafePointer<CChar>?, pages: Int) {
        guard !stopped else { return }
        if pages >= StoreDatabase.checkpointPages {
            // What SQLite's own hook does at its threshold: a passive checkpoint on the committing connection.
            let code = sqlite3_wal_checkpoint(connection, name)
            if code != SQLITE_OK && code & 0xff != SQLITE_BUSY {
                fail("cannot copy the write-ahead log into \(database.path): \(String(cString: sqlite3_errstr(code)))")
            }
        }
        let step = pages / self.step
        // After the WAL starts over, its size in steps falls back without waking anyone; the last step before the
        // writer's own checkpoint is left to it, so that the two do not contend for the checkpoint lock.
        if step > lastStep.exchange(step, ordering: .relaxed) && pages < StoreDatabase.checkpointPages - self.step {
            request()
        }
    }

    private func request() {
        state.update({ $0.requested = true }, waking: wake)
    }

    private func fail(_ message: String) {
        failed.record(StoreError(message))
    }

    /// Runs requested checkpoints until ``close()``. Run on one dedicated thread.
    func runUntilClosed() {
        var file = SyncedFile(path: database.path, role: "the database file")
        defer { file.close() }
        let connection: DatabaseQueue
        // GRDB would create a missing database: the file must be the one the log opened, before and after.
        func checkSameFile() throws {
            guard database.isUnchanged() else { throw StoreError("\(database.path) was removed or replaced") }
        }
        do {
            // The descriptor is opened before any checkpoint, so that it sees a failed write-back of what they copy.
            try file.sync()
            try checkSameFile()
            var configuration = Configuration()
            configuration.label = "warrant-gate-backfill"
            connection = try DatabaseQueue(path: database.path, configuration: configuration)
            try checkSameFile()
            // A checkpoint syncs the WAL before it copies a frame out of it (at any setting but OFF; FULL says so).
            try connection.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        } catch {
            // The writer's own checkpoint still bounds the WAL; only its stalls come back.
            Self.logger.error("the log's background checkpoint is off", metadata: ["error": "\(StoreDatabase.describe(error))"])
            return
        }
        while true {
            let (run, finished) = state.withLock { state -> (Bool, Bool) in
                defer { state.requested = false }
                state.sleeping = !state.requested && !state.closed
                return (state.requested, state.closed)
            }
            if finished { return }
            guard run else {
                wake.wait()
                continue
            }
            guard !stopped else { continue }
            do {
                let (walPages, backfilled) = try connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
                guard backfilled > 0 else { continue }
                copies.add(1, ordering: .relaxed)
                // SQLite syncs the database file only after a checkpoint that reached the WAL's end.
                if backfilled < walPages { try file.sync() }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                // Another checkpoint is running (the writer's, or the admin CLI's), or the WAL's index was being
                // written: a later checkpoint copies what this one would have.
            } catch {
                fail("cannot copy the write-ahead log into \(database.path): \(StoreDatabase.describe(error))")
            }
        }
    }

    /// Stops the thread after the checkpoint it is running, if any.
    func close() {
        state.update({ $0.closed = true }, waking: wake)
    }
}
