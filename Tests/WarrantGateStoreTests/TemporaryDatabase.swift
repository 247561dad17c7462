import Foundation
import GRDB
import WarrantGateStore

/// A real SQLite file in a fresh temporary directory, removed when the test is done.
final class TemporaryDatabase {
    let directory: URL
    let path: String
    let pool: DatabasePool

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-store-\(UUID().uuidString)")
        path = directory.appendingPathComponent("log.sqlite").path
        pool = try StoreDatabase.openPool(path: path)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }
}
