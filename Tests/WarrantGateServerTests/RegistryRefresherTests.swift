import Foundation
import Logging
import PostgresNIO
import Testing
import WarrantGateCore
import WarrantGateStore
import WarrantGateTestSupport
@testable import WarrantGateServer

/// The refresher against a real PostgreSQL store, whose rows another session can lock and whose server keeps its own
/// clock.
@Suite("The registry's refresh", .enabled(if: PostgresCluster.isEnabled))
struct RegistryRefresherTests {
    /// An attacker's pass: the expiry sweep ran before the registry's version was read, on the same connection, so a
    /// document due to expire that another session held locked kept a revoked warrant authorising for 4.4 s on every
    /// gateway; and a sweep the server refused (a gateway's clock ahead of the server's) denied every request. Then the
    /// same with the settings locked, which the refresh read (the recorded time zone) before the snapshot.
    @Test("a revocation is seen while a due document and the settings are locked and the document cannot be expired yet; nothing is denied for it")
    func refreshNotHeldBySweep() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.withClient { client in
            for role in ["wg_gateway", "wg_admin"] {
                try await client.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN"), logger: PostgresCluster.logger)
            }
        }
        let denver = TimeZone(identifier: "America/Denver")!
        let tomorrow = LocalDate(date: Date().addingTimeInterval(86_400), timeZone: denver).description
        let stores = try await blocking {
            try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: "wg_gateway", admin: "wg_admin"))
            return (gateway: try cluster.store(user: "wg_gateway"), admin: try cluster.store(user: "wg_admin"))
        }
        defer {
            stores.gateway.close()
            stores.admin.close()
        }
        let admin = stores.admin.registry(timeZone: denver)
        let gateway = stores.gateway.registry(timeZone: denver)
        try await blocking {
            try gateway.recordTimeZone()
            for (reference, expires) in [("JW-1", "2099-12-31"), ("DUE-1", tomorrow)] {
                let registration = DocumentRegistration(
                    reference: reference, kind: .judicialWarrant, agency: "ice-ero", subjects: ["2017-000123"], scope: ["records.read"],
                    expires: expires, court: "U.S. District Court, D. Colo.", judge: "Hon. A. Judge", caseNumber: "1:26-mj-7",
                    noDocumentReason: "faxed copy"
                )
                _ = try admin.register(registration, operator: "clerk")
                try admin.approve(reference: reference, operator: "supervisor")
            }
        }
        let policies = PolicySet(
            policy: try PolicyParser.parse(try String(contentsOfFile: Repository.path("policies/denver.yaml"), encoding: .utf8), file: Repository.path("policies/denver.yaml")),
            directory: AgencyDirectory(agencies: [], authorities: [])
        )
        let state = GatewayState(policies: policies, registry: try await blocking { try gateway.snapshot() })
        // This gateway's clock is three days ahead of the server's: DUE-1 is due here, and the server refuses to expire it.
        let refresher = RegistryRefresher(
            registry: gateway, state: state, interval: .milliseconds(50), logger: Logger(label: "refresher-test"),
            now: { Date().addingTimeInterval(3 * 86_400) }
        )
        let running = Task { try await refresher.run() }
        defer { running.cancel() }

        let (status, unavailable) = try await cluster.withClient { client in
            try await client.withConnection { connection in
                // Another session holds DUE-1 until the revocation is seen, or for 20 s.
                try await connection.query("BEGIN", logger: PostgresCluster.logger)
                try await connection.query("SELECT reference FROM documents WHERE reference = 'DUE-1' FOR UPDATE", logger: PostgresCluster.logger)
                // And the settings, which the gateways' role may lock too (it records the time zone there).
                try await connection.query("LOCK TABLE settings IN ACCESS EXCLUSIVE MODE", logger: PostgresCluster.logger)
                try await blocking { try admin.revoke(reference: "JW-1", reason: "quashed", operator: "clerk") }
                var unavailable = false
                let deadline = ContinuousClock.now + .seconds(20)
                var status = try state.current.registry.document(reference: "JW-1")?.status
                while status != .revoked && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                    unavailable = unavailable || state.current.registryVersion == -1
                    status = try? state.current.registry.document(reference: "JW-1")?.status
                }
                try await connection.query("ROLLBACK", logger: PostgresCluster.logger)
                return (status, unavailable)
            }
        }
        #expect(status == .revoked)
        #expect(!unavailable, "a failed sweep marked the registry unreadable, and so denied every request that needs it")
        #expect(try await blocking { try gateway.snapshot() }.documents["DUE-1"]?.status == .active)
    }
}
