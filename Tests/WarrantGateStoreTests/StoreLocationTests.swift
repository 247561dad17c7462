import Foundation
import Testing
import WarrantGateStore

@Suite("Store locations")
struct StoreLocationTests {
    @Test("the same database is recognised through another path or role; another file or database is not")
    func sameDatabase() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-location-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("warrant-gate.sqlite").path
        let link = directory.appendingPathComponent("link.sqlite").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file)

        let installed = try StoreLocation(file)
        #expect(installed.isSameDatabase(as: try StoreLocation(link)))
        #expect(installed.isSameDatabase(as: try StoreLocation(directory.path + "/./sub/../warrant-gate.sqlite")))
        #expect(!installed.isSameDatabase(as: try StoreLocation(directory.appendingPathComponent("forged.sqlite").path)))
        #expect(!installed.isSameDatabase(as: try StoreLocation("postgres://wg@db.example:5432/warrant_gate")))

        let shared = try StoreLocation("postgres://wg_gateway@DB.example:5432/warrant_gate")
        #expect(shared.isSameDatabase(as: try StoreLocation("postgres://wg_admin@db.example:5432/warrant_gate")))
        #expect(!shared.isSameDatabase(as: try StoreLocation("postgres://wg_admin@db.example:5432/forged")))
        #expect(!shared.isSameDatabase(as: try StoreLocation("postgres://wg_admin@attacker.example:5432/warrant_gate")))
    }
}
