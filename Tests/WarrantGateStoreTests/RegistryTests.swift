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
                             court: kind.isJudicial ? "U.S. District Court, D. Colo." : nil, judge: kind.isJudicial ? "Hon. A. Judge" : nil)
    }

    @Test("judicial kinds need a court and a judge, and dates must be real")
    func validation() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(writer: database.pool, timeZone: denver)
        var missing = registration("JW-1")
        missing.court = nil
        missing.judge = nil
        missing.expires = "2026-02-30"
        do {
            _ = try registry.register(missing, operator: "clerk")
            Issue.record("registration should have been refused")
        } catch let error as RegistrationError {
            #expect(error.problems.contains { $0.contains("--court") })
            #expect(error.problems.contains { $0.contains("--judge") })
            #expect(error.problems.contains { $0.contains("YYYY-MM-DD") })
        }
        _ = try registry.register(registration("JW-1"), operator: "clerk")
        #expect(throws: StoreError.self) { try registry.register(registration("JW-1"), operator: "clerk") }
    }

    @Test("expiry falls at the end of the day in the registry's time zone")
    func expiry() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(writer: database.pool, timeZone: denver)
        let document = try registry.register(registration("JW-1", expires: "2026-12-31"), operator: "clerk")
        #expect(Timestamp.format(document.expiresAt) == "2027-01-01T07:00:00.000Z")
    }

    @Test("every warrant outcome, read back from SQLite into the evaluator")
    func warrantOutcomesFromSQLite() throws {
        let database = try TemporaryDatabase()
        let registry = Registry(writer: database.pool, timeZone: denver)
        _ = try registry.register(registration("JW-OK"), operator: "clerk")
        _ = try registry.register(registration("I200", kind: .administrativeWarrant), operator: "clerk")
        _ = try registry.register(registration("JW-REV"), operator: "clerk")
        try registry.revoke(reference: "JW-REV", reason: "quashed", operator: "clerk")
        _ = try registry.register(registration("JW-OLD", expires: "2026-01-31"), operator: "clerk")
        _ = try registry.register(registration("JW-OTHER", subject: "2017-000456"), operator: "clerk")
        _ = try registry.register(registration("JW-VISITS", scope: ["visitation.schedule"]), operator: "clerk")
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
        let registry = Registry(writer: database.pool, timeZone: denver)
        let before = try registry.version()
        _ = try registry.register(registration("JW-1"), operator: "clerk-a")
        try registry.revoke(reference: "JW-1", reason: "quashed", operator: "clerk-b")
        try registry.recordAdvisement(Advisement(subject: "2017-000123", language: "es", givenBy: "Dep. Ortiz", givenAt: Date()), operator: "clerk-a")
        #expect(try registry.version() > before)
        let history = try registry.history(target: "JW-1")
        #expect(history.map(\.action) == ["warrant.register", "warrant.revoke"])
        #expect(history.map(\.operator) == ["clerk-a", "clerk-b"])
        #expect(history[1].details["reason"] == "quashed")
        #expect(throws: StoreError.self) { try registry.revoke(reference: "JW-1", reason: "again", operator: "x") }
        #expect(throws: StoreError.self) { try registry.revoke(reference: "JW-NONE", reason: "x", operator: "x") }
        #expect(try registry.snapshot().advisements(subject: "2017-000123").count == 1)
    }
}
