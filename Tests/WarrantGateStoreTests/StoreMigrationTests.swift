import Foundation
import Testing
import WarrantGateCore
import WarrantGateTestSupport
@testable import WarrantGateStore

extension StoreBackendTests {
    /// `store migrate`: a site's SQLite store copied into an empty PostgreSQL one.
    @Suite("Migration from SQLite to PostgreSQL", .enabled(if: PostgresCluster.isEnabled))
    struct Migration {
        /// Fills `store` as a site would: registry changes, 1,200 decisions with their outcomes, and a checkpoint after
        /// each of two rounds; about 2,000 entries, so that the copy takes several batches. Returns the entries' count.
        private func fill(_ store: Store) async throws -> UInt64 {
            let registry = store.registry(timeZone: Sample.denver)
            try await blocking {
                try registry.recordTimeZone()
                try registry.recordSettableFacts(["conviction-class": .values(["felony", "misdemeanor"])])
                _ = try registry.register(Sample.warrant("JW-1"), operator: "clerk", at: Sample.clock(1))
                try registry.approve(reference: "JW-1", operator: "supervisor", at: Sample.clock(2))
                _ = try registry.register(Sample.warrant("JW-2", agency: "cbp"), operator: "clerk", at: Sample.clock(3))
                try registry.revoke(reference: "JW-2", reason: "quashed", operator: "supervisor", at: Sample.clock(4))
                let request = try registry.addAgency(
                    id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [String(repeating: "a1", count: 32)], operator: "it",
                    at: Sample.clock(5), listed: [Agency(id: "aurora-pd", name: "Aurora", category: .localLawEnforcement)]
                )
                try registry.approveAgencyRequest(request!, operator: "supervisor", at: Sample.clock(5))
                // One still pending is copied too.
                try registry.addAgency(id: "cbp", name: "CBP", category: .federalImmigration, spkiPins: [String(repeating: "c3", count: 32)], operator: "it")
                let stolen = String(repeating: "ef", count: 32)
                try registry.revokeCertificate(agency: "ice-ero", spki: stolen, serial: nil, reason: "stolen", operator: "it", at: Sample.clock(6))
                try registry.revokeCertificate(agency: "ice-ero", spki: nil, serial: "0a1b", reason: "reissued", operator: "it", at: Sample.clock(7))
                for (step, kind) in [(8, SubjectRecordKind.advisement), (9, .consent), (10, .writtenAuthorization)] {
                    let record = SubjectRecord(
                        subject: "2017-000123", kind: kind, givenBy: "Dep. Ortiz", givenAt: Sample.clock(step - 60).addingTimeInterval(0.5),
                        language: kind == .advisement ? "es" : nil, attorneyRequired: kind == .consent, scope: kind == .writtenAuthorization ? ["immigrationStatus"] : []
                    )
                    try registry.record(record, operator: "clerk", at: Sample.clock(step))
                }
                try registry.setFact(subject: "2017-000123", name: "conviction-class", value: "felony", operator: "clerk", at: Sample.clock(11))
            }
            let decisions = (0..<1_200).map(Sample.decision)
            func round(_ indices: Range<Int>) -> [LogEntry] {
                indices.flatMap { index in
                    let decision = decisions[index]
                    return [Sample.entry(decision)] + (decision.effect == .allow ? [Sample.entry(Sample.outcome(of: decision))] : [])
                }
            }
            try await store.appendThroughDecisionLog(round(0..<600))
            _ = try await blocking { try store.checkpointer(key: Sample.key, lastSigned: nil).sign() }
            try await blocking {
                try registry.setTwoPersonRule(false, reason: "one-person night shift", operator: "sheriff", at: Sample.clock(12))
                try registry.setTwoPersonRule(false, reason: "one-person night shift", operator: "undersheriff", at: Sample.clock(12))
                _ = try registry.register(Sample.warrant("JW-3", subjects: ["2017-000456"]), operator: "clerk", at: Sample.clock(13))
            }
            try await store.appendThroughDecisionLog(round(600..<1_200))
            return try await blocking {
                try store.checkpointer(key: Sample.key, lastSigned: nil).sign()
                return try store.checkpointer(key: Sample.key, lastSigned: nil).logSize()
            }
        }

        /// Everything the CLI lists from a registry, encoded for comparison.
        private func listing(_ store: Store) async throws -> String {
            try await blocking {
                let registry = store.registry(timeZone: Sample.denver)
                let encoder = JSONEncoder()
                encoder.outputFormatting = .sortedKeys
                let records = try registry.records(subject: "2017-000123") + registry.records(subject: "2017-000456")
                let parts = [
                    try encoder.encode(registry.entries()), try encoder.encode(registry.certificateRevocations()), try encoder.encode(records),
                    try encoder.encode(registry.history(target: "JW-1") + registry.history(target: "2017-000123")),
                ]
                return parts.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
            }
        }

        private func jsonl(_ store: Store) async throws -> [String] {
            try await blocking {
                var lines: [String] = []
                try store.exporter().export(format: .jsonl) { lines.append($0) }
                return lines
            }
        }

        @Test("the copy verifies, with the source's tree, checkpoints and registry; a second copy is refused; the target carries on")
        func migrate() async throws {
            let fixture = try await StoreFixture.start(.postgres)
            defer { fixture.stop() }
            let source = try await fixture.newStore("source", on: .sqlite)
            let total = try await fill(source)
            let target = try await fixture.newStore("target")
            // A gateway pointed at the target early has recorded its time zone there; that does not make it non-empty.
            try await blocking { try target.registry(timeZone: .gmt).recordTimeZone() }

            let report = try await blocking { try StoreMigration.copy(from: source, to: target) }
            let sourceHead = try await blocking { try source.treeHead() }
            // 3 documents, 3 records, a fact, an agency, 2 certificate revocations, 2 agency requests (one approved, one
            // pending) and 3 settings (the rule, its request to turn off, answered, and the zone).
            #expect(report.entries == total && report.checkpoints == 2 && report.registryRows == 16 && report.root == sourceHead.root)

            let verified = try await blocking { try target.verify(key: Sample.key.verifier, against: nil) }
            #expect(verified.ok && verified.entries == total && verified.checkpoints == 2 && verified.root == sourceHead.root, "\(verified.problems)")
            let targetHead = try await blocking { try target.treeHead() }
            #expect(targetHead.size == sourceHead.size && targetHead.root == sourceHead.root && targetHead.origin == sourceHead.origin)
            let (sourceLatest, targetLatest) = try await blocking { (try source.latestCheckpoint(), try target.latestCheckpoint()) }
            #expect(targetLatest?.id == 2 && targetLatest?.id == sourceLatest?.id && targetLatest?.note == sourceLatest?.note)
            #expect(targetLatest?.time == sourceLatest?.time && targetLatest?.size == total)

            // The registry, as the gateway reads it and as the CLI lists it.
            let (from, to) = try await blocking {
                (try source.registry(timeZone: Sample.denver).snapshot(), try target.registry(timeZone: Sample.denver).snapshot())
            }
            #expect(to.documents == from.documents && to.documents.count == 3)
            #expect(to.recordsBySubject == from.recordsBySubject && to.records(subject: "2017-000123").count == 3)
            #expect(to.factsBySubject == from.factsBySubject && to.agencies == from.agencies)
            #expect(from.agencyExtensions == ["aurora-pd"] && to.agencyExtensions == from.agencyExtensions)
            #expect(to.certificateRevocations == from.certificateRevocations && to.certificateRevocations.count == 2)
            #expect(try await listing(target) == listing(source))
            let settings = try await blocking { (try target.recordedTimeZone(), try target.registry(timeZone: Sample.denver).twoPersonRule()) }
            #expect(settings.0 == Sample.denver && settings.1 == false, "the source's settings win over what the target had recorded")
            let (exported, original) = (try await jsonl(target), try await jsonl(source))
            #expect(exported.count == 1_200 && exported == original)
            let proof = try await blocking { try target.inclusionProof(decisionId: "d-700") }
            #expect(try proof.verify(key: Sample.key.verifier).root == sourceHead.root)

            // Once copied, never again into the same store.
            let again = await #expect(throws: StoreError.self) { try await blocking { try StoreMigration.copy(from: source, to: target) } }
            #expect(again?.message.contains("already holds rows") == true, "\(String(describing: again))")

            // The target carries on: the copied ids' sequences continue, and the log grows under new checkpoints.
            let registry = target.registry(timeZone: Sample.denver)
            let later = SubjectRecord(subject: "2017-000456", kind: .consentDeclined, givenBy: "Sgt. Lee", givenAt: Sample.clock(30))
            try await blocking {
                try registry.record(later, operator: "clerk", at: Sample.clock(31))
                try registry.revokeCertificate(agency: "cbp", spki: nil, serial: "ff", reason: "lost", operator: "it", at: Sample.clock(32))
            }
            let ids = try await blocking {
                try target.database.read { session in
                    (try session.scalarInt64("SELECT max(id) FROM subject_records"), try session.scalarInt64("SELECT max(id) FROM certificate_revocations"))
                }
            }
            #expect(ids.0 == 4 && ids.1 == 3)
            #expect(try await blocking { try registry.records(subject: "2017-000456") } == [later])
            try await target.appendThroughDecisionLog([Sample.entry(Sample.decision(1_200))])
            let next = try #require(try await blocking { try target.checkpointer(key: Sample.key, lastSigned: nil).sign() })
            #expect(next.id == 3 && next.size == total + 3)
            let grown = try await blocking { try target.verify(key: Sample.key.verifier, against: sourceLatest?.note) }
            #expect(grown.ok && grown.entries == total + 3, "\(grown.problems)")

            // And back again, into a new SQLite file: the copy goes both ways.
            let back = try await fixture.newStore("back", on: .sqlite)
            let returned = try await blocking { try StoreMigration.copy(from: target, to: back) }
            #expect(returned.entries == total + 3 && returned.checkpoints == 3 && returned.registryRows == 18 && returned.root == next.root)
            let backReport = try await blocking { try back.verify(key: Sample.key.verifier, against: next.note) }
            #expect(backReport.ok && backReport.entries == total + 3, "\(backReport.problems)")
            #expect(try await listing(back) == listing(target))
        }

        /// A gateway started on a copy cut short signed checkpoints over part of the log, forking it from the source's.
        @Test("a copy that stops half-way leaves a target that no gateway or command opens, and says how to start again")
        func interruptedCopy() async throws {
            let fixture = try await StoreFixture.start(.postgres)
            defer { fixture.stop() }
            let source = try await fixture.newStore("source", on: .sqlite)
            _ = try await fill(source)
            // Entry 1,100 no longer matches its leaf hash: the copy stops there, after the registry and a batch.
            try await blocking {
                try #require(source.sqlitePool).write { db in
                    try db.execute(sql: "DROP TRIGGER log_is_append_only_update")
                    try db.execute(sql: "UPDATE log SET entry = entry || ' ' WHERE seq = 1100")
                }
            }
            let target = try await fixture.newStore("target")
            let cut = await #expect(throws: StoreError.self) { try await blocking { try StoreMigration.copy(from: source, to: target) } }
            #expect(cut?.message.contains("does not match its leaf hash") == true, "\(String(describing: cut))")
            #expect(try await blocking { try target.treeHead().size } == 1_000, "a batch was copied before the copy stopped")
            let reopened = await #expect(throws: StoreError.self) { try await blocking { try Store.open(target.location, options: PostgresCluster.patient) } }
            #expect(reopened?.message.contains("`store migrate` that has not finished") == true, "\(String(describing: reopened))")
            #expect(reopened?.message.contains("drop that database") == true)
        }

        @Test("a source whose older entries were archived is refused, and the target left empty")
        func archivedSource() async throws {
            let fixture = try await StoreFixture.start(.postgres)
            defer { fixture.stop() }
            let source = try await fixture.newStore("archived", on: .sqlite)
            try await source.appendThroughDecisionLog((0..<5).map { Sample.entry(Sample.decision($0)) })
            let archived = try await blocking {
                try source.checkpointer(key: Sample.key, lastSigned: nil).sign()
                return try source.archive(before: Sample.time(3), key: Sample.key, path: fixture.path("old.archive"), operator: "records-officer")
            }
            #expect(archived == 3)
            let target = try await fixture.newStore("target")
            let error = await #expect(throws: StoreError.self) { try await blocking { try StoreMigration.copy(from: source, to: target) } }
            #expect(error?.message.contains("archived entries (through seq 3)") == true, "\(String(describing: error))")
            let (head, snapshot) = try await blocking { (try target.treeHead(), try target.registry(timeZone: .gmt).snapshot()) }
            #expect(head.size == 0 && snapshot.documents.isEmpty && snapshot.agencies.isEmpty)
        }
    }
}
