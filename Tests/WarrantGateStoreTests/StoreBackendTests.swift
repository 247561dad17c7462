import Crypto
import Foundation
import Synchronization
import Testing
import WarrantGateCore
import WarrantGateTestSupport
@testable import WarrantGateStore

/// The store's behaviour through its public API, as the CLI and the gateway use it, once on SQLite and once on a real
/// PostgreSQL server. Blocking store calls run off the cooperative pool (``blocking(_:)``); assertions run in the
/// test's task. Serialized, so that at most one of these tests' PostgreSQL clusters runs at a time.
@Suite("The store on SQLite and on PostgreSQL", .serialized)
struct StoreBackendTests {
    // MARK: Registry

    /// Performs `change` and says whether the registry's version moved.
    private func versionMoves(_ registry: Registry, _ change: @escaping @Sendable () throws -> Void) async throws -> Bool {
        try await blocking {
            let before = try registry.version()
            try change()
            return try registry.version() != before
        }
    }

    /// A review of the PostgreSQL store: every gateway sweeps expired documents each second, and all find a document
    /// due at the same instant. A sweep that read it before another's commit waited for that row, then expired it
    /// again, and logged a second `warrant.expire` saying it had been active.
    @Test("two gateways' expiry sweeps at the same instant expire each document once", arguments: Backend.testable)
    func concurrentExpiry(_ backend: Backend) async throws {
        let fixture = try await StoreFixture.start(backend)
        defer { fixture.stop() }
        let (first, second) = (try await fixture.newStore(), try await fixture.openAgain())
        let registries = [first, second].map { $0.registry(timeZone: Sample.denver) }
        let references = (0..<40).map { "JW-DUE-\($0)" }
        try await blocking {
            for (index, reference) in references.enumerated() {
                _ = try registries[0].register(Sample.warrant(reference, expires: "2026-11-30"), operator: "clerk", at: Sample.clock(2 * index))
                try registries[0].approve(reference: reference, operator: "supervisor", at: Sample.clock(2 * index + 1))
            }
        }
        let endOfDay = LocalDate("2026-11-30")!.end(in: Sample.denver)
        // Either sweep may also give up on a row the other holds (200 ms); a later sweep then expires what is left.
        let expired = await withTaskGroup(of: [String].self) { group in
            for registry in registries { group.addTask { (try? await blocking { try registry.expireDue(at: endOfDay) }) ?? [] } }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        let rest = try await blocking { try registries[1].expireDue(at: endOfDay) }
        #expect((expired + rest).sorted() == references.sorted(), "each document expired by exactly one sweep")
        for reference in references {
            let history = try await blocking { try registries[0].history(target: reference) }
            #expect(history.filter { $0.action == "warrant.expire" }.count == 1, "\(reference): \(history.map(\.action))")
        }
        first.close()
        second.close()
    }

    @Test("registry: documents under the two-person rule, agencies, records, facts and settings; every change versioned and logged", arguments: Backend.testable)
    func registry(_ backend: Backend) async throws {
        let fixture = try await StoreFixture.start(backend)
        defer { fixture.stop() }
        let store = try await fixture.newStore()
        let registry = store.registry(timeZone: Sample.denver)

        // The gateway records its policy's time zone: a change, but not an operator's, so not logged.
        #expect(try await blocking { try store.recordedTimeZone() } == nil)
        #expect(try await versionMoves(registry) { try registry.recordTimeZone() })
        #expect(try await !versionMoves(registry) { try registry.recordTimeZone() }, "recording the same zone again changes nothing")
        #expect(try await blocking { try store.recordedTimeZone() } == Sample.denver)

        // Two-person rule (on by default): pending until a different operator approves.
        #expect(try await blocking { try registry.twoPersonRule() })
        #expect(try await versionMoves(registry) { _ = try registry.register(Sample.warrant("JW-1"), operator: "clerk", at: Sample.clock(1)) })
        #expect(try await blocking { try registry.entry(reference: "JW-1") }?.document.status == .pending)
        await #expect(throws: StoreError.self, "the registrant may not approve") {
            try await blocking { try registry.approve(reference: "JW-1", operator: "clerk", at: Sample.clock(2)) }
        }
        #expect(try await versionMoves(registry) { try registry.approve(reference: "JW-1", operator: "supervisor", at: Sample.clock(2)) })
        await #expect(throws: StoreError.self, "a reference is registered once") {
            try await blocking { try registry.register(Sample.warrant("JW-1"), operator: "clerk", at: Sample.clock(3)) }
        }
        for (step, reference) in [(4, "JW-2"), (6, "JW-3")] {
            let agency = reference == "JW-3" ? "cbp" : "ice-ero"
            _ = try await blocking { try registry.register(Sample.warrant(reference, agency: agency), operator: "clerk", at: Sample.clock(step)) }
            try await blocking { try registry.approve(reference: reference, operator: "supervisor", at: Sample.clock(step + 1)) }
        }
        #expect(try await versionMoves(registry) { try registry.supersede(reference: "JW-1", by: "JW-2", operator: "clerk", at: Sample.clock(8)) })
        #expect(try await versionMoves(registry) { try registry.revoke(reference: "JW-3", reason: "quashed", operator: "supervisor", at: Sample.clock(9)) })
        await #expect(throws: StoreError.self, "a revoked document stays revoked") {
            try await blocking { try registry.revoke(reference: "JW-3", reason: "again", operator: "supervisor", at: Sample.clock(10)) }
        }

        // Expiry at the end of the last day in Denver, by the system.
        _ = try await blocking { try registry.register(Sample.warrant("JW-SHORT", expires: "2026-11-30"), operator: "clerk", at: Sample.clock(11)) }
        try await blocking { try registry.approve(reference: "JW-SHORT", operator: "supervisor", at: Sample.clock(12)) }
        let endOfDay = LocalDate("2026-11-30")!.end(in: Sample.denver)
        #expect(try await blocking { try registry.expireDue(at: endOfDay.addingTimeInterval(-1)) } == [])
        #expect(try await blocking { try registry.expireDue(at: endOfDay) } == ["JW-SHORT"])
        #expect(try await blocking { try registry.expireDue(at: endOfDay) } == [], "expired once")

        // With the rule off (logged with its reason), a registration is active at once. Others have acted here, so
        // turning it off takes a second operator: the first only asks.
        #expect(try await blocking {
            try registry.setTwoPersonRule(false, reason: "one-person night shift", operator: "sheriff", at: Sample.clock(13))
        } == .requested)
        #expect(try await blocking { try registry.twoPersonRule() } == true)
        #expect(try await versionMoves(registry) {
            try registry.setTwoPersonRule(false, reason: "one-person night shift", operator: "undersheriff", at: Sample.clock(13))
        })
        #expect(try await blocking { try registry.twoPersonRule() } == false)
        let administrative = Sample.warrant("I-200", kind: .administrativeWarrant, subjects: ["2017-000456"], expires: "2027-01-31")
        #expect(try await blocking { try registry.register(administrative, operator: "clerk", at: Sample.clock(14)) }.status == .active)

        // Agencies: added, then updated with a second certificate; certificates revoked by SPKI and by serial.
        let (pinA, pinB, stolen) = (String(repeating: "a1", count: 32), String(repeating: "b2", count: 32), String(repeating: "ef", count: 32))
        // The two-person rule is off here: each takes effect at once (no request to approve).
        let applied = Mutex<Int64??>(nil)
        #expect(try await versionMoves(registry) {
            let request = try registry.addAgency(id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [pinA], operator: "it", at: Sample.clock(15))
            applied.withLock { $0 = .some(request) }
        })
        #expect(applied.withLock { $0 } == .some(nil))
        #expect(try await blocking { try registry.agencyExtensions() }.isEmpty)
        // The second certificate is added while the directory file lists the agency: from then on the entry extends
        // it, whatever later additions find, and identifies no one once the file stops listing it.
        let listed = [Agency(id: "aurora-pd", name: "Aurora", category: .localLawEnforcement)]
        #expect(try await versionMoves(registry) {
            try registry.addAgency(
                id: "aurora-pd", name: "Aurora Police", category: .localLawEnforcement, spkiPins: [pinB], operator: "it", at: Sample.clock(16), listed: listed
            )
        })
        try await blocking { try registry.addAgency(id: "aurora-pd", name: "Aurora Police", category: .localLawEnforcement, spkiPins: [pinB], operator: "it") }
        #expect(try await blocking { try registry.agencyExtensions() } == ["aurora-pd"])
        #expect(try await blocking { try registry.snapshot().agencyExtensions } == ["aurora-pd"])
        #expect(try await versionMoves(registry) {
            try registry.revokeCertificate(agency: "ice-ero", spki: stolen, serial: nil, reason: "stolen laptop", operator: "it", at: Sample.clock(17))
        })
        #expect(try await versionMoves(registry) {
            try registry.revokeCertificate(agency: "ice-ero", spki: nil, serial: "0a1b", reason: "reissued", operator: "it", at: Sample.clock(18))
        })
        let agencies = try await blocking { try registry.agencies() }
        #expect(agencies.map(\.id) == ["aurora-pd"] && agencies.first?.name == "Aurora Police")
        #expect(agencies.first?.spkiPins == [pinA, pinB] && agencies.first?.category == .localLawEnforcement)
        let revocations = try await blocking { try registry.certificateRevocations() }
        #expect(revocations.map(\.spki) == [stolen, nil] && revocations.map(\.serial) == [nil, "0a1b"])
        #expect(revocations.map(\.reason) == ["stolen laptop", "reissued"] && revocations.map(\.revokedBy) == ["it", "it"])
        #expect(revocations.map(\.revokedAt) == [Timestamp.format(Sample.clock(17)), Timestamp.format(Sample.clock(18))])

        // Records about an inmate, listed by when they were given (not when recorded); each kind's own checks.
        let subject = "2017-000123"
        let advisement = SubjectRecord(subject: subject, kind: .advisement, givenBy: "Dep. Ortiz", givenAt: Sample.clock(-30).addingTimeInterval(0.25), language: "es")
        let consent = SubjectRecord(subject: subject, kind: .consent, givenBy: "Dep. Ortiz", givenAt: Sample.clock(-50), attorneyRequired: true)
        let authorization = SubjectRecord(subject: subject, kind: .writtenAuthorization, givenBy: "Sgt. Lee", givenAt: Sample.clock(-40), scope: ["immigrationStatus"])
        for (step, record) in [(19, advisement), (20, consent), (21, authorization)] {
            #expect(try await versionMoves(registry) { try registry.record(record, operator: "clerk", at: Sample.clock(step)) })
        }
        await #expect(throws: StoreError.self, "a written authorization says what may be shared") {
            let unscoped = SubjectRecord(subject: subject, kind: .writtenAuthorization, givenBy: "Sgt. Lee", givenAt: Sample.clock(0))
            try await blocking { try registry.record(unscoped, operator: "clerk") }
        }
        #expect(try await blocking { try registry.records(subject: subject) } == [consent, authorization, advisement])
        #expect(try await blocking { try registry.records(subject: "2017-000456") } == [])

        // Facts, replaced with the previous value logged.
        try await blocking { try registry.recordSettableFacts(["conviction-class": .values(["felony", "misdemeanor"])]) }
        for (step, value) in [(22, "felony"), (23, "misdemeanor")] {
            #expect(try await versionMoves(registry) {
                try registry.setFact(subject: subject, name: "conviction-class", value: value, operator: "clerk", at: Sample.clock(step))
            })
        }
        // An admin record alone (an export, say) is logged but changes nothing the gateway reads.
        #expect(try await !versionMoves(registry) {
            try registry.recordAdminAction("log.export", target: "log", details: ["rows": "0"], operator: "auditor", at: Sample.clock(24))
        })

        // Listing, with each filter.
        func references(_ filter: DocumentFilter = DocumentFilter(), now: Date = Date()) async throws -> [String] {
            try await blocking { try registry.entries(filter, now: now).map(\.document.reference) }
        }
        #expect(try await references() == ["JW-1", "JW-2", "JW-3", "JW-SHORT", "I-200"])
        #expect(try await references(DocumentFilter(status: .active)) == ["JW-2", "I-200"])
        #expect(try await references(DocumentFilter(agency: "cbp")) == ["JW-3"])
        #expect(try await references(DocumentFilter(subject: "2017-000456")) == ["I-200"])
        #expect(try await references(DocumentFilter(kind: .administrativeWarrant)) == ["I-200"])
        let december = LocalDate("2026-12-01")!.start(in: Sample.denver)
        #expect(try await references(DocumentFilter(expiringWithin: 90 * 86400), now: december) == ["I-200"])
        #expect(try await references(DocumentFilter(expiringWithin: 10 * 86400), now: december) == [])

        // Each document as the CLI shows it.
        let superseded = try #require(try await blocking { try registry.entry(reference: "JW-1") })
        #expect(superseded.document.status == .superseded && superseded.supersededBy == "JW-2" && superseded.statusReason == "superseded by JW-2")
        #expect(superseded.registeredBy == "clerk" && superseded.registeredAt == Timestamp.format(Sample.clock(1)) && superseded.twoPersonRule)
        #expect(superseded.approvedBy == "supervisor" && superseded.approvedAt == Timestamp.format(Sample.clock(2)))
        #expect(superseded.document.court == "U.S. District Court, D. Colo." && superseded.noDocumentReason == "faxed copy")
        #expect(superseded.document.expiresAt == LocalDate("2099-12-31")!.end(in: Sample.denver))
        #expect(try await blocking { try registry.entry(reference: "JW-3") }?.statusReason == "quashed")
        #expect(try await blocking { try registry.entry(reference: "JW-SHORT") }?.statusReason == "expired at the end of 2026-11-30")
        let oneOperator = try #require(try await blocking { try registry.entry(reference: "I-200") })
        #expect(!oneOperator.twoPersonRule && oneOperator.approvedBy == nil && oneOperator.document.court == nil)
        #expect(try await blocking { try registry.entry(reference: "JW-NONE") } == nil)

        // What the gateway reads, in one snapshot.
        let snapshot = try await blocking { try registry.snapshot() }
        #expect(snapshot.version == (try await blocking { try registry.version() }))
        #expect(snapshot.documents.mapValues(\.status) == [
            "JW-1": .superseded, "JW-2": .active, "JW-3": .revoked, "JW-SHORT": .expired, "I-200": .active,
        ])
        #expect(snapshot.documents(subject: "2017-000456").map(\.reference) == ["I-200"])
        #expect(Set(snapshot.records(subject: subject).map(\.kind)) == [.advisement, .consent, .writtenAuthorization])
        #expect(snapshot.facts(subject: subject) == ["conviction-class": "misdemeanor"])
        #expect(snapshot.agencies.map(\.id) == ["aurora-pd"] && snapshot.agencies.first?.spkiPins == [pinA, pinB])
        #expect(snapshot.certificateRevocations == [stolen: "stolen laptop", "serial:0a1b": "reissued"])

        // Every operator's change left its admin record, naming who made it.
        func history(_ target: String) async throws -> [AdminRecord] {
            try await blocking { try registry.history(target: target) }
        }
        let first = try await history("JW-1")
        #expect(first.map(\.action) == ["warrant.register", "warrant.approve", "warrant.supersede"])
        #expect(first.map(\.operator) == ["clerk", "supervisor", "clerk"] && first.map(\.time) == [1, 2, 8].map { Timestamp.format(Sample.clock($0)) })
        #expect(first.first?.details["twoPersonRule"] == "on" && first.last?.details["by"] == "JW-2")
        #expect(try await history("JW-2").map(\.action) == ["warrant.register", "warrant.approve", "warrant.supersedes"])
        let revoked = try await history("JW-3")
        #expect(revoked.last?.action == "warrant.revoke" && revoked.last?.details["reason"] == "quashed" && revoked.last?.details["previousStatus"] == "active")
        let expired = try await history("JW-SHORT")
        #expect(expired.last?.action == "warrant.expire" && expired.last?.operator == "system" && expired.last?.details["previousStatus"] == "active")
        #expect(try await history("I-200").map { $0.details["twoPersonRule"] } == ["off"])
        let rule = try await history("two-person-rule")
        #expect(rule.map(\.action) == ["settings.two-person-rule.requested", "settings.two-person-rule"] && rule.map(\.operator) == ["sheriff", "undersheriff"])
        #expect(rule.last?.details == ["value": "off", "reason": "one-person night shift", "requestedBy": "sheriff"])
        let aurora = try await history("aurora-pd")
        #expect(aurora.map(\.action) == ["agency.add", "agency.update", "agency.update"])
        #expect(aurora.map { $0.details["extendsListedAgency"] } == [nil, "yes", nil])
        #expect(try await history("ice-ero").map(\.action) == ["agency.revoke-cert", "agency.revoke-cert"])
        let inmate = try await history(subject)
        #expect(inmate.map(\.action) == ["advisement.record", "consent.record", "written-authorization.record", "subject.set-fact", "subject.set-fact"])
        #expect(inmate[1].details["attorneyRequired"] == "yes" && inmate[2].details["fields"] == "immigrationStatus")
        #expect(inmate.last?.details == ["name": "conviction-class", "value": "misdemeanor", "previous": "felony"])
        #expect(try await history("log").map(\.operator) == ["auditor"])
        // 5 registrations, 4 approvals, 2 for the supersession, a revocation, an expiry, the rule asked for and set, 3
        // agency changes, 2 certificate revocations, 3 records, 2 facts and the export: 26 entries, and nothing else in
        // the log (the zone, recorded while the log was empty, is not).
        #expect(try await blocking { try store.checkpointer(key: Sample.key, lastSigned: nil).logSize() } == 26)
        let report = try await blocking { () -> VerificationReport in
            try store.checkpointer(key: Sample.key, lastSigned: nil).sign()
            return try store.verify(key: Sample.key.verifier, against: nil)
        }
        #expect(report.ok && report.entries == 26, "\(report.problems)")
    }

    // MARK: Log

    /// A re-pass on PostgreSQL: registrations of references that read alike, made at once, each passed the check
    /// before the other's insert was committed (READ COMMITTED); both landed.
    /// A review's finding: SQLite was handed text as a C string, and stored a value holding a NUL cut short at it.
    @Test("text holding a NUL is refused, never stored cut short", arguments: Backend.testable)
    func nulRefused(_ backend: Backend) async throws {
        let fixture = try await StoreFixture.start(backend)
        defer { fixture.stop() }
        let store = try await fixture.newStore()
        #expect(throws: (any Error).self) {
            try store.behindItsBack { try $0.execute("INSERT INTO settings (key, value) VALUES (?, ?)", [.text("nul-test\u{0}x"), .text("on")]) }
        }
        var stored: [SQLRow] = []
        try store.behindItsBack { session in stored = try session.fetchAll("SELECT key FROM settings WHERE key LIKE 'nul-test%'", []) }
        #expect(stored.isEmpty, "nothing of it was stored")
    }

    @Test("registrations of references that read alike, made at once from two stores, land one at a time: one of each pair", arguments: Backend.testable)
    func concurrentTwins(_ backend: Backend) async throws {
        let fixture = try await StoreFixture.start(backend)
        defer { fixture.stop() }
        let first = try await fixture.newStore()
        let second = try await blocking { try Store.open(first.location, options: backend == .postgres ? PostgresCluster.patient : StoreOptions()) }
        let stores = [first, second]
        for round in 1...4 {
            let references = ["RACE-\(round)-0001", "race-\(round)-OOO1"]
            let landed = await withTaskGroup(of: Bool.self) { group in
                for (store, reference) in zip(stores, references) {
                    group.addTask {
                        (try? await blocking { _ = try store.registry(timeZone: Sample.denver).register(Sample.warrant(reference), operator: "clerk") }) != nil
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(landed == 1, "round \(round): \(landed) of the twins landed")
        }
    }

    @Test("log: concurrent appends and queued outcomes, checkpoints, verification, proofs, bundles, exports and reports", arguments: Backend.testable)
    func log(_ backend: Backend) async throws {
        let fixture = try await StoreFixture.start(backend)
        defer { fixture.stop() }
        let store = try await fixture.newStore()
        let checkpointer = store.checkpointer(key: Sample.key, lastSigned: nil)
        #expect(try await blocking { try checkpointer.sign() } == nil, "an empty log has nothing to sign")

        // The gateway's writer: decisions appended by concurrent requests (awaited, or completed on an executor as
        // the data plane's are), then outcomes and shadow records queued.
        let decisions = (0..<40).map(Sample.decision)
        let outcomes = decisions.filter { $0.effect == .allow }.map(Sample.outcome(of:))
        let shadows = [Sample.shadow(of: decisions[3]), Sample.shadow(of: decisions[4])]
        let log = try store.decisionLog()
        let writer = Task { await log.run() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, decision) in decisions.enumerated() {
                group.addTask {
                    guard index % 2 == 1 else { return try await log.append([Sample.entry(decision)]) }
                    try await withCheckedThrowingContinuation { continuation in
                        log.append([Sample.entry(decision)], on: InlineExecutor()) { continuation.resume(with: $0) }
                    }
                }
            }
            try await group.waitForAll()
        }
        for outcome in outcomes { log.enqueue([Sample.entry(outcome)]) }
        log.enqueue(shadows.map(Sample.entry))
        log.close()
        await writer.value
        let total = UInt64(decisions.count + outcomes.count + shadows.count)

        let exporter = store.exporter()
        #expect(try await blocking { try exporter.decisionCount() } == decisions.count)
        #expect(try await blocking { try exporter.shadowRecords() } == shadows)

        // Checkpoints: one over everything, none when nothing is new unless asked for.
        let first = try #require(try await blocking { try checkpointer.sign() })
        #expect(first.id == 1 && first.size == total)
        #expect(try await blocking { try checkpointer.sign() } == nil)
        let second = try #require(try await blocking { try checkpointer.sign(always: true) })
        #expect(second.id == 2 && second.size == total && second.root == first.root)
        let latest = try #require(try await blocking { try store.latestCheckpoint() })
        #expect(latest.id == 2 && latest.note == second.note)
        #expect(try Checkpoint.verify(note: latest.note, key: Sample.key.verifier) == Checkpoint(origin: Sample.key.name, size: total, root: first.root))

        // Verification, against the checkpoint held elsewhere too; a different key trusts none of it.
        let report = try await blocking { try store.verify(key: Sample.key.verifier, against: latest.note) }
        #expect(report.ok && report.entries == total && report.checkpoints == 2 && report.root == latest.root, "\(report.problems)")
        let stranger = LogSigningKey(name: Sample.key.name)
        #expect(try await !blocking { try store.verify(key: stranger.verifier, against: nil) }.ok)

        // The auditor bundle, and the order the log holds the entries in (the appends raced).
        let bundle = try await blocking { () -> (count: Int, text: String) in
            var text = ""
            let count = try store.writeBundle(verifierKey: Sample.key.verifier) { text += $0 }
            return (count, text)
        }
        #expect(bundle.count == Int(total))
        let bundlePath = fixture.path("audit.bundle")
        try bundle.text.write(toFile: bundlePath, atomically: true, encoding: .utf8)
        let bundleReport = try AuditBundle.verify(path: bundlePath, key: Sample.key.verifier, against: latest.note)
        #expect(bundleReport.ok && bundleReport.entries == total && bundleReport.root == latest.root, "\(bundleReport.problems)")
        let lines = try bundle.text.split(separator: "\n").dropFirst().map { try JSONDecoder().decode(AuditBundle.Line.self, from: Data($0.utf8)) }
        #expect(lines.map(\.seq) == Array(1...total))
        let seqOfDecision = Dictionary(uniqueKeysWithValues: lines.filter { $0.kind == "decision" }.map { ($0.decisionId ?? "", Int64($0.seq)) })
        #expect(seqOfDecision.count == decisions.count)

        // A decision's inclusion proof verifies with no database.
        let proof = try await blocking { try store.inclusionProof(decisionId: "d-7") }
        #expect(proof.seq == UInt64(seqOfDecision["d-7"] ?? 0) && proof.treeSize == total && proof.entry == String(decoding: decisions[7].canonical, as: UTF8.self))
        #expect(try proof.verify(key: Sample.key.verifier).root == latest.root)
        await #expect(throws: StoreError.self) { try await blocking { try store.inclusionProof(decisionId: "d-none") } }

        // Exports: every decision with its outcome, in log order; a time range [from, until) on the decision's time.
        let expected = decisions.map { decision in
            ExportRow(seq: seqOfDecision[decision.decisionId] ?? 0, decision: decision, outcome: outcomes.first { $0.decisionId == decision.decisionId })
        }.sorted { $0.seq < $1.seq }
        let inRange = expected.filter { (10..<20).contains(Int($0.decisionId.dropFirst(2))!) }
        #expect(inRange.count == 10)
        let range = ExportFilter(from: Sample.time(10), until: Sample.time(20))
        for (filter, rows) in [(ExportFilter(), expected), (range, inRange)] {
            let jsonl = try await blocking { () -> (count: Int, lines: [String]) in
                var lines: [String] = []
                return (try exporter.export(format: .jsonl, filter: filter) { lines.append($0) }, lines)
            }
            #expect(jsonl.count == rows.count && jsonl.lines == rows.map(\.jsonLine))
            let csv = try await blocking { () -> (count: Int, lines: [String]) in
                var lines: [String] = []
                return (try exporter.export(format: .csv, filter: filter) { lines.append($0) }, lines)
            }
            #expect(csv.count == rows.count && csv.lines == [CSV.line(ExportFormat.csv.columns)] + rows.map { CSV.line($0.csvFields) })
        }

        // The transparency report's figures, as of the latest checkpoint and as of an earlier tree.
        let head = try await blocking { try store.treeHead() }
        #expect(head.size == total && head.root == latest.root && head.origin == Sample.key.name)
        let period = try #require(ReportPeriod("2026-11", timeZone: Sample.denver))
        let requests = try await blocking { try store.reportEntries(period: period, timeZone: Sample.denver, treeSize: head.size).requests }
        let immigration = expected.filter { $0.category == AgencyCategory.federalImmigration.rawValue }
        #expect(requests.map(\.time) == immigration.map { Timestamp.parse($0.time)! })
        #expect(requests.map(\.effect) == immigration.map(\.effect) && Set(requests.map(\.agency)) == ["ice-ero"] && Set(requests.map(\.month)) == ["2026-11"])
        // Answered: an allow whose outcome (a 200 the client took) is logged, each one here.
        #expect(requests.map(\.answered) == immigration.map { $0.outcome?.status == 200 })
        #expect(requests.contains { $0.answered } && requests.contains { !$0.answered })
        let earlier = UInt64(expected[20].seq)
        let early = try await blocking { try store.reportEntries(period: period, timeZone: Sample.denver, treeSize: earlier).requests }
        #expect(early.count == immigration.filter { $0.seq <= Int64(earlier) }.count)
        let december = try #require(ReportPeriod("2026-12", timeZone: Sample.denver))
        #expect(try await blocking { try store.reportEntries(period: december, timeZone: Sample.denver, treeSize: head.size).requests }.isEmpty)
    }

    @Test("reports count the immigration forms registered in a period, by kind and local month, never a judicial or consular one", arguments: Backend.testable)
    func registeredForms(_ backend: Backend) async throws {
        let fixture = try await StoreFixture.start(backend)
        defer { fixture.stop() }
        let store = try await fixture.newStore()
        let registry = store.registry(timeZone: Sample.denver)
        func local(_ text: String) -> Date { ISO8601DateFormatter.date(text, in: Sample.denver) }
        // The first is registered in September in Denver, though in October in UTC; the last is after Q4.
        let registrations: [(String, DocumentKind, String)] = [
            ("I247A-1", .detainer, "2026-09-30T23:59:00"), ("I247A-2", .detainer, "2026-10-01T00:01:00"),
            ("I200-1", .administrativeWarrant, "2026-10-15T09:00:00"), ("JW-1", .judicialWarrant, "2026-10-20T09:00:00"),
            ("CN-1", .consularNotification, "2026-10-21T09:00:00"), ("I247N-1", .notificationRequest, "2026-11-02T09:00:00"),
            ("I247A-3", .detainer, "2026-12-31T23:59:00"), ("I247A-4", .detainer, "2027-01-01T00:00:00"),
        ]
        for (reference, kind, time) in registrations {
            let at = local(time)
            _ = try await blocking { try registry.register(Sample.warrant(reference, kind: kind), operator: "clerk", at: at) }
        }
        let registeredSize = try await blocking { try store.logSize() }
        // The administrative warrant was registered in error (revoked, to be registered again).
        let revokedAt = local("2027-01-02T09:00:00")
        try await blocking { try registry.revoke(reference: "I200-1", reason: "registered in error", operator: "clerk", at: revokedAt) }
        let size = try await blocking { try store.logSize() }
        func report(_ label: String, treeSize: UInt64) async throws -> ReportData {
            let period = try #require(ReportPeriod(label, timeZone: Sample.denver))
            let entries = try await blocking { try store.reportEntries(period: period, timeZone: Sample.denver, treeSize: treeSize) }
            return ReportData(period: period, jurisdiction: "Test", timeZone: Sample.denver, requests: entries.requests, forms: entries.forms,
                              checkpointSize: treeSize, checkpointRoot: "", checkpointOrigin: "")
        }
        let q4 = try await report("2026-Q4", treeSize: size)
        #expect(q4.requests.isEmpty)
        #expect(q4.forms.map(\.kind) == [.detainer, .administrativeWarrant, .notificationRequest, .detainer])
        #expect(q4.forms.map(\.month) == ["2026-10", "2026-10", "2026-11", "2026-12"])
        #expect(q4.forms.map(\.revoked) == [false, true, false, false])
        #expect(try await report("2026-09", treeSize: size).forms.map(\.kind) == [.detainer])
        #expect(try await report("2027-01", treeSize: size).forms.count == 1)
        // As of an earlier tree, the registrations, and the revocation, after it are not counted.
        #expect(try await report("2026-Q4", treeSize: registeredSize).forms.map(\.revoked) == [false, false, false, false])
        #expect(try await report("2026-Q4", treeSize: registeredSize - 2).forms.count == 3)

        let markdown = ReportRenderer(data: q4, template: .nycDetainers).markdown()
        #expect(markdown.contains("## Immigration forms received") && markdown.contains("Registered in this period: **4**; **1** of them revoked since"), "\(markdown)")
        #expect(markdown.contains("| month | administrative warrant (I-200, I-205) | detainer (I-247A) | request for notification (I-247N) |"))
        for row in ["| 2026-10 | 1 | 1 | 0 | 0 | 0 | 2 | 1 |", "| 2026-11 | 0 | 0 | 1 | 0 | 0 | 1 | 0 |", "| 2026-12 | 0 | 1 | 0 | 0 | 0 | 1 | 0 |"] {
            #expect(markdown.contains(row), "\(row): \(markdown)")
        }
        let csv = ReportRenderer(data: q4, template: .denverCouncil).csv()
        for line in ["forms-registered,2026-10,administrative-warrant,,,1", "forms-revoked-since,2026-10,administrative-warrant,,,1",
                     "forms-registered,2026-10,detainer,,,1", "forms-registered,2026-11,notification-request,,,1", "forms-registered,2026-12,detainer,,,1"] {
            #expect(csv.contains("\r\n\(line)\r\n"), "\(line): \(csv)")
        }
        let html = ReportRenderer(data: q4, template: .californiaTruth).html()
        #expect(html.contains("<h2>Immigration forms received</h2>") && html.contains("<tr><td>2026-11</td><td>0</td><td>0</td><td>1</td><td>0</td><td>0</td><td>1</td><td>0</td></tr>"))
        let none = ReportRenderer(data: try await report("2026-08", treeSize: size), template: nil)
        #expect(none.markdown().contains("Registered in this period: **0**.") && !none.markdown().contains("| month | administrative warrant"))
        #expect(!none.csv().contains("forms-registered"))
    }

    @Test("reports and exports: a request is counted and printed by the time it opened, not the time it was committed", arguments: Backend.testable)
    func requestTime(_ backend: Backend) async throws {
        let fixture = try await StoreFixture.start(backend)
        defer { fixture.stop() }
        let store = try await fixture.newStore()
        func local(_ text: String) -> Date { ISO8601DateFormatter.date(text, in: Sample.denver) }
        // (opened, committed): a slow body across midnight into Q4, one inside Q4, and one across the year's end.
        let requests = [
            (local("2026-09-30T23:59:50"), local("2026-10-01T00:00:40")),
            (local("2026-10-01T00:00:10"), local("2026-10-01T00:00:20")),
            (local("2026-12-31T23:59:30"), local("2027-01-01T00:01:00")),
        ]
        let decisions = requests.enumerated().map { index, times in
            var decision = Sample.decision(2 * index)  // ICE
            decision.time = Timestamp.format(times.0)
            return (decision, times.1)
        }
        try await store.appendThroughDecisionLog(decisions.map { decision, committed in
            LogEntry(kind: .decision, time: committed, decisionId: decision.decisionId, canonical: decision.canonical)
        })
        let size = try await blocking { try store.logSize() }
        func report(_ label: String) async throws -> ReportData {
            let period = try #require(ReportPeriod(label, timeZone: Sample.denver))
            let requests = try await blocking { try store.reportEntries(period: period, timeZone: Sample.denver, treeSize: size).requests }
            return ReportData(period: period, jurisdiction: "Test", timeZone: Sample.denver, requests: requests, checkpointSize: size,
                              checkpointRoot: "", checkpointOrigin: "")
        }
        let (september, q3, q4, january) = (try await report("2026-09"), try await report("2026-Q3"), try await report("2026-Q4"), try await report("2027-01"))
        #expect(september.requests.map(\.time) == [requests[0].0] && september.count(month: "2026-09") == 1)
        #expect(q3.requests.count == 1 && q3.count(month: "2026-09") == 1)
        #expect(q4.requests.map(\.time) == [requests[1].0, requests[2].0])
        #expect(q4.period.months.map { q4.count(month: $0) } == [1, 0, 1], "the headline is the sum of the months")
        #expect(january.requests.isEmpty)

        // An export's range selects by the time it prints.
        func exported(from: String, until: String) async throws -> [String] {
            let (exporter, filter) = (store.exporter(), ExportFilter(from: local(from), until: local(until)))
            return try await blocking {
                var times: [String] = []
                try exporter.forEachRow(filter) { times.append($0.time) }
                return times
            }
        }
        #expect(try await exported(from: "2026-09-01T00:00:00", until: "2026-10-01T00:00:00") == [Timestamp.format(requests[0].0)])
        #expect(try await exported(from: "2026-10-01T00:00:00", until: "2027-01-01T00:00:00") == [requests[1].0, requests[2].0].map(Timestamp.format))
        #expect(try await exported(from: "2027-01-01T00:00:00", until: "2027-02-01T00:00:00").isEmpty)
    }

    // MARK: Tail

    @Test("tail: the log read by sequence number, in order and in pages, as the SIEM forwarder reads it", arguments: Backend.testable)
    func tail(_ backend: Backend) async throws {
        let fixture = try await StoreFixture.start(backend)
        defer { fixture.stop() }
        let store = try await fixture.newStore()
        let decisions = (1...10).map(Sample.decision)
        try await store.appendThroughDecisionLog(decisions.map(Sample.entry) + [Sample.entry(Sample.outcome(of: decisions[1]))])
        let (page, rest, none, last) = try await blocking {
            (try store.logEntries(after: 0, limit: 4), try store.logEntries(after: 4, limit: 100), try store.logEntries(after: 11, limit: 5), try store.lastSeq())
        }
        #expect(page.map(\.seq) == [1, 2, 3, 4])
        #expect(page.first == TailEntry(
            seq: 1, kind: "decision", time: decisions[0].time, entry: decisions[0].canonical, leaf: LogLeaf.hash(kind: "decision", entry: decisions[0].canonical)
        ))
        #expect(rest.map(\.seq) == Array(5...11) && rest.last?.kind == "outcome")
        #expect(none.isEmpty && last == 11)
        // A review of the forwarder: a log rolled back under a running reader (a failover to a standby behind) was
        // read on from the reader's seq once it grew again, and the entries written again below it were skipped.
        let leaf = try #require(page.last?.leaf)
        #expect(try await blocking { try store.logEntries(after: 4, leaf: leaf, limit: 100) }.map(\.seq) == Array(5...11))
        await #expect(throws: TailRolledBack(seq: 4, size: nil)) { try await blocking { try store.logEntries(after: 4, leaf: rest[0].leaf, limit: 100) } }
        await #expect(throws: TailRolledBack(seq: 12, size: 11)) { try await blocking { try store.logEntries(after: 12, limit: 100) } }
    }

    // MARK: Archive

    @Test("archive: entries before a date move to a file once a checkpoint covers them; verification spans both; newer proofs hold", arguments: Backend.testable)
    func archive(_ backend: Backend) async throws {
        let fixture = try await StoreFixture.start(backend)
        defer { fixture.stop() }
        let store = try await fixture.newStore()
        try await fixture.allowArchivingAnyAge()
        // 300 entries, 280 of them archived: past the first stored node of the tree (level 8, 256 leaves).
        let decisions = (0..<300).map(Sample.decision)
        try await store.appendThroughDecisionLog(decisions.map(Sample.entry))
        let cutoff = Sample.time(280)
        let path = fixture.path("2026-11.archive")

        await #expect(throws: StoreError.self, "entries no checkpoint covers stay") {
            try await blocking { try store.archive(before: cutoff, key: Sample.key, path: path, operator: "records-officer") }
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        let checkpointer = store.checkpointer(key: Sample.key, lastSigned: nil)
        _ = try await blocking { try checkpointer.sign() }
        #expect(try await blocking { try store.archive(before: cutoff, key: Sample.key, path: path, operator: "records-officer") } == 280)
        let again = fixture.path("again.archive")
        #expect(try await blocking { try store.archive(before: cutoff, key: Sample.key, path: again, operator: "records-officer") } == 0)

        // The file: a header naming the range and the checkpoints, then the entries.
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let header = try JSONDecoder().decode(LogArchive.Header.self, from: Data(lines[0].utf8))
        #expect(header.format == LogArchive.formatName && header.fromSeq == 1 && header.throughSeq == 280 && header.checkpoints.count == 1)
        let archived = try lines.dropFirst().map { try JSONDecoder().decode(AuditBundle.Line.self, from: Data($0.utf8)) }
        #expect(archived.map(\.seq) == Array(1...280) && archived.map(\.decisionId) == (0..<280).map { "d-\($0)" })

        // The database keeps the newer entries and the archive's own record.
        #expect(try await blocking { try store.exporter().decisionCount() } == 20)
        let record = try #require(try await blocking { try store.registry(timeZone: .gmt).history(target: "log") }.last)
        #expect(record.action == "log.archive" && record.operator == "records-officer")
        #expect(record.details["fromSeq"] == "1" && record.details["throughSeq"] == "280" && record.details["file"] == path)
        // Reports learn what is archived, and the latest time those entries state.
        #expect(record.details["latestTime"] == Timestamp.format(Sample.time(279)))
        let archivedEntries = try await blocking { try store.archivedEntries() }
        #expect(archivedEntries == ArchivedEntries(throughSeq: 280, latestTime: Sample.time(279)))
        #expect(try archivedEntries?.mayInclude(#require(ReportPeriod("2026-12", timeZone: Sample.denver))) == true)
        #expect(try archivedEntries?.mayInclude(#require(ReportPeriod("2027", timeZone: Sample.denver))) == false)

        // Verification with the archive recomputes everything; without it, it starts from the stored tree.
        for archives in [[path], []] {
            let report = try await blocking { try store.verify(key: Sample.key.verifier, archives: archives, against: nil) }
            #expect(report.ok && report.entries == 301, "\(archives): \(report.problems)")
        }
        // Archived decisions have no proof from the database; newer ones still do, against the same checkpoint.
        await #expect(throws: StoreError.self) { try await blocking { try store.inclusionProof(decisionId: "d-3") } }
        let proof = try await blocking { try store.inclusionProof(decisionId: "d-290") }
        #expect(try proof.seq == 291 && proof.treeSize == 300 && proof.verify(key: Sample.key.verifier).size == 300)

        // The log grows on: new entries, a new checkpoint consistent with the old, and their proofs.
        try await store.appendThroughDecisionLog([Sample.entry(Sample.decision(300))])
        let latest = try #require(try await blocking { try checkpointer.sign() })
        #expect(latest.id == 2 && latest.size == 302)
        let newer = try await blocking { try store.inclusionProof(decisionId: "d-300") }
        #expect(try newer.seq == 302 && newer.verify(key: Sample.key.verifier).root == latest.root)
        for archives in [[path], []] {
            let report = try await blocking { try store.verify(key: Sample.key.verifier, archives: archives, against: latest.note) }
            #expect(report.ok && report.entries == 302 && report.root == latest.root, "\(archives): \(report.problems)")
        }

        // A later archive continues where the first ended; verification takes both, oldest first.
        let second = fixture.path("2026-12.archive")
        #expect(try await blocking { try store.archive(before: Sample.time(290), key: Sample.key, path: second, operator: "records-officer") } == 10)
        #expect(try await blocking { try store.archivedEntries() } == ArchivedEntries(throughSeq: 290, latestTime: Sample.time(289)))
        for archives in [[path, second], []] {
            let report = try await blocking { try store.verify(key: Sample.key.verifier, archives: archives, against: latest.note) }
            #expect(report.ok && report.entries == 303, "\(archives): \(report.problems)")
        }
        #expect(try await blocking { try store.registry(timeZone: .gmt).history(target: "log") }.last?.details["fromSeq"] == "281")

        // The archives vouch for every archived entry: the root rebuilt from them, and a digest of their bytes in order.
        #expect(throws: StoreError.self, "one archive of two") { try store.vouchForArchives([path], key: Sample.key, operator: "records-officer") }
        let rebuilt = try await blocking { try store.verify(key: Sample.key.verifier, archives: [path, second], against: nil) }
        let statement = try await blocking { try store.vouchForArchives([path, second], key: Sample.key, operator: "records-officer") }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path)) + Data(contentsOf: URL(fileURLWithPath: second))
        #expect(statement.throughSeq == 290 && rebuilt.prefixRoot != nil && statement.root == rebuilt.prefixRoot)
        #expect(statement.archiveSHA256 == Hex.encode(Array(SHA256.hash(data: bytes))))
        let vouched = try await blocking { try store.verify(key: Sample.key.verifier, archives: [], against: nil) }
        #expect(vouched.ok && vouched.entries == 304, "\(vouched.problems)")

        // An archive edited afterwards no longer verifies.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: #"\"effect\":\"deny\""#, with: #"\"effect\":\"allow\""#).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try await !blocking { try store.verify(key: Sample.key.verifier, archives: [path, second], against: nil) }.ok)
    }

    /// A review of the PostgreSQL store: a decision appended again under a real decision's id (by a role that may
    /// append) passed `log verify`, was counted twice, and `log prove` picked either of the two for a court.
    @Test("a second decision under one id fails verification, and no proof is made for that id", arguments: Backend.testable)
    func decisionAppendedAgain(_ backend: Backend) async throws {
        let fixture = try await StoreFixture.start(backend)
        defer { fixture.stop() }
        let store = try await fixture.newStore()
        let decisions = (0..<3).map(Sample.decision)
        try await store.appendThroughDecisionLog(decisions.map { Sample.entry($0) })
        _ = try await blocking { try store.checkpointer(key: Sample.key, lastSigned: nil).sign() }
        #expect(try await blocking { try store.inclusionProof(decisionId: decisions[0].decisionId) }.seq == 1)
        var forged = decisions[0]
        (forged.effect, forged.reason) = (.allow, "permitted")
        try await store.appendThroughDecisionLog([Sample.entry(forged)])
        _ = try await blocking { try store.checkpointer(key: Sample.key, lastSigned: nil).sign() }
        let report = try await blocking { try store.verify(key: Sample.key.verifier, archives: [], against: nil) }
        #expect(report.firstBadSeq == 4 && report.problems.count == 1, "\(report.problems)")
        #expect(report.problems.first?.hasPrefix("seq 4 is a second decision with an earlier one's decision id (1 such in all)") == true, "\(report.problems)")
        let refused = await #expect(throws: StoreError.self) { try await blocking { try store.inclusionProof(decisionId: decisions[0].decisionId) } }
        #expect(refused?.description.contains("more than one decision") == true, "\(String(describing: refused))")
        #expect(try await blocking { try store.inclusionProof(decisionId: decisions[2].decisionId) }.seq == 3)
    }

    /// An attacker's pass: `log verify` looked for a second outcome only among the database's entries, so one appended
    /// for a decision whose entries were archived passed, and a bundle was not checked for one at all.
    @Test("an outcome appended again is found across an archive and the database, and in a bundle", arguments: Backend.testable)
    func outcomeAppendedAgainAfterArchive(_ backend: Backend) async throws {
        let fixture = try await StoreFixture.start(backend)
        defer { fixture.stop() }
        let store = try await fixture.newStore()
        try await fixture.allowArchivingAnyAge()
        let decisions = (0..<4).map(Sample.decision)
        try await store.appendThroughDecisionLog(decisions.flatMap { [Sample.entry($0), Sample.entry(Sample.outcome(of: $0))] })
        _ = try await blocking { try store.checkpointer(key: Sample.key, lastSigned: nil).sign() }
        let path = fixture.path("2026-11.archive")
        #expect(try await blocking { try store.archive(before: Sample.time(2), key: Sample.key, path: path, operator: "records-officer") } == 4)
        // Seq 9 records the archive; seq 10 is d-1's outcome again, d-1 and its outcome being archived.
        try await store.appendThroughDecisionLog([Sample.entry(Sample.outcome(of: decisions[1]))])
        let report = try await blocking { try store.verify(key: Sample.key.verifier, archives: [path], against: nil) }
        #expect(report.firstBadSeq == 10, "\(report.problems)")
        #expect(report.problems == ["seq 10 is a second outcome of one decision (1 such in all): the gateway writes one, so it was appended outside it"])

        // A bundle of a log holding one.
        let other = try await fixture.newStore("bundled")
        try await other.appendThroughDecisionLog(
            [Sample.entry(decisions[0]), Sample.entry(Sample.outcome(of: decisions[0])), Sample.entry(Sample.outcome(of: decisions[0]))]
        )
        let signed = try #require(try await blocking { try other.checkpointer(key: Sample.key, lastSigned: nil).sign() })
        let text = try await blocking { () -> String in
            var text = ""
            _ = try other.writeBundle(verifierKey: Sample.key.verifier) { text += $0 }
            return text
        }
        let bundlePath = fixture.path("audit.bundle")
        try text.write(toFile: bundlePath, atomically: true, encoding: .utf8)
        let bundled = try AuditBundle.verify(path: bundlePath, key: Sample.key.verifier, against: signed.note)
        #expect(bundled.firstBadSeq == 3 && bundled.problems.count == 1 && bundled.problems[0].hasPrefix("seq 3 is a second outcome"), "\(bundled.problems)")
    }

    // MARK: Tamper evidence

    /// A store holding 12 decisions under one checkpoint.
    private func signedLog(_ fixture: StoreFixture, _ name: String) async throws -> Store {
        let store = try await fixture.newStore(name)
        try await store.appendThroughDecisionLog((0..<12).map { Sample.entry(Sample.decision($0)) })
        _ = try await blocking { try store.checkpointer(key: Sample.key, lastSigned: nil).sign() }
        return store
    }

    private func verify(_ store: Store) async throws -> VerificationReport {
        try await blocking { try store.verify(key: Sample.key.verifier, against: nil) }
    }

    @Test("tamper evidence: entries edited, re-hashed or deleted behind the store's back are found, at the right seq", arguments: Backend.testable)
    func tamperEvidence(_ backend: Backend) async throws {
        let fixture = try await StoreFixture.start(backend)
        defer { fixture.stop() }

        // An edited entry: its stored leaf hash names it. (Decision 6, at seq 7, was refused.)
        let edited = try await signedLog(fixture, "edited")
        #expect(try await verify(edited).ok)
        try await blocking {
            try edited.behindItsBack { session in
                for statement in backend.disableLogTriggers { try session.execute(statement) }
                try session.execute(#"UPDATE log SET entry = replace(entry, '"effect":"deny"', '"effect":"allow"') WHERE seq = 7"#)
            }
        }
        let editedReport = try await verify(edited)
        #expect(!editedReport.ok && editedReport.firstBadSeq == 7, "\(editedReport.problems)")
        #expect(editedReport.problems.contains { $0.contains("seq 7 does not match its leaf hash") })

        // An entry edited with its leaf hash: the signed checkpoint catches it, and the signer will not sign past it.
        let rehashed = try await signedLog(fixture, "rehashed")
        try await blocking {
            try rehashed.behindItsBack { session in
                for statement in backend.disableLogTriggers { try session.execute(statement) }
                let entry = String(decoding: Sample.decision(6).canonical, as: UTF8.self).replacingOccurrences(of: #""effect":"deny""#, with: #""effect":"allow""#)
                try session.execute("UPDATE log SET entry = ?, leaf_hash = ? WHERE seq = 7", entry, LogLeaf.hash(kind: "decision", entry: Array(entry.utf8)))
            }
        }
        let rehashedReport = try await verify(rehashed)
        #expect(!rehashedReport.ok && rehashedReport.firstBadSeq.map { $0 <= 12 } == true, "\(rehashedReport.problems)")
        #expect(rehashedReport.problems.contains { $0.contains("checkpoint 1 (size 12) does not match the log") })
        await #expect(throws: StoreError.self) { try await blocking { try rehashed.checkpointer(key: Sample.key, lastSigned: nil).sign(always: true) } }

        // A deleted entry: the gap names it.
        let deleted = try await signedLog(fixture, "deleted")
        try await blocking {
            try deleted.behindItsBack { session in
                for statement in backend.disableLogTriggers { try session.execute(statement) }
                try session.execute("DELETE FROM log WHERE seq = 4")
            }
        }
        let deletedReport = try await verify(deleted)
        #expect(!deletedReport.ok && deletedReport.firstBadSeq == 4, "\(deletedReport.problems)")
        #expect(deletedReport.problems.contains { $0.contains("seq 4 is missing") })

        // Review 249: on PostgreSQL a row-level security policy that tests the query's text hid a report's rows from
        // the report while `log verify`'s own read saw them all. Any such table fails verification, and a report's read.
        if backend == .postgres {
            let hidden = try await signedLog(fixture, "hidden")
            // Another application's table in the same database is its own affair (review 250).
            try await blocking {
                try hidden.behindItsBack { session in
                    try session.execute("CREATE TABLE other_application (x INT)")
                    try session.execute("ALTER TABLE other_application ENABLE ROW LEVEL SECURITY")
                }
            }
            #expect(try await verify(hidden).ok)
            try await blocking {
                try hidden.behindItsBack { session in
                    try session.execute("ALTER TABLE log ENABLE ROW LEVEL SECURITY")
                    try session.execute("ALTER TABLE log FORCE ROW LEVEL SECURITY")
                    try session.execute("CREATE POLICY everything ON log USING (pg_catalog.current_query() NOT LIKE '%AS decision,%')")
                }
            }
            let hiddenReport = try await verify(hidden)
            #expect(!hiddenReport.ok && hiddenReport.problems.contains { $0.contains("the table log has row-level security enabled, 1 row-level security policies") },
                    "\(hiddenReport.problems)")
            let period = try #require(ReportPeriod("2026", timeZone: .gmt))
            await #expect(throws: StoreError.self) {
                try await blocking { try hidden.reportEntries(period: period, timeZone: .gmt, treeSize: 100, archives: []) }
            }
        }

        // Review 249: `report` verified the log in one read and counted in another, so an entry changed between the
        // two (and put back after) was counted unverified. Counted in the verification's own read, the change is not
        // seen; a read after it sees it, and the log no longer verifies.
        let raced = try await signedLog(fixture, "raced")
        // Beforehand: on PostgreSQL, disabling a trigger waits for the verifying read's lock on the table. The edit is
        // made through another handle on the store, as another process would.
        let editor = try await fixture.openAgain("raced")
        defer { editor.close() }
        try await blocking { try editor.behindItsBack { writer in for statement in backend.disableLogTriggers { try writer.execute(statement) } } }
        let november = try #require(ReportPeriod("2026-11", timeZone: Sample.denver))
        let (racedReport, counted) = try await blocking { () -> (VerificationReport, ReportEntries?) in
            var counted: ReportEntries?
            let report = try LogVerifier(key: Sample.key.verifier).verify(database: raced.database, against: nil) { session in
                try editor.behindItsBack { writer in
                    try writer.execute(#"UPDATE log SET entry = replace(entry, '"federal-immigration"', '"local-law-enforcement"') WHERE seq = 7"#)
                }
                counted = try ReportBuilder.entries(session, period: november, timeZone: Sample.denver, treeSize: 12, archives: [])
            }
            return (report, counted)
        }
        #expect(racedReport.ok && counted?.requests.count == 6, "\(racedReport.problems)")
        #expect(try await blocking { try raced.reportEntries(period: november, timeZone: Sample.denver, treeSize: 12) }.requests.count == 5)
        #expect(try await !verify(raced).ok)

        // With its triggers in place, the owner cannot edit the log.
        let guarded = try await signedLog(fixture, "guarded")
        await #expect(throws: (any Error).self) {
            try await blocking { try guarded.behindItsBack { try $0.execute("UPDATE log SET entry = '{}' WHERE seq = 1") } }
        }
        #expect(try await verify(guarded).ok)
    }
}

/// Runs completions at once, on the committing thread.
private final class InlineExecutor: LogCompletionExecutor {
    func execute(_ work: @escaping @Sendable () -> Void) { work() }
}

extension ISO8601DateFormatter {
    /// `text`, a local date and time without a zone (`2026-09-30T23:59:50`), in `zone`.
    static func date(_ text: String, in zone: TimeZone) -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
        formatter.timeZone = zone
        return formatter.date(from: text)!
    }
}
