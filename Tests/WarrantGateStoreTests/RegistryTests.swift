import Foundation
import GRDB
import Testing
import WarrantGateCore
@testable import WarrantGateStore

@Suite("Registry on a real SQLite file")
struct RegistryTests {
    let denver = TimeZone(identifier: "America/Denver")!

    private func registration(_ reference: String, kind: DocumentKind = .judicialWarrant, subject: String = "2017-000123",
                              scope: [String] = ["records.read"], expires: String = "2026-12-31") -> DocumentRegistration {
        DocumentRegistration(reference: reference, kind: kind, agency: "ice-ero", subjects: [subject], scope: scope, expires: expires,
                             court: kind.isJudicial ? "U.S. District Court, D. Colo." : nil, judge: kind.isJudicial ? "Hon. A. Judge" : nil,
                             caseNumber: kind.isJudicial ? "1:26-mj-1" : nil,
                             documentSHA256: kind.isJudicial ? DocumentStore.digest(of: Data(reference.utf8)) : nil)
    }

    /// Registers and has a second operator approve.
    private func activate(_ registry: Registry, _ registration: DocumentRegistration) throws {
        _ = try registry.register(registration, operator: "clerk")
        try registry.approve(reference: registration.reference, operator: "supervisor")
    }

    @Test("judicial kinds need a court and a judge, and dates must be real")
    func validation() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        var missing = registration("JW-1")
        missing.court = nil
        missing.judge = nil
        missing.caseNumber = nil
        missing.documentSHA256 = nil
        missing.expires = "2026-02-30"
        do {
            _ = try registry.register(missing, operator: "clerk")
            Issue.record("registration should have been refused")
        } catch let error as RegistrationError {
            #expect(error.problems.contains { $0.contains("--court") })
            #expect(error.problems.contains { $0.contains("--judge") })
            #expect(error.problems.contains { $0.contains("YYYY-MM-DD") })
            #expect(error.problems.contains { $0.contains("--case") })
            #expect(error.problems.contains { $0.contains("--no-document") })
        }
        for scope in [["*"], ["records.read", "*#homeAddress"]] {
            var everything = registration("JW-ALL")
            everything.scope = scope
            #expect(throws: RegistrationError.self, "\(scope)") { try registry.register(everything, operator: "clerk") }
        }
        // A re-pass over the policies: a search warrant registered as covering a hold passed "criminal warrant" tests.
        for scope in [["custody.hold"], ["records.read", "custody.*"], ["custody.arrest"]] {
            var search = registration("SW-\(scope.count)-\(scope.last!.count)")
            search.kind = .searchWarrant
            search.scope = scope
            do {
                _ = try registry.register(search, operator: "clerk")
                Issue.record("a search warrant covering \(scope) was registered")
            } catch let error as RegistrationError {
                #expect(error.problems.contains { $0.contains("a search-warrant authorises a search, not custody.") }, "\(error.problems)")
            }
        }
        var search = registration("SW-OK")
        search.kind = .searchWarrant
        search.scope = ["facility.secure-area", "records.read"]
        #expect(try registry.register(search, operator: "clerk").status == .pending)
        var withoutScan = registration("JW-2")
        withoutScan.documentSHA256 = nil
        withoutScan.noDocumentReason = "faxed copy, original held by the court"
        #expect(try registry.register(withoutScan, operator: "clerk").status == .pending)
        _ = try registry.register(registration("JW-1"), operator: "clerk")
        #expect(throws: StoreError.self) { try registry.register(registration("JW-1"), operator: "clerk") }
    }

    /// A document registered before the issuer check, and still pending, could otherwise be approved and authorise.
    @Test("a pending judicial document naming an immigration authority as its court is not approved")
    func pendingExecutiveIssuer() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        _ = try registry.register(registration("JW-1"), operator: "clerk")
        try database.pool.write { db in
            try db.execute(sql: "UPDATE documents SET court = 'ICE Enforcement and Removal Operations' WHERE reference = 'JW-1'")
        }
        do {
            try registry.approve(reference: "JW-1", operator: "supervisor")
            Issue.record("approved")
        } catch let error as StoreError {
            #expect(error.message.hasPrefix("JW-1 cannot be approved: --court names Immigration and Customs Enforcement (ICE) ('ice')"), "\(error.message)")
            #expect(error.message.hasSuffix("; revoke it"))
        }
        #expect(try registry.snapshot().document(reference: "JW-1")?.status == .pending)
    }

    /// A document registered and approved before the issuer check still opened records once active.
    @Test("an active judicial document naming an immigration authority authorises nothing")
    func activeExecutiveIssuer() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        _ = try registry.register(registration("JW-1"), operator: "clerk")
        try registry.approve(reference: "JW-1", operator: "supervisor")
        try database.pool.write { db in
            try db.execute(sql: "UPDATE documents SET judge = 'SDDO J. Smith' WHERE reference = 'JW-1'")
        }
        let snapshot = try registry.snapshot()
        let document = try #require(snapshot.document(reference: "JW-1"))
        #expect(document.status == .active && document.isMisfiled)
        #expect(snapshot.activeMisfiled == ["JW-1"])
        let check = try WarrantVerifier().verify(
            reference: "JW-1", agency: document.agency, subject: document.subjects.first, action: document.scope.first ?? "records.read",
            at: Date(), registry: snapshot
        )
        #expect(check == .failed(.misfiled))
    }

    /// An attacker's pass: registration refused a scope of `*` and a search warrant covering a hold only from 5 and 6
    /// December; one registered before either still verified (pending, once approved; active, at once).
    @Test("a document registered with a scope registration now refuses is not approved, and authorises nothing")
    func scopeRefusedSinceRegistration() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        try activate(registry, registration("JW-STAR"))
        _ = try registry.register(registration("SW-OLD"), operator: "clerk")
        try database.pool.write { db in
            try db.execute(sql: "UPDATE documents SET scope = ? WHERE reference = 'JW-STAR'", arguments: [#"["*"]"#])
            try db.execute(sql: "UPDATE documents SET kind = 'search-warrant', scope = ? WHERE reference = 'SW-OLD'", arguments: [#"["custody.hold"]"#])
        }
        do {
            try registry.approve(reference: "SW-OLD", operator: "supervisor")
            Issue.record("approved")
        } catch let error as StoreError {
            #expect(error.message == "SW-OLD cannot be approved: a search-warrant authorises a search, not custody.hold: register the arrest warrant for it; revoke it")
        }
        let snapshot = try registry.snapshot()
        let star = try #require(snapshot.document(reference: "JW-STAR"))
        #expect(star.status == .active && star.isMisfiled && snapshot.activeMisfiled == ["JW-STAR"])
        #expect(star.misfilings.first?.hasPrefix("--scope '*' would cover every action") == true, "\(star.misfilings)")
        let check = try WarrantVerifier().verify(
            reference: "JW-STAR", agency: star.agency, subject: star.subjects.first, action: "custody.transfer", at: Date(), registry: snapshot
        )
        #expect(check == .failed(.misfiled))
    }

    /// A review's pass: the remedy for a misfiled document, revoking it and registering the paper again, was refused
    /// by one scan's one document; a judge's warrant registered by an earlier version with a scope of `*` could then
    /// authorise again only without its scan. A second review's: the first `--corrects` also brought back a scan
    /// revoked as quashed, and another scan could claim to correct a paper.
    @Test("a document revoked as misfiled is registered again with its scan by --corrects, and only such a one")
    func correctionOfAMisfiledDocument() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        try activate(registry, registration("JW-STAR"))
        try activate(registry, registration("JW-QUASHED"))
        try activate(registry, registration("JW-OK"))
        try database.pool.write { db in
            try db.execute(sql: "UPDATE documents SET scope = ? WHERE reference IN ('JW-STAR', 'JW-QUASHED')", arguments: [#"["*"]"#])
        }
        var again = registration("JW-STAR-R", scope: ["records.read", "custody.transfer"])
        again.documentSHA256 = DocumentStore.digest(of: Data("JW-STAR".utf8))
        #expect(throws: StoreError.self, "one scan, one document") { try registry.register(again, operator: "clerk") }
        again.corrects = "JW-STAR"
        #expect(throws: StoreError.self, "still active") { try registry.register(again, operator: "clerk") }
        #expect(throws: StoreError.self, "not misfiled") { try registry.revoke(reference: "JW-OK", reason: "x", operator: "clerk", misfiled: true) }
        try registry.revoke(reference: "JW-STAR", reason: "registered with scope *", operator: "clerk", misfiled: true)
        var other = again
        other.agency = "hsi-denver"
        #expect(throws: StoreError.self, "another agency's") { try registry.register(other, operator: "clerk") }
        var anotherScan = again
        anotherScan.documentSHA256 = DocumentStore.digest(of: Data("another paper".utf8))
        #expect(throws: StoreError.self, "another scan") { try registry.register(anotherScan, operator: "clerk") }
        let corrected = try registry.register(again, operator: "clerk")
        #expect(corrected.status == .pending && !corrected.isMisfiled)
        let correction = try registry.correction(of: "JW-STAR-R")
        #expect(correction?.corrects == "JW-STAR" && correction?.revocation?.details["misfiled"] == "yes")
        try registry.approve(reference: "JW-STAR-R", operator: "supervisor")

        // Misfiled, but revoked as quashed: its scan does not come back.
        try registry.revoke(reference: "JW-QUASHED", reason: "quashed by the court", operator: "clerk")
        var quashed = registration("JW-QUASHED-R")
        quashed.documentSHA256 = DocumentStore.digest(of: Data("JW-QUASHED".utf8))
        quashed.corrects = "JW-QUASHED"
        #expect(throws: StoreError.self) { try registry.register(quashed, operator: "clerk") }
        // Not misfiled at all: nor does its.
        try registry.revoke(reference: "JW-OK", reason: "quashed", operator: "clerk")
        var ok = registration("JW-OK-R")
        ok.documentSHA256 = DocumentStore.digest(of: Data("JW-OK".utf8))
        ok.corrects = "JW-OK"
        #expect(throws: StoreError.self) { try registry.register(ok, operator: "clerk") }
    }

    /// An attacker's pass: with the registration's record gone from the log (written in SQL, or archived), approval
    /// compared only the names typed, so one login could approve its own registration under another name. A review's:
    /// the record must also name the terms the row holds.
    @Test("a pending document whose registration record is not in the log is not approved")
    func approvalNeedsTheRegistrationRecord() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        _ = try registry.register(registration("JW-1"), operator: "clerk")
        _ = try registry.register(registration("JW-2"), operator: "clerk")
        _ = try registry.register(registration("JW-3"), operator: "clerk")
        try database.pool.write { db in
            try db.execute(sql: "UPDATE documents SET registered_by = 'someone else' WHERE reference = 'JW-2'")
            try db.execute(sql: "UPDATE documents SET scope = ? WHERE reference = 'JW-3'", arguments: [#"["records.read","custody.hold"]"#])
        }
        // The log's entries cannot be deleted here (its triggers); a row inserted in SQL alone has no record either.
        try database.pool.write { db in
            try db.execute(sql: """
                INSERT INTO documents (reference, kind, status, agency, subjects, scope, expires, expires_at, court, judge, case_number,
                    no_document_reason, registered_by, registered_at, two_person_rule, signature_status)
                SELECT 'JW-SQL', kind, status, agency, subjects, scope, expires, expires_at, court, judge, case_number,
                    'inserted in SQL', registered_by, registered_at, two_person_rule, signature_status FROM documents WHERE reference = 'JW-1'
                """)
        }
        for reference in ["JW-SQL", "JW-2", "JW-3"] {
            do {
                try registry.approve(reference: reference, operator: "supervisor")
                Issue.record("\(reference) approved")
            } catch let error as StoreError {
                #expect(error.message.hasPrefix("\(reference) has no warrant.register record in the log that matches it"), "\(error.message)")
            }
        }
        try registry.approve(reference: "JW-1", operator: "supervisor")
        #expect(try registry.snapshot().document(reference: "JW-1")?.status == .active)
    }

    @Test("expiry falls at the end of the day in the registry's time zone")
    func expiry() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        let document = try registry.register(registration("JW-1", expires: "2026-12-31"), operator: "clerk")
        #expect(Timestamp.format(document.expiresAt) == "2027-01-01T07:00:00.000Z")
    }

    @Test("every warrant outcome, read back from SQLite into the evaluator")
    func warrantOutcomesFromSQLite() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        try activate(registry, registration("JW-OK"))
        try activate(registry, registration("I200", kind: .administrativeWarrant))
        try activate(registry, registration("JW-REV"))
        try registry.revoke(reference: "JW-REV", reason: "quashed", operator: "clerk")
        _ = try registry.register(registration("JW-OLD", expires: "2026-01-31"), operator: "clerk", at: LocalDate("2026-01-14")!.start(in: denver))
        try registry.approve(reference: "JW-OLD", operator: "supervisor", at: LocalDate("2026-01-15")!.start(in: denver))
        try activate(registry, registration("JW-OTHER", subject: "2017-000456"))
        try activate(registry, registration("JW-VISITS", scope: ["visitation.schedule"]))
        _ = try registry.register(registration("JW-PENDING"), operator: "clerk")
        let snapshot = try registry.snapshot()
        let verifier = WarrantVerifier()
        let time = LocalDate("2026-11-25")!.start(in: denver)
        func check(_ reference: String?, agency: String = "ice-ero") throws -> WarrantCheck {
            try verifier.verify(reference: reference, agency: agency, subject: "2017-000123", action: "records.read", at: time, registry: snapshot)
        }
        #expect(try check("JW-OK") == .verified(reference: "JW-OK"))
        #expect(try check(nil) == .failed(.missing))
        #expect(try check("JW-NONE") == .failed(.unknown))
        #expect(try check("I200") == .failed(.notJudicial))
        #expect(try check("JW-REV") == .failed(.revoked))
        #expect(try check("JW-OLD") == .failed(.expired))
        #expect(try check("JW-OK", agency: "cbp") == .failed(.wrongAgency))
        // Another agency's document fails on that alone, whatever its kind or status: its failure says nothing of it.
        for reference in ["I200", "JW-REV", "JW-OLD", "JW-OTHER", "JW-VISITS", "JW-PENDING"] {
            #expect(try check(reference, agency: "cbp") == .failed(.wrongAgency), "\(reference)")
        }
        #expect(try check("JW-PENDING") == .failed(.notActive))
        #expect(try check("JW-OTHER") == .failed(.wrongSubject))
        #expect(try check("JW-VISITS") == .failed(.outOfScope))
    }

    @Test("changes bump the version and are recorded in the log with their operator")
    func historyAndVersion() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        let before = try registry.version()
        _ = try registry.register(registration("JW-1"), operator: "clerk-a")
        try registry.revoke(reference: "JW-1", reason: "quashed", operator: "clerk-b")
        try registry.record(SubjectRecord(subject: "2017-000123", kind: .advisement, givenBy: "Dep. Ortiz", givenAt: Date(), language: "es"), operator: "clerk-a")
        #expect(try registry.version() > before)
        let history = try registry.history(target: "JW-1")
        #expect(history.map(\.action) == ["warrant.register", "warrant.revoke"])
        #expect(history.map(\.operator) == ["clerk-a", "clerk-b"])
        #expect(history[1].details["reason"] == "quashed")
        #expect(history[1].details["previousStatus"] == "pending")
        #expect(throws: StoreError.self) { try registry.revoke(reference: "JW-1", reason: "again", operator: "x") }
        #expect(throws: StoreError.self) { try registry.revoke(reference: "JW-NONE", reason: "x", operator: "x") }
        #expect(try registry.snapshot().records(subject: "2017-000123").count == 1)
    }
}

@Suite("Document lifecycle on a real SQLite file")
struct LifecycleTests {
    let denver = TimeZone(identifier: "America/Denver")!

    private func judicial(_ reference: String, expires: String = "2099-12-31") -> DocumentRegistration {
        DocumentRegistration(reference: reference, kind: .judicialWarrant, agency: "ice-ero", subjects: ["2017-000123", "2017-000456"],
                             scope: ["records.read", "visitation.*"], expires: expires, court: "D. Colo.", judge: "Hon. J.", caseNumber: "1:26-mj-2",
                             noDocumentReason: "test")
    }

    @Test("two-person rule: pending until a different operator approves; switchable, and the switch is logged")
    func twoPersonRule() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        #expect(try registry.register(judicial("JW-1"), operator: "clerk").status == .pending)
        #expect(try registry.snapshot().document(reference: "JW-1")?.status == .pending)
        #expect(throws: StoreError.self) { try registry.approve(reference: "JW-1", operator: "clerk") }
        try registry.approve(reference: "JW-1", operator: "supervisor")
        #expect(try registry.entry(reference: "JW-1")?.approvedBy == "supervisor")
        #expect(throws: StoreError.self) { try registry.approve(reference: "JW-1", operator: "supervisor") }

        // Past setting up: one operator's word asks, and a second's turns it off; the same one twice, in another
        // letter case too (a re-pass), is refused.
        #expect(try registry.setTwoPersonRule(false, reason: "one-person office", operator: "sheriff") == .requested)
        #expect(throws: StoreError.self) { try registry.setTwoPersonRule(false, reason: "again", operator: "sheriff") }
        #expect(throws: StoreError.self) { try registry.setTwoPersonRule(false, reason: "again", operator: "Sheriff") }
        // A request row written in SQL in another's name, with no record of it in the log, is no request (a pass).
        let genuine = try database.pool.write { db -> String in
            let genuine = try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'two-person-rule-off-request'") ?? ""
            let forged = genuine.replacingOccurrences(of: "\nsheriff", with: "\nchief")
            try db.execute(sql: "UPDATE settings SET value = ? WHERE key = 'two-person-rule-off-request'", arguments: [forged])
            return genuine
        }
        #expect(throws: StoreError.self) { try registry.setTwoPersonRule(false, reason: "as asked", operator: "undersheriff") }
        try database.pool.write { db in try db.execute(sql: "UPDATE settings SET value = ? WHERE key = 'two-person-rule-off-request'", arguments: [genuine]) }
        #expect(try registry.register(judicial("JW-1b"), operator: "clerk").status == .pending, "still on")
        #expect(try registry.setTwoPersonRule(false, reason: "one-person office", operator: "undersheriff") == .set)
        #expect(try registry.history(target: "two-person-rule").contains { $0.action == "settings.two-person-rule" && $0.details["requestedBy"] == "sheriff" })
        #expect(try registry.register(judicial("JW-2"), operator: "clerk").status == .active)
        #expect(try registry.entry(reference: "JW-2")?.twoPersonRule == false)
        #expect(try registry.history(target: "two-person-rule").first?.details["value"] == "off")
        #expect(try registry.history(target: "JW-2").first?.details["twoPersonRule"] == "off")
    }

    @Test("supersede and automatic expiry, each with its log record")
    func supersedeAndExpire() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        for reference in ["JW-OLD", "JW-NEW"] {
            _ = try registry.register(judicial(reference), operator: "clerk")
            try registry.approve(reference: reference, operator: "supervisor")
        }
        #expect(throws: StoreError.self) { try registry.supersede(reference: "JW-OLD", by: "JW-NONE", operator: "clerk") }
        try registry.supersede(reference: "JW-OLD", by: "JW-NEW", operator: "clerk")
        #expect(try registry.entry(reference: "JW-OLD")?.document.status == .superseded)
        #expect(try registry.history(target: "JW-OLD").last?.action == "warrant.supersede")

        _ = try registry.register(judicial("JW-SHORT", expires: "2026-11-30"), operator: "clerk", at: LocalDate("2026-11-24")!.start(in: denver))
        try registry.approve(reference: "JW-SHORT", operator: "supervisor", at: LocalDate("2026-11-25")!.start(in: denver))
        let beforeEnd = LocalDate("2026-11-30")!.end(in: denver).addingTimeInterval(-1)
        #expect(try registry.expireDue(at: beforeEnd).isEmpty)
        #expect(try registry.expireDue(at: beforeEnd.addingTimeInterval(1)) == ["JW-SHORT"])
        #expect(try registry.entry(reference: "JW-SHORT")?.document.status == .expired)
        #expect(try registry.history(target: "JW-SHORT").last?.operator == "system")
        #expect(try registry.entries(DocumentFilter(status: .expired)).map(\.document.reference) == ["JW-SHORT"])
        #expect(try registry.entries(DocumentFilter(expiringWithin: 86400 * 365 * 200)).count == 1)
    }

    @Test("agencies and certificate revocations from the registry reach the snapshot")
    func agencies() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        let pin = String(repeating: "cd", count: 32)
        let request = try #require(try registry.addAgency(id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [pin], operator: "it"))
        #expect(try registry.snapshot().agencies.isEmpty, "a request is not an agency until a second operator approves it")
        #expect(throws: StoreError.self) { try registry.approveAgencyRequest(request, operator: "IT") }
        try registry.approveAgencyRequest(request, operator: "supervisor")
        #expect(throws: StoreError.self) { try registry.approveAgencyRequest(request, operator: "sergeant") }
        #expect(try registry.pendingAgencyRequests().isEmpty)
        // A re-pass: a request may not change the category every pinned key then takes, nor pin another agency's key.
        let renewal = String(repeating: "ab", count: 32)
        #expect(throws: StoreError.self) {
            try registry.addAgency(id: "aurora-pd", name: "Aurora PD", category: .federalImmigration, spkiPins: [renewal], operator: "it")
        }
        #expect(throws: StoreError.self) { try registry.addAgency(id: "other-pd", name: "Other", category: .localLawEnforcement, spkiPins: [pin], operator: "it") }
        // A wrong request is withdrawn; one left a month is not approved; one written without its log record neither.
        let wrong = try #require(try registry.addAgency(id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [renewal], operator: "it"))
        try registry.withdrawAgencyRequest(wrong, reason: "wrong file", operator: "it")
        #expect(throws: StoreError.self) { try registry.approveAgencyRequest(wrong, operator: "supervisor") }
        let old = try #require(try registry.addAgency(
            id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [renewal], operator: "it", at: Date().addingTimeInterval(-31 * 86_400)
        ))
        #expect(throws: StoreError.self) { try registry.approveAgencyRequest(old, operator: "supervisor") }
        try database.pool.write { db in
            try db.execute(sql: """
                INSERT INTO agency_requests (agency, name, category, spki_pins, requested_by, requested_at, status)
                VALUES ('forged-pd', 'Forged', 'local-law-enforcement', '["\(String(repeating: "9f", count: 32))"]', 'bob', ?, 'pending')
                """, arguments: [Timestamp.format(Date())])
        }
        // Nor is one a month old approved by an approver whose clock is set back: the gateways' latest entry counts.
        let stale = try #require(try registry.addAgency(
            id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [renewal], operator: "it", at: Date().addingTimeInterval(-90 * 86_400)
        ))
        try SQLiteDatabase(pool: database.pool).write { session in
            try session.appendLog([LogAppender.Pending(kind: "decision", time: Timestamp.format(Date()), decisionId: "d-now", entry: Array("{}".utf8))])
        }
        #expect(throws: StoreError.self) { try registry.approveAgencyRequest(stale, operator: "supervisor", at: Date().addingTimeInterval(-85 * 86_400)) }
        // A request dated ahead by the requester's clock does not stay young.
        let ahead = try #require(try registry.addAgency(
            id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [renewal], operator: "it", at: Date().addingTimeInterval(365 * 86_400)
        ))
        #expect(throws: StoreError.self) { try registry.approveAgencyRequest(ahead, operator: "supervisor") }
        // An agency the directory file lists keeps the file's category, whatever the registry held for it.
        #expect(throws: StoreError.self) {
            try registry.addAgency(id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [renewal], operator: "it",
                                  listed: [Agency(id: "aurora-pd", name: "Aurora PD", category: .court)])
        }
        // Nor does it take a key the file gives another agency.
        #expect(throws: StoreError.self) {
            try registry.addAgency(id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [renewal], operator: "it",
                                   listed: [Agency(id: "ice-ero", name: "ICE", category: .federalImmigration, spkiPins: [renewal])])
        }
        // A CLI of an earlier release writes agencies directly: refused while the rule is on.
        func refusal(_ sql: String) -> String? {
            do {
                try database.pool.write { db in try db.execute(sql: sql) }
                return nil
            } catch {
                return "\(error)"
            }
        }
        let direct = """
            INSERT INTO agencies (id, name, category, spki_pins, added_by, added_at)
            VALUES ('direct-pd', 'Direct', 'local-law-enforcement', '["\(String(repeating: "8e", count: 32))"]', 'solo', 'x')
            """
        #expect(refusal(direct)?.contains("an agency changes only by an approved request") == true)
        // Nor is an entry unmarked as extending a listed agency, which would let it outlive that agency's listing.
        for number in [old, stale, ahead] { try registry.withdrawAgencyRequest(number, reason: "stale", operator: "it") }
        #expect(refusal("UPDATE agencies SET extends_listed = 0 WHERE id = 'aurora-pd'")?.contains("an agency changes only by an approved request") == true)
        try database.pool.write { db in
            try db.execute(sql: "INSERT INTO settings (key, value) VALUES ('two-person-rule', 'off') ON CONFLICT(key) DO UPDATE SET value = 'off'")
            try db.execute(sql: "UPDATE agencies SET extends_listed = 1 WHERE id = 'aurora-pd'")
        }
        #expect(refusal("UPDATE agencies SET extends_listed = NULL WHERE id = 'aurora-pd'")?.contains("extends a listed agency stays so") == true)
        try database.pool.write { db in try db.execute(sql: "UPDATE settings SET value = 'on' WHERE key = 'two-person-rule'") }
        // Nor is an agency renamed (its keys would move to the agency the new id names) or deleted.
        #expect(refusal("UPDATE agencies SET id = 'ice-ero' WHERE id = 'aurora-pd'")?.contains("id never changes") == true)
        #expect(refusal("DELETE FROM agencies WHERE id = 'aurora-pd'")?.contains("never deleted") == true)
        let forged = try #require(try registry.pendingAgencyRequests().first { $0.agency == "forged-pd" }?.number)
        do {
            try registry.approveAgencyRequest(forged, operator: "alice")
            Issue.record("a request with no record in the log was approved")
        } catch let error as StoreError {
            #expect(error.description.contains("not made by the CLI"), "\(error)")
        }
        try registry.revokeCertificate(agency: "ice-ero", spki: String(repeating: "ef", count: 32), serial: nil, reason: "stolen", operator: "it")
        let snapshot = try registry.snapshot()
        #expect(snapshot.agencies.first?.spkiPins == [pin])
        #expect(snapshot.certificateRevocations[String(repeating: "ef", count: 32)] == "stolen")
        #expect(try registry.history(target: "ice-ero").first?.action == "agency.revoke-cert")
        // A review's pass: a serial is revoked by its value, as the gateway reads a certificate's.
        try registry.revokeCertificate(agency: "ice-ero", spki: nil, serial: "00:CF:3A", reason: "reissued", operator: "it")
        #expect(try registry.snapshot().certificateRevocations["serial:cf3a"] == "reissued")
        #expect(throws: StoreError.self) { try registry.revokeCertificate(agency: "ice-ero", spki: nil, serial: "zz", reason: "typo", operator: "it") }
        #expect(snapshot.agencyKeysByOneOperator == 0, "a key a second operator approved")
    }

    @Test("a certificate requested for a listed agency extends it, whichever directory the approver reads")
    func extensionRequestedIsKept() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        let listed = [Agency(id: "ice-ero", name: "ICE", category: .federalImmigration)]
        let number = try #require(try registry.addAgency(
            id: "ice-ero", name: "ICE", category: .federalImmigration, spkiPins: [String(repeating: "5c", count: 32)], operator: "alice", listed: listed
        ))
        // The file no longer lists ICE by the approval (or the approver reads none): the entry still extends it.
        try registry.approveAgencyRequest(number, operator: "bob", listed: [])
        #expect(try registry.agencyExtensions() == ["ice-ero"])
        #expect(try registry.history(target: "ice-ero").map { $0.details["extendsListedAgency"] } == ["yes"])
    }

    @Test("a key pinned while the two-person rule was off counts until a second operator confirms it, or it is revoked")
    func keysPinnedByOneOperator() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        let (first, second, third) = (String(repeating: "a1", count: 32), String(repeating: "b2", count: 32), String(repeating: "c3", count: 32))
        try registry.setTwoPersonRule(false, reason: "night shift", operator: "clerk")
        try registry.addAgency(id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [first], operator: "clerk")
        try registry.addAgency(id: "ice-ero", name: "ICE", category: .federalImmigration, spkiPins: [second], operator: "clerk")
        try registry.setTwoPersonRule(true, reason: "day shift", operator: "clerk")
        #expect(try registry.keysPinnedByOneOperator() == [PinnedKey(agency: "aurora-pd", spki: first), PinnedKey(agency: "ice-ero", spki: second)])
        #expect(try registry.snapshot().agencyKeysByOneOperator == 2)
        // A second operator confirms one: the same certificate requested again, and approved.
        let confirmation = try #require(try registry.addAgency(
            id: "ice-ero", name: "ICE", category: .federalImmigration, spkiPins: [second], operator: "clerk"
        ))
        #expect(try registry.snapshot().agencyKeysByOneOperator == 2, "a request is not an approval")
        try registry.approveAgencyRequest(confirmation, operator: "supervisor")
        // One approved for another agency's id does not confirm this one's; a revoked key no longer counts.
        let added = try #require(try registry.addAgency(
            id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [third], operator: "clerk"
        ))
        try registry.approveAgencyRequest(added, operator: "supervisor")
        #expect(try registry.keysPinnedByOneOperator() == [PinnedKey(agency: "aurora-pd", spki: first)])
        try registry.revokeCertificate(agency: "aurora-pd", spki: first, serial: nil, reason: "pinned alone", operator: "supervisor")
        #expect(try registry.keysPinnedByOneOperator().isEmpty)
        #expect(try registry.snapshot().agencyKeysByOneOperator == 0)
    }
}

@Suite("Registry writers refuse what an attacker types, on a real SQLite file")
struct HostileInputTests {
    let denver = TimeZone(identifier: "America/Denver")!

    private func judicial(_ reference: String, expires: String = "2099-12-31", court: String = "D. Colo.") -> DocumentRegistration {
        DocumentRegistration(reference: reference, kind: .judicialWarrant, agency: "ice-ero", subjects: ["2017-000123"],
                             scope: ["records.read"], expires: expires, court: court, judge: "Hon. J.", caseNumber: "1:26-mj-2",
                             noDocumentReason: "test")
    }

    @Test("an admin record's details are written as free text is printed: a path's escape or bidi control shows as <U+XXXX>")
    func detailsEscaped() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        try registry.recordAdminAction("store.backup", target: "log", details: ["out": "./b\u{1B}[2J\u{202E}evil.backup", "rows": "3"], operator: "clerk")
        let record = try #require(try registry.history(target: "log").last)
        #expect(record.details == ["out": "./b<U+001B>[2J<U+202E>evil.backup", "rows": "3"])
        #expect(record.account?.isEmpty == false)
    }

    @Test("the account names its host as one name: any byte but a letter, digit, dot or hyphen is written %XX")
    func hostLabel() {
        let account = ProcessAccount.describe(environment: ["SUDO_UID": "0"], loginUID: 1001)
        if case .person(let uid, _) = ProcessAccount.loginIdentity(account) { #expect(uid == 1001) } else { Issue.record("\(account)") }
        #expect(ProcessAccount.loginIdentity(ProcessAccount.describe(environment: [:], loginUID: nil)) == LoginIdentity.none)
        #expect(ProcessAccount.loginIdentity("root (uid 0) on h, login uid 4242") == .person(uid: 4242, host: "h"), "a uid the password database does not list")
        let namespaced = ProcessAccount.loginIdentity("alice (uid 1001) on h, in a user namespace (ids and login as it shows them), login alice (uid 1001)")
        #expect(namespaced == .unknowable)
        let (h1, h2) = (ProcessAccount.loginIdentity("root (uid 0) on h1, login alice (uid 1001)"), ProcessAccount.loginIdentity("root (uid 0) on h2, login alice (uid 1001)"))
        #expect(!h1.mayBeSamePerson(as: h2) && h1.mayBeSamePerson(as: h1))
        #expect(h1.mayBeSamePerson(as: namespaced) && namespaced.mayBeSamePerson(as: h1), "a login beside one that could be hidden")
        #expect(!h1.mayBeSamePerson(as: .none) && !LoginIdentity.none.mayBeSamePerson(as: .none), "without logins, the names decide")
        #expect(ProcessAccount.hostLabel("jail-admin-1.county.example") == "jail-admin-1.county.example")
        #expect(ProcessAccount.hostLabel("x, login alice (uid 1001)") == "x%2C%20login%20alice%20%28uid%201001%29")
        #expect(ProcessAccount.hostLabel("é") == "%C3%A9")
    }

    @Test("the two-person rule compares operators by key: case, spacing, width and accents make no second person")
    func oneOperatorByKey() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        for (index, approver) in ["alice ", "Alice", "ALICE", " alice", "alice\t", "alíce", "ａｌｉｃｅ"].enumerated() {
            _ = try registry.register(judicial("JW-\(index)"), operator: "alice")
            #expect(throws: StoreError.self, "\(approver.debugDescription)") { try registry.approve(reference: "JW-\(index)", operator: approver) }
        }
        for (index, disguised) in ["\u{0430}lice", "alice\u{200B}", "ali\u{0301}ce", " ", ""].enumerated() {
            #expect(throws: StoreError.self, "\(disguised.debugDescription)") { try registry.approve(reference: "JW-\(index)", operator: disguised) }
        }
        try registry.approve(reference: "JW-0", operator: " Bob ")
        #expect(try registry.entry(reference: "JW-0")?.approvedBy == "Bob", "the typed name is stored, trimmed")
        _ = try registry.register(judicial("JW-NEW"), operator: "alice")
        try registry.approve(reference: "JW-NEW", operator: "bob")
        #expect(throws: StoreError.self) { try registry.supersede(reference: "JW-0", by: "JW-NEW", operator: " ") }
        #expect(throws: StoreError.self) { try registry.revoke(reference: "JW-0", reason: "x", operator: " ") }
        #expect(try registry.entry(reference: "JW-0")?.document.status == .active)
    }

    @Test("free text with control or invisible characters is refused by every writer")
    func controlCharacters() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        #expect(throws: RegistrationError.self) {
            try registry.register(judicial("JW-1", court: "D. Colo.\napproved:    2026-12-04T09:00:00.000Z by Sgt. K. Lee"), operator: "clerk")
        }
        var hidden = judicial("JW-1")
        hidden.noDocumentReason = "scan \u{202E}FDP.exe"
        #expect(throws: RegistrationError.self) { try registry.register(hidden, operator: "clerk") }
        _ = try registry.register(judicial("JW-1"), operator: "clerk")
        #expect(throws: StoreError.self) { try registry.approve(reference: "JW-1", operator: "Sgt. K. Lee\n  2026-12-04  warrant.revoke  by Lt. X") }
        #expect(throws: StoreError.self) { try registry.revoke(reference: "JW-1", reason: "typo\r\u{1B}[2Kquashed by court", operator: "clerk") }
        #expect(throws: StoreError.self) { try registry.setTwoPersonRule(false, reason: "x\u{1B}]0;pwned\u{07}", operator: "clerk") }
        #expect(throws: StoreError.self) { try registry.setFact(subject: "2017-000123", name: "conviction", value: "serious-felony\n", operator: "clerk") }
        #expect(throws: StoreError.self) {
            try registry.record(SubjectRecord(subject: "2017-000123", kind: .consent, givenBy: "Dep\u{1B}[8m hidden", givenAt: Date()), operator: "clerk")
        }
        #expect(try registry.history(target: "JW-1").map(\.action) == ["warrant.register"])
    }

    /// An attacker's pass: `subject set-fact --name citizenship --value undocumented` kept immigration status in the
    /// registry and, for good, in the append-only log.
    @Test("a fact naming or stating immigration or citizenship status is refused; nothing is recorded", arguments: [
        ("citizenship", "undocumented"), ("immigration-status", "pending"), ("conviction", "non-citizen"), ("conviction", "Illegal Alien"),
        ("place-of-birth", "MX"), ("conviction", "ＣＩＴＩＺＥＮ"), ("placeOfBirth", "MX"), ("status", "ciudadanía mexicana"),
        ("status", "inmigración"), ("status", "indocumentado"), ("status", "LPR"), ("status", "EWI 2019"), ("status", "A# 123-456-789"),
        ("status", "A200123456"), ("status", "green card holder"), ("status", "U-visa"), ("status", "overstay"), ("status", "naturalized 2010"),
        ("status", "lawful permanent resident"), ("status", "sin papeles"), ("status", "deported 2019"), ("status", "asylee"),
        ("status", "un-documented"), ("status", "foreign-born"), ("status", "out of status"), ("status", "A１２３４５６７８９"),
        ("status", "cittadinanza"), ("status", "citoyenneté"), ("status", "Staatsangehörigkeit"), ("status", "国籍"),
        ("status", "D.A.C.A. recipient"), ("status", "L P R"), ("status", "他的国籍是墨西哥"), ("status", "Mexican national"),
        ("status", "in removal proceedings"), ("status", "imigrante sem cidadania"), ("status", "sans-papiers"),
        // A fourth re-pass: the exemptions' words, apart by punctuation, are no offence's name.
        ("status", "Inmate is an alien, smuggling suspected"), ("status", "Expired visa, fraud case closed"),
    ])
    func immigrationFacts(name: String, value: String) throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        // Even were a policy to declare it (a policy naming the status does not load).
        var declared: [String: FactDeclaration] = ["conviction": .values(["serious-felony"])]
        if case .values(let values)? = declared[name] { declared[name] = .values(values.union([value])) } else { declared[name] = .values([value]) }
        try registry.recordSettableFacts(declared)
        #expect(throws: StoreError.self) { try registry.setFact(subject: "2017-000123", name: name, value: value, operator: "clerk") }
        #expect(try registry.history(target: "2017-000123").isEmpty)
        try registry.setFact(subject: "2017-000123", name: "conviction", value: "serious-felony", operator: "clerk")
    }

    /// An attacker's pass: any name and any free text was stored (`--name note --value "Guatemalan national"`), and no
    /// list of status terms reads every way of writing one. The registry holds only what the policy's rules test.
    @Test("a fact is one the gateway's policy declares, with one of its values or a date; before one is recorded, the policy given")
    func declaredFactsOnly() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        let set = { (name: String, value: String, policy: [String: FactDeclaration]?) in
            try registry.setFact(subject: "2017-000123", name: name, value: value, operator: "clerk", policyFacts: policy)
        }
        let california: [String: FactDeclaration] = ["conviction": .values(["serious-felony", "none"]), "lookback": .date]
        // Nothing recorded and no policy named: refused.
        #expect(throws: StoreError.self) { try set("conviction", "serious-felony", nil) }
        try set("conviction", "serious-felony", california)
        #expect(throws: StoreError.self) { try set("conviction", "Guatemalan national", california) }
        #expect(throws: StoreError.self) { try set("note", "anything", california) }

        try registry.recordSettableFacts(california)
        for (name, value) in [("conviction", "none"), ("lookback", "2019-03-01"), ("lookback", "2019-03-01T10:00:00Z")] {
            try set(name, value, nil)
        }
        for (name, value) in [("note", "anything"), ("conviction", "Serious-Felony"), ("conviction", "born in Mexico"), ("lookback", "last year")] {
            #expect(throws: StoreError.self, "\(name) = \(value)") { try set(name, value, nil) }
        }
        // A policy named must declare it too; the recorded one still applies.
        #expect(throws: StoreError.self) { try set("conviction", "none", ["conviction": .values(["serious-felony"])]) }
        #expect(throws: StoreError.self) { try set("note", "x", ["note": .values(["x"])]) }
        #expect(try registry.snapshot().facts(subject: "2017-000123") == ["conviction": "none", "lookback": "2019-03-01T10:00:00Z"])
        // A new policy's facts replace the old.
        try registry.recordSettableFacts(["risk": .values(["high", "low"])])
        #expect(throws: StoreError.self) { try set("conviction", "none", nil) }
        try set("risk", "low", nil)
    }

    /// A re-pass: the status went into the log by other writers, as who gave an advisement or why a warrant was
    /// revoked.
    @Test("an advisement's --by or --language, or a revocation's reason, that states the status is refused")
    func immigrationStatusElsewhere() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        let advisement = SubjectRecord(subject: "2017-000123", kind: .advisement, givenBy: "Dep. Ortiz; inmate is undocumented", givenAt: Date(), language: "es")
        #expect(throws: StoreError.self) { try registry.record(advisement, operator: "clerk") }
        let language = SubjectRecord(subject: "2017-000123", kind: .advisement, givenBy: "Dep. Ortiz", givenAt: Date(), language: "es (undocumented alien)")
        #expect(throws: StoreError.self) { try registry.record(language, operator: "clerk") }
        _ = try registry.register(judicial("JW-1"), operator: "clerk")
        #expect(throws: StoreError.self) { try registry.revoke(reference: "JW-1", reason: "the subject is a US citizen", operator: "clerk") }
        try registry.revoke(reference: "JW-1", reason: "quashed by the court", operator: "clerk")
    }

    /// A re-pass: the terms matched inside words, so ordinary facts were refused.
    @Test("ordinary facts that only contain a term inside a word are kept", arguments: [
        "supervisable", "advisable", "salient", "Valiente", "alienation of affection", "Visalia Superior Court", "deportment",
        "citizens arrest", "a number of prior convictions", "a 20230101 booking", "serious-felony", "quashed vis-a-vis jurisdiction",
        "registered as the wrong kind: an immigration-judge-order", "Deportivo", "Citizens Bank", "alien smuggling (8 USC 1324)",
        "visa fraud (18 USC 1546)", "Immigration and Customs Enforcement reported the key compromised", "Il Cittadino di Lodi",
        "Nguyen Quoc Tich",
    ])
    func ordinaryFacts(value: String) throws {
        #expect(ImmigrationStatusTerms.stem(in: value) == nil, "\(value)")
    }

    /// An attacker's pass registered `jw-2026-0001` beside `JW-2026-0001`: two documents that people read as one.
    @Test("a reference that reads as a registered one (letter case, O for 0, separators, leading zeros) is refused")
    func referenceCase() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        _ = try registry.register(judicial("JW-2026-0001"), operator: "clerk")
        #expect(throws: StoreError.self) { try registry.register(judicial("jw-2026-0001"), operator: "clerk") }
        // A re-pass: what people misread or retype (O for 0, l for 1, separators, a trailing dot, leading zeros).
        for twin in ["JW-2026-OOO1", "JW-2026-000l", "JW-2026-0001.", "JW_2026_0001", "JW2026-0001", "JW-2026-00001", "JW/2026/1"] {
            #expect(throws: StoreError.self, "\(twin)") { try registry.register(judicial(twin), operator: "clerk") }
        }
        #expect(throws: StoreError.self) { try registry.register(judicial("JW-2026-0001"), operator: "clerk") }
        #expect(try registry.entry(reference: "jw-2026-0001") == nil)
        _ = try registry.register(judicial("JW-2026-0002"), operator: "clerk")
        // A third re-pass: distinct numbers that only the separators told apart were refused, and a revoked typo kept
        // the right number out for good.
        for (first, second) in [("JW-2026-01-12", "JW-2026-11-02"), ("JW-2026-1-23", "JW-2026-12-3"), ("24CR1001", "2-4CR1001"), ("ICE-LO-2026-1", "ICE-10-2026-1")] {
            _ = try registry.register(judicial(first), operator: "clerk")
            _ = try registry.register(judicial(second), operator: "clerk")
        }
        // A fourth: a letter suffix L read as a one made a case number another's twin.
        _ = try registry.register(judicial("2024-CR-0121"), operator: "clerk")
        _ = try registry.register(judicial("2024-CR-0012L"), operator: "clerk")
        #expect(throws: StoreError.self) { try registry.register(judicial("2024-CR-O12l"), operator: "clerk") }
        _ = try registry.register(judicial("JW-2026-OO42"), operator: "clerk")
        #expect(throws: StoreError.self) { try registry.register(judicial("JW-2026-0042"), operator: "clerk") }
        try registry.revoke(reference: "JW-2026-OO42", reason: "typo: should be JW-2026-0042", operator: "clerk")
        _ = try registry.register(judicial("JW-2026-0042"), operator: "clerk")
    }

    @Test("an expiry is a day that exists in 1970–9999 and has not ended; a time of day is refused")
    func impossibleExpiry() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        for expires in ["0000-01-01", "1969-12-31", "2026-02-31T12:00:00Z", "2026-02-29T12:00:00Z", "2026-12-31T23:59:60-07:00", "2026-12-31T24:00:00Z"] {
            #expect(throws: RegistrationError.self, "\(expires)") { try registry.register(judicial("JW-X", expires: expires), operator: "clerk") }
        }
        #expect(try registry.register(judicial("JW-LAST", expires: "9999-12-31"), operator: "clerk").expires == "9999-12-31")
        // A helper's pass: a time of day was stretched to the end of its day, even a time already passed.
        #expect(throws: RegistrationError.self) { try registry.register(judicial("JW-T", expires: "2099-12-31T12:00:00Z"), operator: "clerk") }
        let endOfDay = try #require(Timestamp.parse("2026-12-05T07:00:00Z"))  // the end of 2026-12-04 in Denver
        #expect(throws: RegistrationError.self) { try registry.register(judicial("JW-P", expires: "2026-12-04"), operator: "clerk", at: endOfDay) }
        let lastSecond = endOfDay.addingTimeInterval(-1)
        #expect(try registry.register(judicial("JW-D", expires: "2026-12-04"), operator: "clerk", at: lastSecond).expires == "2026-12-04")
        #expect(Timestamp.format(try #require(try registry.entry(reference: "JW-LAST")).document.expiresAt) == "+10000-01-01T07:00:00.000Z")
    }

    @Test("a record about consent must be later than the latest one, and no record is in the future")
    func consentOrder() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: denver)
        let now = try #require(Timestamp.parse("2026-12-04T16:44:00Z"))
        func record(_ kind: SubjectRecordKind, _ givenAt: Date) throws {
            try registry.record(SubjectRecord(subject: "2017-000456", kind: kind, givenBy: "Dep. A. Chen", givenAt: givenAt, language: "en"),
                                operator: "clerk", at: now)
        }
        try record(.consent, now.addingTimeInterval(-60))
        #expect(throws: StoreError.self, "a withdrawal at midnight would sort before the consent") {
            try record(.consentWithdrawn, LocalDate("2026-12-04")!.start(in: .gmt))
        }
        #expect(throws: StoreError.self, "at the same instant") { try record(.consentDeclined, now.addingTimeInterval(-60)) }
        #expect(throws: StoreError.self, "a year typed wrong") { try record(.consentWithdrawn, now.addingTimeInterval(365 * 86400)) }
        #expect(throws: StoreError.self) { try record(.advisement, now.addingTimeInterval(Registry.clockSkew + 1)) }
        try record(.advisement, now.addingTimeInterval(Registry.clockSkew))
        #expect(throws: StoreError.self, "a consent dated ahead would hold off a withdrawal recorded now") {
            try record(.consentWithdrawn, now.addingTimeInterval(1))
        }
        try record(.consentWithdrawn, now)
        try record(.advisement, now.addingTimeInterval(-86400))
        #expect(try registry.records(subject: "2017-000456").map(\.kind) == [.advisement, .consent, .consentWithdrawn, .advisement])
    }

    @Test("a new time zone moves the expiry of active and pending documents, logged, and the snapshot sees it")
    func timeZoneChange() throws {
        let database = try TemporaryDatabase()
        let sqlite = SQLiteDatabase(pool: database.pool)
        let registry = Registry(database: sqlite, timeZone: denver)
        try registry.recordTimeZone()
        for reference in ["JW-1", "JW-2"] {
            _ = try registry.register(judicial(reference, expires: "2026-12-31"), operator: "clerk")
        }
        try registry.revoke(reference: "JW-2", reason: "quashed", operator: "clerk")
        let newYork = Registry(database: sqlite, timeZone: TimeZone(identifier: "America/New_York")!)
        #expect(throws: StoreError.self, "a registry in a zone other than the recorded one") { try newYork.register(judicial("JW-3"), operator: "clerk") }
        let version = try registry.version()
        try newYork.recordTimeZone()
        #expect(try registry.version() > version)
        #expect(Timestamp.format(try #require(try registry.snapshot().document(reference: "JW-1")).expiresAt) == "2027-01-01T05:00:00.000Z")
        #expect(Timestamp.format(try #require(try registry.entry(reference: "JW-2")).document.expiresAt) == "2027-01-01T07:00:00.000Z")
        let logged = try #require(try registry.history(target: "time-zone").last)
        #expect(logged.details == ["value": "America/New_York", "previous": "America/Denver", "expiryRecomputed": "JW-1"])
        #expect(try newYork.register(judicial("JW-3", expires: "2026-12-31"), operator: "clerk").expiresAt == Timestamp.parse("2027-01-01T05:00:00Z"))
    }

    /// Gateways record their zone when they start, before anything expires what ran out while they were down.
    @Test("a new time zone does not bring back a warrant whose expiry has passed")
    func timeZoneChangeAfterExpiry() throws {
        let database = try TemporaryDatabase()
        let sqlite = SQLiteDatabase(pool: database.pool)
        let registry = Registry(database: sqlite, timeZone: denver)
        try registry.recordTimeZone()
        _ = try registry.register(judicial("JW-PASSED", expires: "2026-12-01"), operator: "clerk", at: Timestamp.parse("2026-11-30T12:00:00Z")!)
        _ = try registry.register(judicial("JW-LATER", expires: "2026-12-31"), operator: "clerk", at: Timestamp.parse("2026-11-30T12:00:00Z")!)
        let losAngeles = Registry(database: sqlite, timeZone: TimeZone(identifier: "America/Los_Angeles")!)
        try losAngeles.recordTimeZone(at: Timestamp.parse("2026-12-02T07:30:00Z")!)
        #expect(Timestamp.format(try #require(try registry.entry(reference: "JW-PASSED")).document.expiresAt) == "2026-12-02T07:00:00.000Z")
        #expect(Timestamp.format(try #require(try registry.entry(reference: "JW-LATER")).document.expiresAt) == "2027-01-01T08:00:00.000Z")
        #expect(try registry.history(target: "time-zone").last?.details["expiryRecomputed"] == "JW-LATER")
    }
}
