import Foundation
import PostgresNIO
import Testing
import WarrantGateCore
import WarrantGateTestSupport
@testable import WarrantGateStore

/// The store's two databases, for tests that run once on each.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    /// The backends this run tests: PostgreSQL whenever ``PostgresCluster/isEnabled`` (so always under `CI=true`,
    /// where a missing server fails the run rather than skipping it).
    static var testable: [Backend] { PostgresCluster.isEnabled ? allCases : [.sqlite] }

    var testDescription: String { rawValue }

    /// Statements that let the log's owner edit and delete its rows, as someone with the database in hand would.
    var disableLogTriggers: [String] {
        switch self {
        case .sqlite: ["DROP TRIGGER log_is_append_only_update", "DROP TRIGGER log_is_append_only_delete"]
        case .postgres: ["ALTER TABLE log DISABLE TRIGGER log_append_only"]
        }
    }
}

/// Empty stores for one test: SQLite files in a temporary directory and, for PostgreSQL, databases on one cluster
/// started for the test. PostgreSQL stores are opened as the tables' owner, as `store init` and `store migrate`
/// connect. ``stop()`` removes everything.
final class StoreFixture: Sendable {
    let backend: Backend
    let directory: URL
    let cluster: PostgresCluster?

    private init(backend: Backend, directory: URL, cluster: PostgresCluster?) {
        self.backend = backend
        self.directory = directory
        self.cluster = cluster
    }

    /// A fixture whose stores are on `backend` by default; its cluster, if any, starts off the cooperative pool.
    static func start(_ backend: Backend) async throws -> StoreFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-backend-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let cluster = backend == .postgres ? try await blocking { try PostgresCluster() } : nil
        return StoreFixture(backend: backend, directory: directory, cluster: cluster)
    }

    /// A new, empty store called `name` (lower-case letters, digits and `_`) on `backend`, or on the fixture's own.
    func newStore(_ name: String = "store", on backend: Backend? = nil) async throws -> Store {
        switch backend ?? self.backend {
        case .sqlite:
            let location = try StoreLocation(path("\(name).sqlite"))
            return try await blocking { try Store.open(location) }
        case .postgres:
            let cluster = try #require(cluster, "a PostgreSQL store needs a fixture started for PostgreSQL")
            _ = try await cluster.withClient { owner in
                try await owner.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: PostgresCluster.logger)
            }
            let location = try StoreLocation("postgres://\(PostgresCluster.owner)@127.0.0.1:\(cluster.port)/\(name)", filesDirectory: directory.path)
            return try await blocking {
                try Store.initialize(location, roles: PostgresRoles(gateway: nil))
                return try Store.open(location, options: PostgresCluster.patient)
            }
        }
    }

    /// Another handle on the store ``newStore(_:on:)`` made as `name` on the fixture's backend: a second gateway's.
    func openAgain(_ name: String = "store") async throws -> Store {
        switch backend {
        case .sqlite:
            let location = try StoreLocation(path("\(name).sqlite"))
            return try await blocking { try Store.open(location) }
        case .postgres:
            let cluster = try #require(cluster, "a PostgreSQL store needs a fixture started for PostgreSQL")
            let location = try StoreLocation("postgres://\(PostgresCluster.owner)@127.0.0.1:\(cluster.port)/\(name)", filesDirectory: directory.path)
            return try await blocking { try Store.open(location, options: PostgresCluster.patient) }
        }
    }

    /// Lets the store archive entries of any age, the sample's (weeks ago to days ahead) among them: on PostgreSQL only
    /// the tables' owner can shorten the retention period, here to less than nothing.
    func allowArchivingAnyAge() async throws {
        try await cluster?.withClient(database: "store") { owner in
            try await owner.query("INSERT INTO settings (key, value) VALUES ('archive-retention-days', '-3650')", logger: PostgresCluster.logger)
        }
    }

    /// A path in the test's directory.
    func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    func stop() {
        cluster?.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

extension Store {
    /// Runs `body` in one transaction straight on the database, around the store's API, as the store's user.
    func behindItsBack(_ body: (any SQLSession) throws -> Void) throws {
        try database.write(body)
    }
}

/// The records the backend tests write: warrants, decisions an hour apart from 2026-11-25T10:00Z, their outcomes.
enum Sample {
    static let denver = TimeZone(identifier: "America/Denver")!
    static let key = LogSigningKey(name: "county.example/warrant-gate")
    static let firstDecision = Timestamp.parse("2026-11-25T10:00:00.000Z")!

    /// A judicial warrant to ICE for `subjects`, without a scan.
    static func warrant(
        _ reference: String, kind: DocumentKind = .judicialWarrant, agency: String = "ice-ero", subjects: [String] = ["2017-000123"],
        expires: String = "2099-12-31"
    ) -> DocumentRegistration {
        DocumentRegistration(
            reference: reference, kind: kind, agency: agency, subjects: subjects, scope: ["records.read", "visitation.*"], expires: expires,
            court: kind.isJudicial ? "U.S. District Court, D. Colo." : nil, judge: kind.isJudicial ? "Hon. A. Judge" : nil,
            caseNumber: kind.isJudicial ? "1:26-mj-7" : nil, noDocumentReason: kind.isJudicial ? "faxed copy" : nil
        )
    }

    /// A registry change's time, `minutes` after a fixed start, so that registrations list in a known order.
    static func clock(_ minutes: Int) -> Date {
        Timestamp.parse("2026-11-20T12:00:00.000Z")!.addingTimeInterval(TimeInterval(minutes) * 60)
    }

    /// The time of decision `index`.
    static func time(_ index: Int) -> Date {
        firstDecision.addingTimeInterval(TimeInterval(index) * 3600)
    }

    /// Decision `index`: ICE (federal immigration) when even, Denver PD when odd; refused when a multiple of 3.
    static func decision(_ index: Int) -> DecisionRecord {
        let denied = index % 3 == 0
        return DecisionRecord(
            decisionId: "d-\(index)", time: Timestamp.format(time(index)), component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=x",
            agency: index % 2 == 0 ? "ice-ero" : "denver-pd",
            category: (index % 2 == 0 ? AgencyCategory.federalImmigration : .localLawEnforcement).rawValue, method: "GET",
            path: "/records/inmates/2017-000123", action: "records.read", subject: "2017-000123", warrantReference: nil,
            effect: denied ? .deny : .allow, reason: denied ? "warrant_missing" : "permitted", rules: ["r-\(index)"], obligations: [],
            policy: "denver", policyDigest: "00", status: denied ? 403 : nil
        )
    }

    static func outcome(of decision: DecisionRecord) -> OutcomeRecord {
        OutcomeRecord(
            decisionId: decision.decisionId, time: decision.time, upstreamStatus: 200, status: 200, bytes: decision.decisionId.count * 100,
            latencyMs: 4, redactedFields: 2, error: nil
        )
    }

    static func shadow(of decision: DecisionRecord) -> ShadowRecord {
        ShadowRecord(
            decisionId: decision.decisionId, time: decision.time, agency: decision.agency ?? "", action: decision.action ?? "",
            liveEffect: decision.effect, liveReason: decision.reason, shadowPolicy: "denver-next", shadowDigest: "01",
            shadowEffect: decision.effect == .allow ? .deny : .allow, shadowReason: "candidate", shadowRules: ["s-1"]
        )
    }

    static func entry(_ decision: DecisionRecord) -> LogEntry {
        LogEntry(kind: .decision, time: Timestamp.parse(decision.time)!, decisionId: decision.decisionId, canonical: decision.canonical)
    }

    static func entry(_ outcome: OutcomeRecord) -> LogEntry {
        LogEntry(kind: .outcome, time: Timestamp.parse(outcome.time)!, decisionId: outcome.decisionId, canonical: outcome.canonical)
    }

    static func entry(_ shadow: ShadowRecord) -> LogEntry {
        LogEntry(kind: .shadow, time: Timestamp.parse(shadow.time)!, decisionId: shadow.decisionId, canonical: shadow.canonical)
    }
}
