import Foundation
import GRDB
import Testing
import WarrantGateCore
import WarrantGateTestSupport
@testable import WarrantGateStore

extension StoreBackendTests {
    /// Which document a scan is (``DocumentIdentity``): recorded at registration, read from the stored scan for one
    /// registered before, written once, and compared with every document on file.
    @Suite("Identities of documents")
    struct Identities {
        /// A signed PDF; its signature is a placeholder, since an identity reads what a signature covers, not whom.
        static func signedPDF(_ text: String) throws -> [UInt8] {
            try TestPDF.signed(text: text) { _ in [0x30, 0x00] }
        }

        /// A warrant registered with `scan`, its identity read unless `identified` is false (as before identities were).
        static func scanned(_ reference: String, _ scan: [UInt8], identified: Bool = true) -> DocumentRegistration {
            var registration = Sample.warrant(reference)
            registration.noDocumentReason = nil
            registration.documentSHA256 = DocumentStore.digest(of: Data(scan))
            registration.documentIdentity = identified ? DocumentIdentity.digest(of: scan) : nil
            return registration
        }

        /// The message of the StoreError registering `registration` throws, or nil if it registers.
        static func refusal(_ registry: Registry, _ registration: DocumentRegistration) async throws -> String? {
            do {
                _ = try await blocking { try registry.register(registration, operator: "clerk", at: Sample.clock(20)) }
                return nil
            } catch let error as StoreError {
                return error.message
            }
        }

        /// A red-team pass: a quashed warrant's signed PDF registered again with a newline appended.
        @Test("a copy of a quashed signed scan is refused; one registered before identities is read from its stored scan first", arguments: Backend.testable)
        func copies(_ backend: Backend) async throws {
            let fixture = try await StoreFixture.start(backend)
            defer { fixture.stop() }
            let store = try await fixture.newStore()
            let registry = store.registry(timeZone: Sample.denver)
            let scans = DocumentStore(filesDirectory: fixture.directory.path)
            let quashed = try Self.signedPDF("WARRANT ONE"), earlier = try Self.signedPDF("WARRANT TWO")
            try await blocking {
                _ = try registry.register(Self.scanned("JW-1", quashed), operator: "clerk", at: Sample.clock(1))
                try registry.revoke(reference: "JW-1", reason: "quashed", operator: "clerk", at: Sample.clock(2))
                _ = try registry.register(Self.scanned("JW-2", earlier, identified: false), operator: "clerk", at: Sample.clock(3))
                try registry.revoke(reference: "JW-2", reason: "quashed", operator: "clerk", at: Sample.clock(4))
            }
            let copy = try #require(try await Self.refusal(registry, Self.scanned("JW-1-COPY", quashed + [0x0A])))
            #expect(copy.hasPrefix("this scan (sha256:\(DocumentStore.digest(of: Data(quashed + [0x0A])))) is a copy of the one registered as JW-1 (revoked)"), "\(copy)")
            let same = try #require(try await Self.refusal(registry, Self.scanned("JW-1-SAME", quashed)))
            #expect(same.contains("is already registered, as JW-1 (revoked)"), "\(same)")

            // JW-2's identity was never read, and its scan is not in the store: nothing can tell a copy of it.
            let missing = try await blocking { () -> String? in
                do { try registry.identifyScans(in: scans) } catch let error as StoreError { return error.message }
                return nil
            }
            #expect(missing?.hasPrefix("the scan of JW-2 (sha256:\(DocumentStore.digest(of: Data(earlier)))) cannot be read") == true, "\(missing ?? "read")")
            try scans.store(Data(earlier))
            #expect(try await blocking { try registry.identifyScans(in: scans) } == 1)
            #expect(try await blocking { try registry.identifyScans(in: scans) } == 0, "read once")
            let earlierCopy = try #require(try await Self.refusal(registry, Self.scanned("JW-2-COPY", earlier + [0x20, 0x0A])))
            #expect(earlierCopy.contains("is a copy of the one registered as JW-2 (revoked)"), "\(earlierCopy)")
            #expect(try await Self.refusal(registry, Self.scanned("JW-3", try Self.signedPDF("WARRANT THREE"))) == nil, "another document registers")

            // A stored scan that is not the one registered is not read as it.
            _ = try await blocking { try registry.register(Self.scanned("JW-4", try Self.signedPDF("WARRANT FOUR"), identified: false), operator: "clerk") }
            let digest = DocumentStore.digest(of: Data(try Self.signedPDF("WARRANT FOUR")))
            try Data(try Self.signedPDF("FORGED")).write(to: scans.directory.appendingPathComponent(digest))
            let swapped = try await blocking { () -> String? in
                do { try registry.identifyScans(in: scans) } catch let error as StoreError { return error.message }
                return nil
            }
            #expect(swapped?.hasPrefix("the scan of JW-4 in \(scans.directory.path) is not the one registered") == true, "\(swapped ?? "read")")

            // The identity is written once: not even the tables' owner rewrites it, on PostgreSQL.
            guard backend == .postgres else { return }
            await #expect(throws: (any Error).self) {
                try await blocking { try store.behindItsBack { try $0.execute("UPDATE documents SET identity_sha256 = NULL WHERE reference = 'JW-1'") } }
            }
        }

        @Test("upgrade: a SQLite store at v6 gains the column, and its scans are identified when read")
        func upgrade() async throws {
            let fixture = try await StoreFixture.start(.sqlite)
            defer { fixture.stop() }
            let path = fixture.path("old.sqlite")
            let scan = try Self.signedPDF("WARRANT OLD")
            let digest = DocumentStore.digest(of: Data(scan))
            try await blocking {
                let pool = try DatabasePool(path: path)
                try StoreDatabase.migrator.migrate(pool, upTo: "v6: agency requests")
                try pool.write { db in
                    try db.execute(sql: """
                        INSERT INTO documents (reference, kind, status, agency, subjects, scope, expires, expires_at, registered_by, registered_at,
                            two_person_rule, document_sha256)
                        VALUES ('JW-OLD', 'judicial-warrant', 'revoked', 'ice-ero', '["2017-000123"]', '["records.read"]', '2099-12-31', 4102444800,
                            'clerk', '2026-01-01T00:00:00.000Z', 1, ?)
                        """, arguments: [digest])
                }
            }
            let registry = try await blocking { try Store.open(StoreLocation(path)) }.registry(timeZone: Sample.denver)
            let scans = DocumentStore(filesDirectory: fixture.directory.path)
            try scans.store(Data(scan))
            #expect(try await blocking { try registry.identifyScans(in: scans) } == 1)
            let copy = try await Self.refusal(registry, Self.scanned("JW-COPY", scan + [0x0A]))
            #expect(copy?.contains("is a copy of the one registered as JW-OLD (revoked)") == true, "\(copy ?? "registered")")
        }

        @Test("store migrate carries identities from SQLite to PostgreSQL", .enabled(if: PostgresCluster.isEnabled))
        func migrated() async throws {
            let fixture = try await StoreFixture.start(.postgres)
            defer { fixture.stop() }
            let source = try await fixture.newStore("source", on: .sqlite)
            let target = try await fixture.newStore("target")
            let scan = try Self.signedPDF("WARRANT")
            try await blocking {
                _ = try source.registry(timeZone: Sample.denver).register(Self.scanned("JW-1", scan), operator: "clerk", at: Sample.clock(1))
                _ = try StoreMigration.copy(from: source, to: target)
            }
            let copy = try await Self.refusal(target.registry(timeZone: Sample.denver), Self.scanned("JW-COPY", scan + [0x0A]))
            #expect(copy?.contains("is a copy of the one registered as JW-1 (pending)") == true, "\(copy ?? "registered")")
        }
    }
}
