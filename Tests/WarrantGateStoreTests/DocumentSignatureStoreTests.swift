import Foundation
import GRDB
import Testing
import WarrantGateCore
import WarrantGateTestSupport
@testable import WarrantGateStore

extension StoreBackendTests {
    /// A document's recorded signature (issue 23): stored and read back whole, logged with the registration, a term
    /// that never changes, `unchecked` on rows registered before it was recorded, and carried by `store migrate`.
    @Suite("Recorded signatures of documents")
    struct Signatures {
        static let verified = RecordedSignature(
            status: .verified, signerSubject: "CN=Clerk,OU=e-Warrants,O=Denver County Court", signerSHA256: String(repeating: "ab", count: 32),
            court: "denver-county-court", claimedSigningTime: Sample.clock(-30), provenSigningTime: Sample.clock(-29),
            timestampAuthority: "CN=Court TSA", checkedAt: Sample.clock(0)
        )

        static func signed(_ reference: String, _ signature: RecordedSignature) -> DocumentRegistration {
            var registration = Sample.warrant(reference)
            registration.noDocumentReason = nil
            registration.documentSHA256 = DocumentStore.digest(of: Data(reference.utf8))
            registration.signature = signature
            return registration
        }

        @Test("stored, read back, in the snapshot and in the registration's log record; unchecked by default", arguments: Backend.testable)
        func roundTrip(_ backend: Backend) async throws {
            let fixture = try await StoreFixture.start(backend)
            defer { fixture.stop() }
            let store = try await fixture.newStore()
            let registry = store.registry(timeZone: Sample.denver)
            let unverified = RecordedSignature(status: .unverified, reason: "the signer does not chain to a court listed in courts.yaml",
                                               signerSubject: "CN=Someone", signerSHA256: String(repeating: "cd", count: 32), checkedAt: Sample.clock(0))
            try await blocking {
                _ = try registry.register(Self.signed("JW-V", Self.verified), operator: "clerk", at: Sample.clock(1))
                _ = try registry.register(Self.signed("JW-U", unverified), operator: "clerk", at: Sample.clock(2))
                _ = try registry.register(Sample.warrant("JW-OLD"), operator: "clerk", at: Sample.clock(3))
            }
            #expect(try await blocking { try registry.entry(reference: "JW-V") }?.document.signature == Self.verified)
            #expect(try await blocking { try registry.entry(reference: "JW-U") }?.document.signature == unverified)
            let snapshot = try await blocking { try registry.snapshot() }
            #expect(snapshot.document(reference: "JW-V")?.signature == Self.verified, "the gateway's view carries it")
            #expect(snapshot.document(reference: "JW-OLD")?.signature == .unchecked)
            let history = try await blocking { try registry.history(target: "JW-V") }
            let details = try #require(history.first { $0.action == "warrant.register" }?.details)
            #expect(details["signature"] == "verified")
            #expect(details["signatureCourt"] == "denver-county-court")
            #expect(details["signatureProvenTime"] == Timestamp.format(Sample.clock(-29)))
            #expect(details["signatureTimestampAuthority"] == "CN=Court TSA")
            #expect(details["signatureSigner"] == Self.verified.signerSubject)
            var orphan = Sample.warrant("JW-ORPHAN")
            orphan.signature = unverified
            let unscanned = orphan
            await #expect(throws: RegistrationError.self, "a checked signature needs its document") {
                _ = try await blocking { try registry.register(unscanned, operator: "clerk", at: Sample.clock(4)) }
            }
        }

        @Test("PostgreSQL: the signature is a term of the document, never updated, even by the tables' owner")
        func termOnPostgres() async throws {
            guard PostgresCluster.isEnabled else { return }
            let fixture = try await StoreFixture.start(.postgres)
            defer { fixture.stop() }
            let store = try await fixture.newStore()
            let registry = store.registry(timeZone: Sample.denver)
            try await blocking { _ = try registry.register(Self.signed("JW-U", .unchecked), operator: "clerk", at: Sample.clock(1)) }
            let changes = [
                "signature_status = 'verified'", "signature_court = 'denver-county-court'", "signature_reason = 'anything'",
                "signature_checked_at = '2026-01-01T00:00:00.000Z'",
            ]
            for column in changes {
                await #expect(throws: (any Error).self, "\(column)") {
                    try await blocking { try store.behindItsBack { try $0.execute("UPDATE documents SET \(column) WHERE reference = 'JW-U'") } }
                }
            }
            #expect(try await blocking { try registry.entry(reference: "JW-U") }?.document.signature == .unchecked)
        }

        @Test("upgrade: documents registered before the columns existed read as unchecked, on SQLite (v5) and PostgreSQL (store init)")
        func upgrade() async throws {
            let fixture = try await StoreFixture.start(PostgresCluster.isEnabled ? .postgres : .sqlite)
            defer { fixture.stop() }
            // SQLite: a database at v4, with a document, opened by this version.
            let path = fixture.path("old.sqlite")
            try await blocking {
                let pool = try DatabasePool(path: path)
                try StoreDatabase.migrator.migrate(pool, upTo: "v4: the log's time index leads with time")
                try pool.write { db in
                    try db.execute(sql: """
                        INSERT INTO documents (reference, kind, status, agency, subjects, scope, expires, expires_at, registered_by, registered_at,
                            two_person_rule, no_document_reason)
                        VALUES ('JW-OLD', 'judicial-warrant', 'active', 'ice-ero', '["2017-000123"]', '["records.read"]', '2099-12-31', 4102444800,
                            'clerk', '2026-01-01T00:00:00.000Z', 1, 'faxed')
                        """)
                }
            }
            let upgraded = try await blocking { try Store.open(StoreLocation(path)) }
            #expect(try await blocking { try upgraded.registry(timeZone: Sample.denver).entry(reference: "JW-OLD") }?.document.signature == .unchecked)

            guard fixture.backend == .postgres else { return }
            // PostgreSQL: the columns dropped behind the store's back, a row inserted, then `store init` again.
            let store = try await fixture.newStore()
            try await blocking {
                try store.behindItsBack { session in
                    for column in DocumentSignatureColumns.names { try session.execute("ALTER TABLE documents DROP COLUMN \(column)") }
                    try session.execute("""
                        INSERT INTO documents (reference, kind, status, agency, subjects, scope, expires, expires_at, registered_by, registered_at,
                            two_person_rule, no_document_reason)
                        VALUES ('JW-OLD', 'judicial-warrant', 'active', 'ice-ero', '["2017-000123"]', '["records.read"]', '2099-12-31', 4102444800,
                            'clerk', '2026-01-01T00:00:00.000Z', 1, 'faxed')
                        """)
                }
            }
            let cluster = try #require(fixture.cluster)
            let location = try StoreLocation("postgres://\(PostgresCluster.owner)@127.0.0.1:\(cluster.port)/store", filesDirectory: fixture.directory.path)
            try await blocking { try Store.initialize(location, roles: PostgresRoles(gateway: nil)) }
            let reopened = try await blocking { try Store.open(location) }
            #expect(try await blocking { try reopened.registry(timeZone: Sample.denver).entry(reference: "JW-OLD") }?.document.signature == .unchecked)
        }

        @Test("store migrate carries the signature columns from SQLite to PostgreSQL", .enabled(if: PostgresCluster.isEnabled))
        func migrated() async throws {
            let fixture = try await StoreFixture.start(.postgres)
            defer { fixture.stop() }
            let source = try await fixture.newStore("source", on: .sqlite)
            let target = try await fixture.newStore("target")
            try await blocking {
                _ = try source.registry(timeZone: Sample.denver).register(Self.signed("JW-V", Self.verified), operator: "clerk", at: Sample.clock(1))
                _ = try StoreMigration.copy(from: source, to: target)
            }
            #expect(try await blocking { try target.registry(timeZone: Sample.denver).entry(reference: "JW-V") }?.document.signature == Self.verified)
        }
    }
}
