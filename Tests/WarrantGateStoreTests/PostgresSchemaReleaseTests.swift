import Foundation
import PostgresNIO
import Testing
import WarrantGateCore
import WarrantGateTestSupport
@testable import WarrantGateStore

/// A PostgreSQL store keeps the triggers and grants of the release that last ran `store init` on it; the gateways
/// never change the schema. The recorded release makes an upgrade that skipped `store init` refuse to serve, rather
/// than serve on an earlier release's triggers.
@Suite("PostgreSQL schema release")
struct PostgresSchemaReleaseTests {
    /// Fails when the definitions change without their release: raise ``PostgresSchema/release`` and pin the new
    /// digest beside it, so that stores installed before the change are upgraded.
    @Test("the schema's release is pinned to its definitions and grants")
    func releasePinnedToDefinitions() throws {
        let grants = try PostgresRoles(gateway: "wg_gateway", admin: "wg_admin", archive: "wg_archive").grants
            + PostgresRoles(gateway: "wg_gateway").grants + PostgresRoles(gateway: nil).grants
        let digest = DocumentStore.digest(of: Data((PostgresSchema.statements + grants).joined(separator: "\n;\n").utf8))
        let pinned: [Int64: String] = [
            1: "998c9a291d2e492dc9d93017a5899e417a24877728f9f3253bcda3b2ac9cc67a",
            2: "6b3b8f967b685e54c1aad22aaa6e6ed33a56cd573a05f62af645aec4f24b1fec",
            3: "b739831c1df2312cf1151bb506bbcce36a78eadda51e86c66ebe464dea5b5988",
        ]
        #expect(pinned[PostgresSchema.release] == digest, "the definitions changed: raise PostgresSchema.release, and pin \(digest) to it")
    }

    @Test("a store an earlier release installed is refused until store init runs again; a later release's is not put back",
          .enabled(if: PostgresCluster.isEnabled))
    func earlierAndLaterReleases() async throws {
        let fixture = try await StoreFixture.start(.postgres)
        defer { fixture.stop() }
        let cluster = try #require(fixture.cluster)
        let opening = { @Sendable () async -> String? in
            do {
                try await blocking { try cluster.store().close() }
                return nil
            } catch {
                return StoreDatabase.describe(error)
            }
        }
        try await blocking { try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: nil)) }
        #expect(await opening() == nil)
        // A store installed before the release was recorded (no table), or with its row gone.
        for forgetting in ["DROP TABLE schema_release", "DELETE FROM schema_release"] {
            try await blocking { try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: nil)) }
            try await blocking { try cluster.psql(forgetting) }
            let refused = await opening()
            #expect(refused?.contains("installed by an earlier release of warrant-gate") == true, "\(forgetting): \(refused ?? "opened")")
            #expect(refused?.contains("run `warrant-gate store init` again") == true)
        }
        try await blocking { try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: nil)) }
        #expect(await opening() == nil, "store init again upgrades it")

        // Definitions changed since store init (by the owner, or by a release's store init from before the release was
        // recorded, which leaves the record as it was): refused to serve, read as it is for `log verify`.
        for change in [
            "ALTER TABLE log DISABLE TRIGGER log_append_only", "DROP TRIGGER checkpoints_follow ON checkpoints",
            "CREATE OR REPLACE FUNCTION warrant_gate_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        ] {
            try await blocking { try cluster.psql(change) }
            let refused = await opening()
            #expect(refused?.contains("are not those `store init` installed") == true, "\(change): \(refused ?? "opened")")
            try await blocking { try Store.open(cluster.location(), options: StoreOptions(readonly: true)).close() }
            try await blocking { try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: nil)) }
            #expect(await opening() == nil, "\(change): store init puts them back")
        }

        // A later release's store: this release reads it, and its store init refuses to put back earlier definitions.
        try await blocking { try cluster.psql("UPDATE schema_release SET release = release + 1") }
        #expect(await opening() == nil)
        let reinstalled: String?
        do {
            try await blocking { try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: nil)) }
            reinstalled = nil
        } catch {
            reinstalled = StoreDatabase.describe(error)
        }
        #expect(reinstalled?.contains("a later release of warrant-gate installed this store's tables (schema release \(PostgresSchema.release + 1)") == true,
                "\(reinstalled ?? "installed")")
    }
}
