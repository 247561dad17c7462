import Foundation
import GRDB
import WarrantGateCore

/// A registered document with its registration facts, as the CLI shows it.
public struct DocumentEntry: Sendable, Codable {
    public var document: RegisteredDocument
    public var registeredBy: String
    public var registeredAt: String
    public var statusReason: String?
}

/// The registry of warrants, court orders, ICE forms and advisements, kept in SQLite.
///
/// Every change is made in one transaction together with its admin record in the append-only log, so the log
/// always tells who changed what. The gateway reads the registry through ``snapshot()``.
public struct Registry: Sendable {
    public let writer: any DatabaseWriter
    public let timeZone: TimeZone

    public init(writer: any DatabaseWriter, timeZone: TimeZone) {
        self.writer = writer
        self.timeZone = timeZone
    }

    // MARK: Changes

    /// Registers a document. It is active at once (the two-person rule comes with approval).
    public func register(_ registration: DocumentRegistration, operator: String, at time: Date = Date()) throws -> RegisteredDocument {
        let document = try registration.validated(timeZone: timeZone)
        try write { db in
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM documents WHERE reference = ?)", arguments: [document.reference]) == true {
                throw StoreError("a document with reference \(document.reference) is already registered")
            }
            try db.execute(
                sql: """
                    INSERT INTO documents (reference, kind, status, agency, subjects, scope, expires, expires_at, court, judge,
                        case_number, document_sha256, registered_by, registered_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    document.reference, document.kind.rawValue, document.status.rawValue, document.agency,
                    Self.encodeList(document.subjects), Self.encodeList(document.scope), document.expires,
                    document.expiresAt.timeIntervalSince1970, document.court, document.judge, document.caseNumber,
                    document.documentSHA256, `operator`, Timestamp.format(time),
                ]
            )
            var details = [
                "kind": document.kind.rawValue, "agency": document.agency, "subjects": document.subjects.joined(separator: ","),
                "scope": document.scope.joined(separator: ","), "expires": document.expires, "status": document.status.rawValue,
            ]
            details["court"] = document.court
            details["judge"] = document.judge
            details["case"] = document.caseNumber
            details["documentSHA256"] = document.documentSHA256
            try Self.appendAdmin(db, AdminRecord(time: Timestamp.format(time), operator: `operator`, action: "warrant.register", target: document.reference, details: details))
        }
        return document
    }

    /// Revokes an active or pending document.
    public func revoke(reference: String, reason: String, operator: String, at time: Date = Date()) throws {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw StoreError("a revocation needs a reason") }
        try write { db in
            guard let status = try String.fetchOne(db, sql: "SELECT status FROM documents WHERE reference = ?", arguments: [reference]) else {
                throw StoreError("no document with reference \(reference)")
            }
            guard status == DocumentStatus.active.rawValue || status == DocumentStatus.pending.rawValue else {
                throw StoreError("\(reference) is \(status) and cannot be revoked")
            }
            try db.execute(
                sql: "UPDATE documents SET status = ?, status_reason = ? WHERE reference = ?",
                arguments: [DocumentStatus.revoked.rawValue, reason, reference]
            )
            try Self.appendAdmin(db, AdminRecord(time: Timestamp.format(time), operator: `operator`, action: "warrant.revoke", target: reference, details: ["reason": reason, "previousStatus": status]))
        }
    }

    /// Records that an inmate was advised of their rights.
    public func recordAdvisement(_ advisement: Advisement, operator: String, at time: Date = Date()) throws {
        guard Identifier.isValidReference(advisement.subject) else { throw StoreError("'\(advisement.subject)' is not a booking number") }
        guard !advisement.language.isEmpty, !advisement.givenBy.isEmpty else { throw StoreError("an advisement needs a language and who gave it") }
        try write { db in
            try db.execute(
                sql: "INSERT INTO advisements (subject, language, given_by, given_at, recorded_by) VALUES (?, ?, ?, ?, ?)",
                arguments: [advisement.subject, advisement.language, advisement.givenBy, advisement.givenAt.timeIntervalSince1970, `operator`]
            )
            try Self.appendAdmin(db, AdminRecord(
                time: Timestamp.format(time), operator: `operator`, action: "advisement.record", target: advisement.subject,
                details: ["language": advisement.language, "givenBy": advisement.givenBy, "givenAt": Timestamp.format(advisement.givenAt)]
            ))
        }
    }

    /// Appends an admin record on its own (for actions such as exports).
    public func recordAdminAction(_ action: String, target: String, details: [String: String], operator: String, at time: Date = Date()) throws {
        try write { db in
            try Self.appendAdmin(db, AdminRecord(time: Timestamp.format(time), operator: `operator`, action: action, target: target, details: details))
        }
    }

    // MARK: Reads

    public func entries() throws -> [DocumentEntry] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM documents ORDER BY registered_at, reference").map(Self.entry)
        }
    }

    public func entry(reference: String) throws -> DocumentEntry? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM documents WHERE reference = ?", arguments: [reference]).map(Self.entry)
        }
    }

    /// The admin records about one target, oldest first.
    public func history(target: String) throws -> [AdminRecord] {
        try writer.read { db in
            try String.fetchAll(db, sql: "SELECT entry FROM log WHERE kind = 'admin' ORDER BY seq").compactMap { text in
                let record = try JSONDecoder().decode(AdminRecord.self, from: Data(text.utf8))
                return record.target == target ? record : nil
            }
        }
    }

    /// A number that changes whenever documents or advisements change.
    public func version() throws -> Int64 {
        try writer.read { db in try Int64.fetchOne(db, sql: "SELECT version FROM registry_state WHERE id = 1") ?? 0 }
    }

    /// Everything the evaluator needs, read in one transaction.
    public func snapshot() throws -> RegistrySnapshot {
        try writer.read { db in
            let version = try Int64.fetchOne(db, sql: "SELECT version FROM registry_state WHERE id = 1") ?? 0
            let documents = try Row.fetchAll(db, sql: "SELECT * FROM documents").map { try Self.entry($0).document }
            let advisements = try Row.fetchAll(db, sql: "SELECT subject, language, given_by, given_at FROM advisements").map { row in
                Advisement(subject: row["subject"], language: row["language"], givenBy: row["given_by"], givenAt: Date(timeIntervalSince1970: row["given_at"]))
            }
            return RegistrySnapshot(documents: documents, advisements: advisements, version: version)
        }
    }

    // MARK: Settings

    /// The time zone in which document expiry dates end, as the gateway last recorded it from its policy.
    public static func recordedTimeZone(_ reader: any DatabaseReader) throws -> TimeZone? {
        try reader.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'time-zone'").flatMap(TimeZone.init(identifier:))
        }
    }

    /// Records the policy's time zone so that the CLI computes expiry the same way as the gateway.
    public func recordTimeZone() throws {
        try write { db in
            try db.execute(
                sql: "INSERT INTO settings (key, value) VALUES ('time-zone', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [timeZone.identifier]
            )
        }
    }

    // MARK: Helpers

    private func write(_ body: (Database) throws -> Void) throws {
        do {
            try writer.write(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("the database refused the change: \(StoreDatabase.describe(error))")
        }
    }

    static func appendAdmin(_ db: Database, _ record: AdminRecord) throws {
        try db.execute(
            sql: "INSERT INTO log (kind, time, decision_id, entry) VALUES ('admin', ?, NULL, ?)",
            arguments: [record.time, String(decoding: record.canonical, as: UTF8.self)]
        )
    }

    private static func entry(_ row: Row) throws -> DocumentEntry {
        guard let kind = DocumentKind(rawValue: row["kind"]), let status = DocumentStatus(rawValue: row["status"]) else {
            throw StoreError("the documents table holds an unknown kind or status")
        }
        let document = RegisteredDocument(
            reference: row["reference"], kind: kind, status: status, agency: row["agency"],
            subjects: try decodeList(row["subjects"]), scope: try decodeList(row["scope"]), expires: row["expires"],
            expiresAt: Date(timeIntervalSince1970: row["expires_at"]), court: row["court"], judge: row["judge"],
            caseNumber: row["case_number"], documentSHA256: row["document_sha256"]
        )
        return DocumentEntry(document: document, registeredBy: row["registered_by"], registeredAt: row["registered_at"], statusReason: row["status_reason"])
    }

    static func encodeList(_ list: [String]) -> String {
        String(decoding: try! JSONEncoder().encode(list), as: UTF8.self)
    }

    static func decodeList(_ text: String) throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }
}
