import Foundation
import Logging
import PostgresNIO
import Testing
import WarrantGateCore
import WarrantGateStore
import WarrantGateTestSupport
@testable import WarrantGateServer
import X509

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

    /// A reviewer's pass, two gateways on PostgreSQL: a session of the admin role held `LOCK TABLE subject_facts IN
    /// ACCESS EXCLUSIVE MODE`, so the refresh read the version and then waited in the snapshot until the busy timeout,
    /// while the data plane went on deciding on the old snapshot: a certificate revoked meanwhile was forwarded with
    /// 200 for 5 s, and, once the refresh failed, for as long as the lock was held, since an unreadable registry kept
    /// the last snapshot's revocations. The busy timeout here is 30 s: the refusal comes from the refresh's own lock wait.
    @Test("a registry table locked: after a certificate's revocation, every identified request is refused 503 registry_unavailable until the lock goes, then decided on the new registry")
    func lockedRegistryRefuses() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.withClient { client in
            for role in ["wg_gateway", "wg_admin"] {
                try await client.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN"), logger: PostgresCluster.logger)
            }
        }
        let admin = try await blocking {
            try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: "wg_gateway", admin: "wg_admin"))
            return try cluster.store(user: "wg_admin")
        }
        defer { admin.close() }
        var limits = GatewayConfiguration.Limits()
        limits.databaseBusyTimeout = .seconds(30)
        try await withGateway(limits: limits, configure: { _, configuration in configuration.database = try cluster.location(user: "wg_gateway") }) { gateway in
            let police = ("denver-pd", "/records/inmates/2017-000456"), defender = ("public-defender", "/visitation/visits?booking=2017-000789")
            // Idle for longer than the bound: refreshes that find nothing changed keep the snapshot in force.
            try await Task.sleep(for: RegistryRefresher.freshness.reading * 2)
            for (agency, path) in [police, defender] { #expect(try await gateway.send(agency, .GET, path).status == 200, "\(agency)") }
            let certificate = try Certificate(pemEncoded: String(contentsOfFile: gateway.pki.clientCertificatePath("denver-pd"), encoding: .utf8))
            let spki = try ClientCertificate(certificate: certificate).spkiSHA256

            let (first, waited, defended, forwarded) = try await cluster.withClient { client in
                try await client.withConnection { connection in
                    try await connection.query("BEGIN", logger: PostgresCluster.logger)
                    try await connection.query("LOCK TABLE subject_facts IN ACCESS EXCLUSIVE MODE", logger: PostgresCluster.logger)
                    let revoked = ContinuousClock.now
                    try await blocking {
                        try admin.registry(timeZone: TimeZone(identifier: "America/Denver")!)
                            .revokeCertificate(agency: "denver-pd", spki: spki, serial: nil, reason: "laptop stolen", operator: "test-it")
                    }
                    var answer = try await gateway.send(police.0, .GET, police.1)
                    while answer.status == 200 && ContinuousClock.now - revoked < .seconds(20) {
                        try await Task.sleep(for: .milliseconds(50))
                        answer = try await gateway.send(police.0, .GET, police.1)
                    }
                    let waited = ContinuousClock.now - revoked
                    let forwarded = gateway.recorder.requests.count
                    let defended = try await gateway.send(defender.0, .GET, defender.1)
                    let still = try await gateway.send(police.0, .GET, police.1)
                    try await connection.query("ROLLBACK", logger: PostgresCluster.logger)
                    return (answer, waited, [defended.reason, still.reason], forwarded == gateway.recorder.requests.count)
                }
            }
            #expect(first.status == 503 && first.reason == "registry_unavailable", "\(first.status) \(first.body)")
            #expect(waited < .seconds(10), "refused after \(waited), not at the refresh's lock wait")
            #expect(defended == ["registry_unavailable", "registry_unavailable"], "while the lock is held, every identified request is refused")
            #expect(forwarded, "nothing is forwarded while the registry cannot be read")

            // The lock gone, the next refresh reads the revocation, and the other agency is served again.
            var answers: [String] = []
            let deadline = ContinuousClock.now + .seconds(20)
            repeat {
                try await Task.sleep(for: .milliseconds(50))
                answers = [try await gateway.send(police.0, .GET, police.1), try await gateway.send(defender.0, .GET, defender.1)]
                    .map { "\($0.status) \($0.reason ?? "")" }
            } while answers != ["403 certificate_revoked", "200 "] && ContinuousClock.now < deadline
            #expect(answers == ["403 certificate_revoked", "200 "])
        }
    }

    /// The last stop's review: `/metrics` read the settings (the two-person rule) on the store's one registry
    /// connection, waiting up to a second for a lock, so back-to-back scrapes while another session held the settings
    /// kept the registry's refresh waiting for the connection, and a refresh held past its bound refuses everything.
    @Test("scrapes of /metrics waiting on locked settings leave the registry's refresh alone: requests are served throughout")
    func scrapesDoNotHoldTheRefresh() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.withClient { client in
            for role in ["wg_gateway", "wg_admin"] {
                try await client.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN"), logger: PostgresCluster.logger)
            }
        }
        try await blocking { try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: "wg_gateway", admin: "wg_admin")) }
        let adminPort = try LoopbackPort.unused()
        try await withGateway(configure: { _, configuration in
            configuration.database = try cluster.location(user: "wg_gateway")
            configuration.adminHost = "127.0.0.1"
            configuration.adminPort = adminPort
        }) { gateway in
            _ = try await MonitoringTests.scrape(port: adminPort)
            let statuses = try await cluster.withClient { client in
                try await client.withConnection { connection in
                    try await connection.query("BEGIN", logger: PostgresCluster.logger)
                    try await connection.query("LOCK TABLE settings IN ACCESS EXCLUSIVE MODE", logger: PostgresCluster.logger)
                    let until = ContinuousClock.now + RegistryRefresher.freshness.reading * 3
                    let scrapers = (0..<2).map { _ in
                        Task { while ContinuousClock.now < until { _ = try? await MonitoringTests.scrape(port: adminPort) } }
                    }
                    // The registry changes meanwhile (as the admin CLI changes it), so each refresh reads twice: the
                    // version, then a new snapshot.
                    let changes = Task {
                        try await cluster.withClient { client in
                            while ContinuousClock.now < until {
                                try await client.query("UPDATE registry_state SET version = version + 1 WHERE id = 1", logger: PostgresCluster.logger)
                                try await Task.sleep(for: .milliseconds(200))
                            }
                        }
                    }
                    var statuses: [String] = []
                    while ContinuousClock.now < until {
                        let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
                        statuses.append("\(answer.status) \(answer.reason ?? "")")
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    for scraper in scrapers { await scraper.value }
                    try await changes.value
                    try await connection.query("ROLLBACK", logger: PostgresCluster.logger)
                    return statuses
                }
            }
            #expect(!statuses.isEmpty && statuses.allSatisfy { $0 == "200 " }, "\(Set(statuses))")
        }
    }
}
