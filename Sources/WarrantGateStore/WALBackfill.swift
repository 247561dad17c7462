import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Copies the write-ahead log's committed frames into the database file (SQLite's passive checkpoint) on a thread and
/// connection of its own, so that the log's writer, which still checkpoints the whole WAL every
/// ``StoreDatabase/checkpointPages`` pages, finds little left to copy.
///
/// SQLite checkpoints on the committing connection. Left to itself, the writer copied every page the WAL held and
/// synced the database file inside a commit, while every request waited on it. Installed on the writer's connection,
/// this replaces that connection's automatic checkpoint (both are SQLite's WAL hook):
/// - every ``step`` pages of new WAL wake this thread for a passive checkpoint, which never blocks the writer;
/// - at ``StoreDatabase/checkpointPages`` pages the writer still checkpoints itself, as SQLite did. Only a checkpoint
///   that copied the whole WAL lets the next commit start the WAL over, and under load only the writer, between two
///   of its commits, can copy it whole. So the WAL stays bounded as before.
///
/// A background checkpoint that fails costs only latency, since the writer's own still bounds the WAL; failures are
/// counted in ``failures``. Durability is unchanged: a checkpoint syncs the WAL before it copies a frame out of it.
final class WALBackfill: Sendable {
    /// Pages of new WAL between two background checkpoints.
    static let step = StoreDatabase.checkpointPages / 8

    private struct State {
        var requested = false
        var sleeping = false
        var closed = false
    }

    private let path: String
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    /// The WAL's size in steps at the writer's last commit: a new step wakes the thread.
    private let lastStep = Atomic<Int>(0)
    private let completed = Atomic<Int>(0)
    private let failed = Atomic<Int>(0)

    /// - Parameter databasePath: the database file whose WAL this copies.
    init(databasePath: String) {
        path = databasePath
    }

    /// Background checkpoints that ran (whether or not they found frames to copy).
    var checkpoints: Int { completed.load(ordering: .relaxed) }

    /// Background checkpoints that failed for a reason other than another checkpoint running.
    var failures: Int { failed.load(ordering: .relaxed) }

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

    /// Called by SQLite on the writer's thread after each commit on its connection, with the WAL's size in pages.
    private func committed(_ connection: OpaquePointer?, _ name: UnsafePointer<CChar>?, pages: Int) {
        // What SQLite's own hook does at its threshold: a passive checkpoint on the committing connection.
        if pages >= StoreDatabase.checkpointPages { sqlite3_wal_checkpoint(connection, name) }
        let step = pages / Self.step
        // After the WAL starts over, its size in steps falls back without waking anyone.
        if step > lastStep.exchange(step, ordering: .relaxed) { request() }
    }

    private func request() {
        let wakeThread = state.withLock { state -> Bool in
            state.requested = true
            defer { state.sleeping = false }
            return state.sleeping
        }
        if wakeThread { wake.signal() }
    }

    /// Runs requested checkpoints until ``close()``. Run on one dedicated thread.
    func runUntilClosed() {
        var configuration = Configuration()
        configuration.label = "warrant-gate-backfill"
        let connection: DatabaseQueue
        do {
            connection = try DatabaseQueue(path: path, configuration: configuration)
            // A checkpoint syncs the WAL before it copies, and the database file after.
            try connection.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        } catch {
            failed.add(1, ordering: .relaxed)
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
            do {
                try connection.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
                completed.add(1, ordering: .relaxed)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                // The writer is checkpointing itself: its checkpoint copies what this one would have.
            } catch {
                failed.add(1, ordering: .relaxed)
            }
        }
    }

    /// Stops the thread after the checkpoint it is running, if any.
    func close() {
        let wakeThread = state.withLock { state -> Bool in
            state.closed = true
            defer { state.sleeping = false }
            return state.sleeping
        }
        if wakeThread { wake.signal() }
    }
}
