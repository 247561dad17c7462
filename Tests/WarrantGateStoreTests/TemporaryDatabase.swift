import Foundation
import GRDB
@testable import WarrantGateStore

/// A real SQLite file in a fresh temporary directory, removed when the test is done.
final class TemporaryDatabase {
    let directory: URL
    let path: String
    let pool: DatabasePool

    /// - Parameter lastMigration: migrate only this far, as an earlier release left its databases; by default the
    ///   database is opened as the gateway opens it, fully migrated.
    init(migratedUpTo lastMigration: String? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-store-\(UUID().uuidString)")
        path = directory.appendingPathComponent("log.sqlite").path
        if let lastMigration {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            pool = try DatabasePool(path: path)
            try StoreDatabase.migrator.migrate(pool, upTo: lastMigration)
        } else {
            pool = try StoreDatabase.openPool(path: path)
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }
}
