import Foundation
import PostgresNIO
import Testing
import WarrantGateCore
import WarrantGateTestSupport
@testable import WarrantGateStore

extension StoreBackendTests {
    /// The roles `store init` grants: each store below connects as one of them, as the gateways, the CLI and
    /// `log archive` do.
    @Suite("PostgreSQL roles", .enabled(if: PostgresCluster.isEnabled))
    struct PostgresRoleTests {
        static let (gatewayRole, adminRole, archiveRole) = ("wg_gateway", "wg_admin", "wg_archive")

        /// The SQLSTATE with which the server refused `sql` run as `user`, or nil if it ran.
        private func refusal(_ cluster: PostgresCluster, as user: String, _ sql: String) async -> String? {
            await refusal(cluster, as: user, session: [sql])
        }

        /// The SQLSTATE with which the server refused the last of `session`'s statements, run in order on one
        /// connection as `user`, or nil if all ran.
        private func refusal(_ cluster: PostgresCluster, as user: String, session: [String]) async -> String? {
            do {
                try await cluster.withClient(user: user) { client in
                    for sql in session { try await client.query(PostgresQuery(unsafeSQL: sql), logger: PostgresCluster.logger) }
                }
                return nil
            } catch let error as PSQLError {
                return error.serverInfo?[.sqlState] ?? "\(error.code)"
            } catch {
                return "\(error)"
            }
        }

        /// What a store call threw, described as the CLI shows it; nil if it did not throw.
        private func failure<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async -> String? {
            do {
                _ = try await blocking(work)
                return nil
            } catch {
                return StoreDatabase.describe(error)
            }
        }

        /// An attacker's pass: with `"$user", public` as the gateways' search path, tables that the gateways' role made
        /// in a schema named after it stood in for the registry and the log (868 requests answered, none in the real
        /// log); and `store init` took roles that could disable the triggers.
        @Test("a role's own schema does not shadow the store; store init refuses roles that hold another's powers")
        func shadowsAndPowers() async throws {
            let fixture = try await StoreFixture.start(.postgres)
            defer { fixture.stop() }
            let cluster = try #require(fixture.cluster)
            let owner = PostgresCluster.owner
            try await cluster.withClient { client in
                for role in [Self.gatewayRole, Self.adminRole, Self.archiveRole, "wg_creator", "wg_member"] {
                    try await client.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN"), logger: PostgresCluster.logger)
                }
                for sql in ["ALTER ROLE wg_creator CREATEROLE", "GRANT \(owner) TO wg_member"] {
                    try await client.query(PostgresQuery(unsafeSQL: sql), logger: PostgresCluster.logger)
                }
            }
            let refusals: [(String?, PostgresRoles, String)] = [
                (nil, try PostgresRoles(gateway: "wg_creator"), "may create roles"),
                (nil, try PostgresRoles(gateway: "wg_member"), "owner of the database, of its schema public, or of the store's tables"),
                (nil, try PostgresRoles(gateway: Self.gatewayRole, admin: Self.gatewayRole), "must be three different roles"),
                ("GRANT \(Self.adminRole) TO \(Self.gatewayRole)", try PostgresRoles(gateway: Self.gatewayRole, admin: Self.adminRole),
                 "the role \(Self.gatewayRole) is a member of \(Self.adminRole)"),
                // What serving refused and init once took: one question for both now.
                ("GRANT SET ON PARAMETER session_replication_role TO \(Self.gatewayRole)", try PostgresRoles(gateway: Self.gatewayRole),
                 "the role \(Self.gatewayRole) may set session_replication_role"),
                ("GRANT pg_write_all_data TO \(Self.adminRole)", try PostgresRoles(gateway: Self.gatewayRole, admin: Self.adminRole),
                 "the role \(Self.adminRole) is a member of pg_write_all_data"),
                ("GRANT CREATE ON SCHEMA public TO \(Self.archiveRole)",
                 try PostgresRoles(gateway: Self.gatewayRole, admin: Self.adminRole, archive: Self.archiveRole),
                 "the role \(Self.archiveRole) may create objects in the schema public"),
            ]
            for (grant, roles, message) in refusals {
                if let grant { try await cluster.withClient { try await $0.query(PostgresQuery(unsafeSQL: grant), logger: PostgresCluster.logger) } }
                let refused = await failure { try Store.initialize(cluster.location(), roles: roles) }
                #expect(refused?.contains(message) == true, "\(message): \(refused ?? "installed")")
                if let grant {
                    let revoke = grant.replacingOccurrences(of: "GRANT", with: "REVOKE").replacingOccurrences(of: " TO ", with: " FROM ")
                    try await cluster.withClient { try await $0.query(PostgresQuery(unsafeSQL: revoke), logger: PostgresCluster.logger) }
                }
            }
            let stores = try await blocking {
                try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: Self.gatewayRole, admin: Self.adminRole, archive: Self.archiveRole))
                return (gateway: try cluster.store(user: Self.gatewayRole), admin: try cluster.store(user: Self.adminRole))
            }
            let admin = stores.admin.registry(timeZone: Sample.denver)
            _ = try await blocking { try admin.register(Sample.warrant("JW-PENDING"), operator: "clerk", at: Sample.clock(1)) }

            // The gateways' role makes copies of the registry and the log in a schema named after it, the warrant active.
            try await cluster.withClient { client in
                try await client.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA AUTHORIZATION \(Self.gatewayRole)"), logger: PostgresCluster.logger)
            }
            #expect(await refusal(cluster, as: Self.gatewayRole, session: [
                "CREATE TABLE \(Self.gatewayRole).documents AS SELECT * FROM public.documents",
                "UPDATE \(Self.gatewayRole).documents SET status = 'active'",
                "CREATE TABLE \(Self.gatewayRole).log AS SELECT * FROM public.log WITH NO DATA",
            ]) == nil)
            let before = try await blocking { try stores.gateway.logSize() }
            try await stores.gateway.appendThroughDecisionLog((0..<3).map { Sample.entry(Sample.decision($0)) }, concurrently: false)
            let snapshot = try await blocking { try stores.gateway.registry(timeZone: Sample.denver).snapshot() }
            #expect(snapshot.documents["JW-PENDING"]?.status == .pending)
            let counts = try await cluster.withClient { client in
                var counts: [Int] = []
                for table in ["public.log", "\(Self.gatewayRole).log"] {
                    for try await count in try await client.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"), logger: PostgresCluster.logger)
                        .decode(Int.self) { counts.append(count) }
                }
                return counts
            }
            #expect(counts == [Int(before) + 3, 0], "\(counts)")
        }

        @Test("the gateways' role appends, reads and expires but cannot register or delete; the admin's registers; only the archive's archives")
        func roles() async throws {
            let fixture = try await StoreFixture.start(.postgres)
            defer { fixture.stop() }
            let cluster = try #require(fixture.cluster)
            try await cluster.withClient { owner in
                for role in [Self.gatewayRole, Self.adminRole, Self.archiveRole] {
                    try await owner.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN"), logger: PostgresCluster.logger)
                }
            }
            let uninitialized = await failure { try cluster.store() }
            #expect(uninitialized?.contains("warrant-gate store init") == true, "\(uninitialized ?? "opened a database without the store's tables")")
            let stores = try await blocking {
                try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: Self.gatewayRole, admin: Self.adminRole, archive: Self.archiveRole))
                return (
                    gateway: try cluster.store(user: Self.gatewayRole), admin: try cluster.store(user: Self.adminRole),
                    archive: try cluster.store(user: Self.archiveRole)
                )
            }
            let (gateway, admin) = (stores.gateway.registry(timeZone: Sample.denver), stores.admin.registry(timeZone: Sample.denver))
            let newYork = stores.gateway.registry(timeZone: TimeZone(identifier: "America/New_York")!)

            // The admin CLI's role changes the registry, every kind of row.
            try await blocking {
                for (step, reference, expires) in [(1, "JW-1", "2099-12-31"), (3, "JW-SHORT", "2026-11-30")] {
                    _ = try admin.register(Sample.warrant(reference, expires: expires), operator: "clerk", at: Sample.clock(step))
                    try admin.approve(reference: reference, operator: "supervisor", at: Sample.clock(step + 1))
                }
                _ = try admin.register(Sample.warrant("JW-PENDING"), operator: "clerk", at: Sample.clock(5))
                let request = try admin.addAgency(id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [String(repeating: "a1", count: 32)], operator: "it")
                try admin.approveAgencyRequest(request!, operator: "supervisor")
                try admin.revokeCertificate(agency: "ice-ero", spki: nil, serial: "0a1b", reason: "reissued", operator: "it")
                let advisement = SubjectRecord(subject: "2017-000123", kind: .advisement, givenBy: "Dep. Ortiz", givenAt: Sample.clock(0), language: "es")
                try admin.record(advisement, operator: "clerk")
                // The gateways' role records the facts its policy declares, which the admin's set-fact then takes.
                try gateway.recordSettableFacts(["conviction-class": .values(["felony", "misdemeanor"])])
                try admin.setFact(subject: "2017-000123", name: "conviction-class", value: "felony", operator: "clerk")
            }

            // The gateways' role appends, reads the registry, records its time zone, expires documents and signs.
            try await stores.gateway.appendThroughDecisionLog((0..<6).map { Sample.entry(Sample.decision($0)) }, concurrently: true)
            let snapshot = try await blocking { try gateway.snapshot() }
            #expect(snapshot.documents.mapValues(\.status) == ["JW-1": .active, "JW-SHORT": .active, "JW-PENDING": .pending])
            #expect(snapshot.agencies.map(\.id) == ["aurora-pd"] && snapshot.certificateRevocations == ["serial:0a1b": "reissued"])
            #expect(snapshot.records(subject: "2017-000123").count == 1 && snapshot.facts(subject: "2017-000123") == ["conviction-class": "felony"])
            try await blocking { try gateway.recordTimeZone() }
            #expect(try await blocking { try stores.gateway.recordedTimeZone() } == Sample.denver)
            #expect(try await blocking { try gateway.expireDue(at: LocalDate("2026-11-30")!.end(in: Sample.denver)) } == ["JW-SHORT"])
            #expect(try await blocking { try gateway.history(target: "JW-SHORT") }.last?.action == "warrant.expire")
            let signed = try await blocking { try stores.gateway.checkpointer(key: Sample.key, lastSigned: nil).sign() }
            #expect(signed?.size == 18, "10 admin records (an agency requested and approved among them), 6 decisions, the zone and the expiry")

            // …but may not register, approve, record, nor remove anything from the log.
            let register = await failure { try gateway.register(Sample.warrant("JW-GW"), operator: "gateway", at: Sample.clock(6)) }
            #expect(register?.contains("permission denied for table documents") == true, "\(register ?? "registered")")
            let approve = await failure { try gateway.approve(reference: "JW-PENDING", operator: "gateway", at: Sample.clock(7)) }
            #expect(approve?.contains("permission denied for table documents") == true, "\(approve ?? "approved")")
            let consent = SubjectRecord(subject: "2017-000123", kind: .consent, givenBy: "Dep. Ortiz", givenAt: Sample.clock(0))
            let record = await failure { try gateway.record(consent, operator: "gateway") }
            #expect(record?.contains("permission denied for table subject_records") == true, "\(record ?? "recorded")")
            #expect(await refusal(cluster, as: Self.gatewayRole, "DELETE FROM log WHERE seq = 1") == "42501")
            #expect(await refusal(cluster, as: Self.adminRole, "DELETE FROM log WHERE seq = 1") == "42501")
            #expect(await refusal(cluster, as: Self.gatewayRole, "UPDATE log SET entry = '{}' WHERE seq = 1") == "42501")
            // A PostgreSQL pass: the frontier's hashes rewritten at the same size (the length kept) jammed every later
            // append and checkpoint of the site.
            let rewritten = "UPDATE tree_frontier SET subtrees = pg_catalog.decode(pg_catalog.repeat('00', pg_catalog.octet_length(subtrees)), 'hex')"
            #expect(await refusal(cluster, as: Self.gatewayRole, rewritten) == "P0001")
            #expect(await refusal(cluster, as: Self.gatewayRole, "INSERT INTO documents (reference) VALUES ('JW-RAW')") == "42501")

            // Nor may anyone bring an expired warrant back, approve one without an approver, widen one or remove one;
            // and the two-person rule is the admin's to turn off.
            #expect(await refusal(cluster, as: Self.gatewayRole, "UPDATE documents SET status = 'active' WHERE reference = 'JW-SHORT'") == "P0001")
            #expect(await refusal(cluster, as: Self.adminRole, "UPDATE documents SET status = 'active' WHERE reference = 'JW-SHORT'") == "P0001")
            #expect(await refusal(cluster, as: Self.gatewayRole, "UPDATE documents SET status = 'active' WHERE reference = 'JW-PENDING'") == "P0001")
            // A PostgreSQL pass: the admin's role approved in SQL, with no record in the log; and, the two-person rule
            // turned off inside one transaction, inserted a document active at once, with no record either.
            let approvedInSQL = "UPDATE documents SET status = 'active', approved_by = 'Supervisor', approved_at = 'x' WHERE reference = 'JW-PENDING'"
            #expect(await refusal(cluster, as: Self.adminRole, approvedInSQL) == "P0001")
            let ruleOffForAMoment = [
                "BEGIN",
                "INSERT INTO settings (key, value) VALUES ('two-person-rule', 'off') ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                """
                INSERT INTO documents (reference, kind, status, agency, subjects, scope, expires, expires_at, registered_by, registered_at, two_person_rule)
                VALUES ('JW-EVIL', 'judicial-warrant', 'active', 'ice-ero', '["2017-000123"]', '["records.read"]', '2099-12-31',
                        warrant_gate_date_end('2099-12-31'), 'mallory', 'x', 0)
                """,
            ]
            func message(_ statements: [String]) async -> String? {
                do {
                    try await cluster.withClient(user: Self.adminRole) { client in
                        try await client.withConnection { connection in
                            for sql in statements { try await connection.query(PostgresQuery(unsafeSQL: sql), logger: PostgresCluster.logger) }
                        }
                    }
                    return nil
                } catch let error as PSQLError {
                    return error.serverInfo?[.message] ?? "\(error.code)"
                } catch {
                    return "\(error)"
                }
            }
            // Nor does it write an agency with no request pending for it.
            let direct = "INSERT INTO agencies (id, name, category, spki_pins, added_by, added_at) VALUES ('direct-pd', 'Direct', 'local-law-enforcement', '[]', 'x', 'x')"
            #expect(await message([direct])?.contains("an agency changes only") == true)
            // A re-pass: a pending request inserted in the same transaction opened the trigger, with nothing in the log.
            let withOwnRequest = [
                "BEGIN",
                "INSERT INTO agency_requests (agency, name, category, spki_pins, requested_by, requested_at, status) VALUES ('evil-a', 'E', 'jail-staff', '[]', 'm', 'x', 'pending')",
                "INSERT INTO agencies (id, name, category, spki_pins, added_by, added_at) VALUES ('evil-a', 'E', 'jail-staff', '[]', 'm', 'x')",
            ]
            #expect(await message(withOwnRequest)?.contains("only with its agency.add or agency.update record") == true)
            #expect(await message(["UPDATE agencies SET id = 'ice-ero' WHERE id = 'aurora-pd'"])?.contains("id never changes") == true)
            // Nor is an entry that extends a listed agency unmarked, which would let it outlive that agency's listing.
            #expect(await refusal(cluster, as: PostgresCluster.owner, "UPDATE agencies SET extends_listed = 1 WHERE id = 'aurora-pd'") == nil)
            #expect(await message(["UPDATE agencies SET extends_listed = 0 WHERE id = 'aurora-pd'"])?.contains("extends a listed agency stays so") == true)
            #expect(await refusal(cluster, as: Self.adminRole, "DELETE FROM agencies WHERE id = 'aurora-pd'") == "42501", "the admin role has no grant to delete")
            // The rule no longer turns off in SQL at all (a later pass); the document's own trigger stands behind it.
            let unrecorded = await message(ruleOffForAMoment)
            #expect(unrecorded?.contains("turned off only with its record in the log") == true, "\(unrecorded ?? "inserted")")
            #expect(await refusal(cluster, as: Self.adminRole, "UPDATE documents SET scope = '[\"records.read\",\"custody.hold\"]' WHERE reference = 'JW-1'") == "P0001")
            #expect(await refusal(cluster, as: Self.adminRole, "DELETE FROM documents WHERE reference = 'JW-1'") == "42501")
            // A PostgreSQL pass: who approved an active warrant, its successor and its reason are written with the move
            // that sets them, and a certificate's revocation is never changed or taken back.
            #expect(await refusal(cluster, as: Self.adminRole, "UPDATE documents SET approved_by = registered_by WHERE reference = 'JW-1'") == "P0001")
            #expect(await refusal(cluster, as: Self.adminRole, "UPDATE documents SET superseded_by = 'JW-X' WHERE reference = 'JW-1'") == "P0001")
            #expect(await refusal(cluster, as: Self.gatewayRole, "UPDATE documents SET status_reason = 'x' WHERE reference = 'JW-1'") == "P0001")
            let revoked = "INSERT INTO certificate_revocations (agency, spki, serial, reason, revoked_by, revoked_at) VALUES ('ice-ero', '\(String(repeating: "ab", count: 32))', NULL, 'stolen', 'x', 'x')"
            #expect(await refusal(cluster, as: Self.adminRole, revoked) == nil)
            #expect(await refusal(cluster, as: Self.adminRole, "UPDATE certificate_revocations SET spki = '\(String(repeating: "0", count: 64))'") == "P0001")
            #expect(await refusal(cluster, as: Self.adminRole, "DELETE FROM certificate_revocations") == "42501")
            // An expiry moves only to the end of its date in the recorded zone, when a gateway records a new one (below).
            #expect(await refusal(cluster, as: Self.adminRole, "UPDATE documents SET expires_at = expires_at + 3600 WHERE reference = 'JW-1'") == "P0001")
            #expect(await refusal(cluster, as: Self.gatewayRole, "UPDATE documents SET expires_at = expires_at + 3600 WHERE reference = 'JW-1'") == "P0001")
            let activeAtOnce = """
                INSERT INTO documents (reference, kind, status, agency, subjects, scope, expires, expires_at, registered_by, registered_at, two_person_rule)
                VALUES ('JW-RAW', 'judicial-warrant', 'active', 'ice-ero', '["2017-000123"]', '["records.read"]', '2099-12-31', 4102444800, 'x', 'x', 0)
                """
            #expect(await refusal(cluster, as: Self.adminRole, activeAtOnce) == "P0001", "an active warrant cannot skip the two-person rule")
            // Nor is one inserted with an expiry that is no date (every later zone change would trip on it), or an
            // instant other than its date's end.
            for (expires, instant) in [("not-a-date", "4102444800"), ("2099-12-31", "4102444800 + 86400 * 7")] {
                let pending = """
                    INSERT INTO documents (reference, kind, status, agency, subjects, scope, expires, expires_at, registered_by, registered_at, two_person_rule)
                    VALUES ('JW-ODD', 'judicial-warrant', 'pending', 'ice-ero', '["2017-000123"]', '["records.read"]', '\(expires)', \(instant), 'x', 'x', 1)
                    """
                #expect(await refusal(cluster, as: Self.adminRole, pending) == "P0001", "\(expires)")
            }
            #expect(await refusal(cluster, as: PostgresCluster.owner, "DELETE FROM documents WHERE reference = 'JW-1'") == "P0001")
            let ruleOff = "INSERT INTO settings (key, value) VALUES ('two-person-rule', 'off') ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            #expect(await refusal(cluster, as: Self.gatewayRole, ruleOff) == "P0001")
            // Nor may the admin's, but as the CLI does it, with its record in the log (a pass: a plain UPDATE switched
            // the rule off unlogged).
            #expect(await refusal(cluster, as: Self.adminRole, ruleOff) == "P0001")
            #expect(await refusal(cluster, as: PostgresCluster.owner, ruleOff) == "P0001")
            // A re-pass: the mark of a migration in progress lifted that trigger, and the admin's role could set it.
            let pending = "INSERT INTO settings (key, value) VALUES ('\(StoreMigration.pendingKey)', 'x')"
            #expect(await refusal(cluster, as: Self.adminRole, pending) == "P0001")
            #expect(await refusal(cluster, as: Self.gatewayRole, pending) != nil)
            #expect(await refusal(cluster, as: Self.adminRole, "DELETE FROM settings WHERE key = 'two-person-rule'") == "42501")
            #expect(await refusal(cluster, as: PostgresCluster.owner, "UPDATE settings SET value = 'on' WHERE key = 'two-person-rule'") == nil)

            // Only the archive's role archives; the others' attempts leave the log whole.
            for (name, store) in [("gateway", stores.gateway), ("admin", stores.admin)] {
                let path = fixture.path("\(name).archive")
                let refused = await failure { try store.archive(before: .distantFuture, key: Sample.key, path: path, operator: name) }
                #expect(refused?.contains("permission denied") == true, "\(name): \(refused ?? "archived")")
            }
            #expect(try await blocking { try stores.gateway.exporter().decisionCount() } == 6)
            let moved = try await blocking {
                try stores.archive.archive(before: Sample.clock(0), key: Sample.key, path: fixture.path("archive.archive"), operator: "records-officer")
            }
            #expect(moved == 0, "every entry's time is after the cutoff")
            // Entries within the retention period (a year unless the tables' owner set another) stay, whoever archives;
            // the archive's role may set neither that nor any other setting.
            let recent = await failure {
                try stores.archive.archive(before: .distantFuture, key: Sample.key, path: fixture.path("recent.archive"), operator: "records-officer")
            }
            #expect(recent?.contains("keeps every entry for its retention period") == true, "\(recent ?? "archived")")
            #expect(await refusal(cluster, as: Self.archiveRole, "INSERT INTO settings (key, value) VALUES ('archive-retention-days', '0')") == "42501")
            #expect(await refusal(cluster, as: Self.archiveRole, "INSERT INTO settings (key, value) VALUES ('migration-pending', 'x')") == "42501")
            #expect(await refusal(cluster, as: Self.adminRole, "INSERT INTO settings (key, value) VALUES ('archive-retention-days', '0')") == "P0001")
            #expect(await refusal(cluster, as: PostgresCluster.owner, "INSERT INTO settings (key, value) VALUES ('archive-retention-days', '-3650')") == nil)
            let archived = try await blocking {
                try stores.archive.archive(before: .distantFuture, key: Sample.key, path: fixture.path("all.archive"), operator: "records-officer")
            }
            #expect(archived == 18)
            // Even the archive's role deletes only what is archived, and keeps only the leaves of entries it archives:
            // one for an entry not yet in the log, or with another hash, would stand where a later archive's goes.
            #expect(await refusal(cluster, as: Self.archiveRole, "DELETE FROM log WHERE seq = 19") == "P0001")
            for seq in [19, 20, 1_000_000] {
                #expect(await refusal(cluster, as: Self.archiveRole,
                                      "INSERT INTO archived_leaves (seq, leaf_hash) VALUES (\(seq), decode(repeat('00', 32), 'hex'))") == "P0001",
                        "\(seq)")
            }
            #expect(await refusal(cluster, as: Self.archiveRole,
                                  "INSERT INTO archived_leaves (seq, leaf_hash) SELECT seq, leaf_hash FROM log WHERE seq = 19") == "P0001",
                    "an entry no checkpoint covers yet")
            // A review's pass: the next entry's own leaf, checkpointed, inserted without archiving it.
            let covered = try await blocking { try stores.gateway.checkpointer(key: Sample.key, lastSigned: nil).sign() }
            #expect((covered?.size ?? 0) >= 19)
            // Checked at the transaction's end, and so refused at its COMMIT. (PostgresNIO reports a statement's own
            // implicit transaction as done before the check refuses it; the row is not kept: then the insert below
            // would be refused as a duplicate, 23505.)
            _ = await refusal(cluster, as: Self.archiveRole, "INSERT INTO archived_leaves (seq, leaf_hash) SELECT seq, leaf_hash FROM log WHERE seq = 19")
            let kept = await refusal(cluster, as: Self.archiveRole, session: [
                "BEGIN", "INSERT INTO archived_leaves (seq, leaf_hash) SELECT seq, leaf_hash FROM log WHERE seq = 19", "COMMIT",
            ])
            #expect(kept == "P0001", "a leaf kept for an entry left in the log: \(kept ?? "inserted")")
            for archives in [[fixture.path("all.archive")], []] {
                let report = try await blocking { try stores.gateway.verify(key: Sample.key.verifier, archives: archives, against: signed?.note) }
                #expect(report.ok && report.entries == 19, "\(archives): \(report.problems)")
            }
            try await blocking { try newYork.recordTimeZone() }
            let recomputed = try await blocking { try newYork.snapshot() }
            #expect(recomputed.document(reference: "JW-1")?.expiresAt == LocalDate("2099-12-31")!.end(in: TimeZone(identifier: "America/New_York")!))
            #expect(try await blocking { try newYork.history(target: "time-zone") }.last?.details["expiryRecomputed"] == "JW-1,JW-PENDING")

            // The zone is a tz database name; an expiry is always its date's end in the zone recorded now (or up to
            // an hour before), so recording another zone and then the first again moves none.
            let newYorkEnd = LocalDate("2099-12-31")!.end(in: TimeZone(identifier: "America/New_York")!)
            #expect(await refusal(cluster, as: Self.gatewayRole, "UPDATE settings SET value = 'XXX+167' WHERE key = 'time-zone'") == "P0001")
            #expect(await refusal(cluster, as: Self.gatewayRole, "UPDATE settings SET value = 'Pacific/Kiritimati' WHERE key = 'time-zone'") == nil)
            let east = try await blocking { try newYork.snapshot() }.document(reference: "JW-1")?.expiresAt
            #expect(east == LocalDate("2099-12-31")!.end(in: TimeZone(identifier: "Pacific/Kiritimati")!), "recomputed by the store")
            #expect(await refusal(cluster, as: Self.gatewayRole, "UPDATE settings SET value = 'America/New_York' WHERE key = 'time-zone'") == nil)
            #expect(try await blocking { try newYork.snapshot() }.document(reference: "JW-1")?.expiresAt == newYorkEnd)
            let end = Int(newYorkEnd.timeIntervalSince1970)
            #expect(await refusal(cluster, as: Self.gatewayRole, "UPDATE documents SET expires_at = \(end - 7200) WHERE reference = 'JW-1'") == "P0001")
            #expect(await refusal(cluster, as: Self.gatewayRole, "UPDATE documents SET expires_at = \(end + 1) WHERE reference = 'JW-1'") == "P0001")
            #expect(await refusal(cluster, as: Self.gatewayRole, "UPDATE documents SET expires_at = \(end - 3600) WHERE reference = 'JW-1'") == nil,
                    "the first of two midnights where clocks go back at midnight")
            #expect(await refusal(cluster, as: Self.gatewayRole, "UPDATE settings SET value = 'EST' WHERE key = 'time-zone'") == "P0001",
                    "an abbreviation, read without summer time")

            // A session's temporary table does not stand in for one a trigger reads.
            let week = "CREATE TEMP TABLE settings (key TEXT, value TEXT); INSERT INTO settings VALUES ('time-zone', 'XXX+167')"
            let weekLater = Int(Timestamp.parse("2100-01-01T00:00:00Z")!.timeIntervalSince1970) + 167 * 3600
            #expect(await refusal(cluster, as: Self.gatewayRole, session: week.components(separatedBy: "; ") + [
                "UPDATE public.documents SET expires_at = \(weekLater) WHERE reference = 'JW-1'",
            ]) == "P0001")
            #expect(await refusal(cluster, as: Self.gatewayRole, session: [
                "CREATE TEMP TABLE pg_timezone_names AS SELECT 'XXX+167YYY,M3.2.0/2,M11.1.0/2'::text AS name",
                "UPDATE settings SET value = 'XXX+167YYY,M3.2.0/2,M11.1.0/2' WHERE key = 'time-zone'",
            ]) == "P0001")
            let ownerStandIn = """
                CREATE TEMP TABLE pg_class AS SELECT oid, (SELECT oid FROM pg_roles WHERE rolname = current_user) AS relowner FROM pg_catalog.pg_class
                """
            #expect(await refusal(cluster, as: Self.adminRole, session: [ownerStandIn, activeAtOnce]) == "P0001", "the admin's role is not the owner")
            #expect(await refusal(cluster, as: Self.archiveRole, session: [
                "CREATE TEMP TABLE archive_state (id INT, archived_through BIGINT)", "INSERT INTO archive_state VALUES (1, 1000000)",
                "CREATE TEMP TABLE archived_leaves AS SELECT seq, leaf_hash FROM public.log", "DELETE FROM public.log WHERE seq = (SELECT max(seq) FROM public.log)",
            ]) == "P0001", "the archive's role deletes only what is archived")
        }

        /// `store init` checks the roles it grants, but a role can be given more later, and a gateway can be pointed at
        /// another role's credentials: each gateway checks the role it connects as when it starts.
        @Test("a gateway refuses to serve as the owner, the admin's or the archive's role, or a role granted more since store init")
        func servingRole() async throws {
            let fixture = try await StoreFixture.start(.postgres)
            defer { fixture.stop() }
            let cluster = try #require(fixture.cluster)
            try await cluster.withClient { client in
                for role in [Self.gatewayRole, Self.adminRole, Self.archiveRole, "wg_stranger"] {
                    try await client.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN"), logger: PostgresCluster.logger)
                }
            }
            // Without granted roles (a demo), the owner appends and may serve.
            try await blocking {
                try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: nil))
                let owner = try cluster.store()
                defer { owner.close() }
                try owner.checkServingRole()
            }
            let serving = { @Sendable (user: String) async -> String? in
                await failure {
                    let store = try cluster.store(user: user)
                    defer { store.close() }
                    try store.checkServingRole()
                }
            }
            try await blocking {
                try Store.initialize(cluster.location(), roles: PostgresRoles(gateway: Self.gatewayRole, admin: Self.adminRole, archive: Self.archiveRole))
            }
            #expect(await serving(Self.gatewayRole) == nil)
            try await cluster.withClient { client in
                try await client.query(PostgresQuery(unsafeSQL: "GRANT SELECT ON registry_state, settings, schema_release TO wg_stranger"), logger: PostgresCluster.logger)
            }
            let (gateway, owner) = (Self.gatewayRole, PostgresCluster.owner)
            let refusals: [(user: String, grant: [String], revoke: [String], message: String)] = [
                (owner, [], [], "the store's tables or trigger functions"),
                (Self.adminRole, [], [], "is the admin role"),
                (Self.archiveRole, [], [], "is the archive role"),
                ("wg_stranger", [], [], "is not the role granted the gateways' work"),
                (gateway, ["ALTER ROLE \(gateway) CREATEROLE"], ["ALTER ROLE \(gateway) NOCREATEROLE"], "may create roles"),
                (gateway, ["GRANT pg_write_all_data TO \(gateway)"], ["REVOKE pg_write_all_data FROM \(gateway)"], "is a member of pg_write_all_data"),
                (gateway, ["GRANT CREATE ON SCHEMA public TO \(gateway)"], ["REVOKE CREATE ON SCHEMA public FROM \(gateway)"], "may create objects in the schema public"),
                (gateway, ["GRANT \(owner) TO \(gateway)"], ["REVOKE \(owner) FROM \(gateway)"], "the store's tables or trigger functions"),
                (gateway, ["GRANT \(Self.adminRole) TO \(gateway)"], ["REVOKE \(Self.adminRole) FROM \(gateway)"], "is the admin role"),
                (gateway, ["GRANT DELETE ON log TO \(gateway)"], ["REVOKE DELETE ON log FROM \(gateway)"], "is the archive role"),
                // A second pass: what a NOINHERIT login may still SET ROLE to, a trigger function it owns (DROP
                // FUNCTION … CASCADE dropped the log's append-only trigger), and TRIGGER on the log.
                (gateway, ["ALTER ROLE \(gateway) NOINHERIT", "GRANT \(Self.archiveRole) TO \(gateway)"],
                 ["REVOKE \(Self.archiveRole) FROM \(gateway)", "ALTER ROLE \(gateway) INHERIT"], "is the archive role"),
                (gateway, ["ALTER FUNCTION warrant_gate_log_archived_only() OWNER TO \(gateway)"],
                 ["ALTER FUNCTION warrant_gate_log_archived_only() OWNER TO \(owner)"], "trigger functions"),
                (gateway, ["GRANT TRIGGER ON log TO \(gateway)"], ["REVOKE TRIGGER ON log FROM \(gateway)"], "may create triggers on"),
                (gateway, ["GRANT TRUNCATE ON documents TO \(gateway)"], ["REVOKE TRUNCATE ON documents FROM \(gateway)"], "truncate"),
                // A third: the owner of the database or of public may drop the log; SET on session_replication_role
                // turns its triggers off.
                (gateway, ["ALTER DATABASE postgres OWNER TO \(gateway)"], ["ALTER DATABASE postgres OWNER TO \(owner)"], "the owner of the database"),
                (gateway, ["ALTER SCHEMA public OWNER TO \(gateway)", "REVOKE ALL ON SCHEMA public FROM \(gateway)", "GRANT USAGE ON SCHEMA public TO \(gateway)"],
                 ["ALTER SCHEMA public OWNER TO pg_database_owner", "REVOKE ALL ON SCHEMA public FROM \(gateway)"], "the owner of the database"),
                (gateway, ["GRANT SET ON PARAMETER session_replication_role TO \(gateway)"],
                 ["REVOKE SET ON PARAMETER session_replication_role FROM \(gateway)"], "session_replication_role"),
            ]
            for (user, grant, revoke, message) in refusals {
                for sql in grant { try await cluster.withClient { try await $0.query(PostgresQuery(unsafeSQL: sql), logger: PostgresCluster.logger) } }
                let refused = await serving(user)
                #expect(refused?.contains(message) == true && refused?.contains("connect as the role") == true, "\(user), \(grant): \(refused ?? "served")")
                for sql in revoke { try await cluster.withClient { try await $0.query(PostgresQuery(unsafeSQL: sql), logger: PostgresCluster.logger) } }
            }
            #expect(await serving(Self.gatewayRole) == nil, "every grant taken back")
        }
    }
}
