import Foundation
import GRDB
import WarrantGateCore

/// A registered document with its registration facts, as the CLI shows it.
public struct DocumentEntry: Sendable, Codable {
    public var document: RegisteredDocument
    public var registeredBy: String
    public var registeredAt: String
    /// Whether the two-person rule applied when the document was registered.
    public var twoPersonRule: Bool
    public var approvedBy: String?
    public var approvedAt: String?
    public var statusReason: String?
    public var supersededBy: String?
    public var noDocumentReason: String?
}

/// The registry of warrants, court orders, ICE forms, records about inmates and CLI-managed agencies, in SQLite.
///
/// Every change is made in one transaction together with its admin record in the append-only log, so the log
/// always tells who changed what. The gateway reads the registry through ``snapshot()``.
public struct Registry: Sendable {
    let writer: any DatabaseWriter
    public let timeZone: TimeZone

    init(writer: any DatabaseWriter, timeZone: TimeZone) {
        self.writer = writer
        self.timeZone = timeZone
    }

    // MARK: Reads

    /// A number that changes whenever anything the gateway reads from the registry changes.
    public func version() throws -> Int64 {
        try writer.read { db in try Int64.fetchOne(db, sql: "SELECT version FROM registry_state WHERE id = 1") ?? 0 }
    }

    /// Everything the evaluator and the directory need, read in one transaction.
    public func snapshot() throws -> RegistrySnapshot {
        try writer.read { db in
            let version = try Int64.fetchOne(db, sql: "SELECT version FROM registry_state WHERE id = 1") ?? 0
            let documents = try Row.fetchAll(db, sql: "SELECT * FROM documents").map { try Self.entry($0).document }
            let records = try Row.fetchAll(db, sql: "SELECT * FROM subject_records").map(Self.subjectRecord)
            let agencies = try Row.fetchAll(db, sql: "SELECT * FROM agencies").map(Self.agency)
            var facts: [String: [String: String]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT subject, name, value FROM subject_facts") {
                facts[row["subject"], default: [:]][row["name"]] = row["value"]
            }
            var revocations: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT spki, serial, reason FROM certificate_revocations") {
                if let spki: String = row["spki"] { revocations[spki] = row["reason"] }
                if let serial: String = row["serial"] { revocations["serial:" + serial] = row["reason"] }
            }
            return RegistrySnapshot(
                documents: documents, records: records, facts: facts, agencies: agencies, certificateRevocations: revocations, version: version
            )
        }
    }

    /// The admin records about one target, oldest first.
    public func history(target: String) throws -> [AdminRecord] {
        try writer.read { db in
            let decoder = JSONDecoder()
            return try String.fetchAll(db, sql: "SELECT entry FROM log WHERE kind = 'admin' ORDER BY seq").compactMap { text in
                let record = try decoder.decode(AdminRecord.self, from: Data(text.utf8))
                return record.target == target ? record : nil
            }
        }
    }

    // MARK: Settings

    /// The time zone in which document expiry dates end, as the gateway last recorded it from its policy.
    static func recordedTimeZone(_ reader: any DatabaseReader) throws -> TimeZone? {
        try reader.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'time-zone'").flatMap(TimeZone.init(identifier:))
        }
    }

    /// Records the policy's time zone so that the CLI computes expiry the same way as the gateway.
    public func recordTimeZone() throws {
        try write { db in
            let current = try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'time-zone'")
            guard current != timeZone.identifier else { return }
            try db.execute(
                sql: "INSERT INTO settings (key, value) VALUES ('time-zone', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [timeZone.identifier]
            )
        }
    }

    /// Whether a registration needs a second operator's approval (on unless turned off).
    public func twoPersonRule() throws -> Bool {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'two-person-rule'") != "off" }
    }

    /// Turns the two-person rule on or off; the change and its reason are logged.
    public func setTwoPersonRule(_ on: Bool, reason: String, operator: String, at time: Date = Date()) throws {
        try requireText(reason, "a reason")
        try write { db in
            try db.execute(
                sql: "INSERT INTO settings (key, value) VALUES ('two-person-rule', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [on ? "on" : "off"]
            )
            try Self.appendAdmin(db, AdminRecord(
                time: Timestamp.format(time), operator: `operator`, action: "settings.two-person-rule", target: "two-person-rule",
                details: ["value": on ? "on" : "off", "reason": reason]
            ))
        }
    }

    /// Appends an admin record on its own (for actions such as exports).
    public func recordAdminAction(_ action: String, target: String, details: [String: String], operator: String, at time: Date = Date()) throws {
        try write { db in
            try Self.appendAdmin(db, AdminRecord(time: Timestamp.format(time), operator: `operator`, action: action, target: target, details: details))
        }
    }

    // MARK: Helpers

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.write(body)
        } catch let error as StoreError {
            throw error
        } catch let error as RegistrationError {
            throw error
        } catch {
            throw StoreError("the database refused the change: \(StoreDatabase.describe(error))")
        }
    }

    func requireText(_ text: String, _ what: String) throws {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw StoreError("\(what) is required") }
    }

    static func appendAdmin(_ db: Database, _ record: AdminRecord) throws {
        try LogAppender.append(db, [.init(kind: "admin", time: record.time, decisionId: nil, entry: record.canonical)])
    }

    static func entry(_ row: Row) throws -> DocumentEntry {
        guard let kind = DocumentKind(rawValue: row["kind"]), let status = DocumentStatus(rawValue: row["status"]) else {
            throw StoreError("the documents table holds an unknown kind or status")
        }
        let document = RegisteredDocument(
            reference: row["reference"], kind: kind, status: status, agency: row["agency"],
            subjects: try decodeList(row["subjects"]), scope: try decodeList(row["scope"]), expires: row["expires"],
            expiresAt: Date(timeIntervalSince1970: row["expires_at"]), court: row["court"], judge: row["judge"],
            caseNumber: row["case_number"], documentSHA256: row["document_sha256"], registeredAt: Timestamp.parse(row["registered_at"])
        )
        return DocumentEntry(
            document: document, registeredBy: row["registered_by"], registeredAt: row["registered_at"],
            twoPersonRule: row["two_person_rule"], approvedBy: row["approved_by"], approvedAt: row["approved_at"],
            statusReason: row["status_reason"], supersededBy: row["superseded_by"], noDocumentReason: row["no_document_reason"]
        )
    }

    static func subjectRecord(_ row: Row) throws -> SubjectRecord {
        guard let kind = SubjectRecordKind(rawValue: row["kind"]) else { throw StoreError("the subject_records table holds an unknown kind") }
        return SubjectRecord(
            subject: row["subject"], kind: kind, givenBy: row["given_by"], givenAt: Date(timeIntervalSince1970: row["given_at"]),
            language: row["language"], attorneyRequired: row["attorney_required"], scope: try decodeList(row["scope"])
        )
    }

    static func agency(_ row: Row) throws -> Agency {
        guard let category = AgencyCategory(rawValue: row["category"]) else { throw StoreError("the agencies table holds a category that is not a name") }
        return Agency(id: row["id"], name: row["name"], category: category, spkiPins: Set(try decodeList(row["spki_pins"])))
    }

    static func encodeList(_ list: [String]) -> String {
        String(decoding: try! JSONEncoder().encode(list), as: UTF8.self)
    }

    static func decodeList(_ text: String) throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }
}
