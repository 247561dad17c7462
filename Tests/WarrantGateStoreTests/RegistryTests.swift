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
                             caseNumber: kind.isJudicial ? "1:26-mj-1" : nil, documentSHA256: kind.isJudicial ? String(repeating: "ab", count: 32) : nil)
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
        var withoutScan = registration("JW-2")
        withoutScan.documentSHA256 = nil
        withoutScan.noDocumentReason = "faxed copy, original held by the court"
        #expect(try registry.register(withoutScan, operator: "clerk").status == .pending)
        _ = try registry.register(registration("JW-1"), operator: "clerk")
        #expect(throws: StoreError.self) { try registry.register(registration("JW-1"), operator: "clerk") }
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
        _ = try registry.register(registration("JW-OLD", expires: "2026-01-31"), operator: "clerk")
        try registry.approve(reference: "JW-OLD", operator: "supervisor", at: LocalDate("2026-01-15")!.start(in: denver))
        try activate(registry, registration("JW-OTHER", subject: "2017-000456"))
        try activate(registry, registration("JW-VISITS", scope: ["visitation.schedule"]))
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

        try registry.setTwoPersonRule(false, reason: "one-person office", operator: "undersheriff")
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

        _ = try registry.register(judicial("JW-SHORT", expires: "2026-11-30"), operator: "clerk")
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
        try registry.addAgency(id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [pin], operator: "it")
        try registry.revokeCertificate(agency: "ice-ero", spki: String(repeating: "ef", count: 32), serial: nil, reason: "stolen", operator: "it")
        let snapshot = try registry.snapshot()
        #expect(snapshot.agencies.first?.spkiPins == [pin])
        #expect(snapshot.certificateRevocations[String(repeating: "ef", count: 32)] == "stolen")
        #expect(try registry.history(target: "ice-ero").first?.action == "agency.revoke-cert")
    }
}
