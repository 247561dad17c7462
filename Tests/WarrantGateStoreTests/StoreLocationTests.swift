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

        try FileManager.default.createDirectory(at: directory.appendingPathComponent("sub"), withIntermediateDirectories: true)
        let installed = try StoreLocation(file)
        #expect(installed.isSameDatabase(as: try StoreLocation(link)))
        #expect(installed.isSameDatabase(as: try StoreLocation(directory.path + "/./sub/../warrant-gate.sqlite")))
        // As the kernel follows links (up to 40), not as Foundation resolves them (it gives up after 20): a chain of 25
        // links to the directory, and a file not there yet in it.
        var hop = directory.path
        for index in 0..<25 {
            let next = directory.appendingPathComponent("hop\(index)").path
            try FileManager.default.createSymbolicLink(atPath: next, withDestinationPath: hop)
            hop = next
        }
        #expect(installed.isSameDatabase(as: try StoreLocation(hop + "/warrant-gate.sqlite")))
        #expect(try StoreLocation(directory.path + "/new.sqlite").isSameDatabase(as: try StoreLocation(hop + "/new.sqlite")))
        #expect(!installed.isSameDatabase(as: try StoreLocation(hop + "/new.sqlite")))
        #expect(!installed.isSameDatabase(as: try StoreLocation(directory.appendingPathComponent("forged.sqlite").path)))
        #expect(!installed.isSameDatabase(as: try StoreLocation("postgres://wg@db.example:5432/warrant_gate")))

        let shared = try StoreLocation("postgres://wg_gateway@DB.example:5432/warrant_gate")
        #expect(shared.isSameDatabase(as: try StoreLocation("postgres://wg_admin@db.example:5432/warrant_gate")))
        #expect(!shared.isSameDatabase(as: try StoreLocation("postgres://wg_admin@db.example:5432/forged")))
        #expect(!shared.isSameDatabase(as: try StoreLocation("postgres://wg_admin@attacker.example:5432/warrant_gate")))
    }
}
