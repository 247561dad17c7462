import Foundation
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

/// The registry of warrants, court orders, ICE forms, records about inmates and CLI-managed agencies, in the store's
/// database (SQLite, or PostgreSQL shared by several gateways).
///
/// Every change is made in one transaction together with its admin record in the append-only log, so the log
/// always tells who changed what. The gateway reads the registry through ``snapshot()``.
public struct Registry: Sendable {
    let database: any SQLDatabase
    public let timeZone: TimeZone

    init(database: any SQLDatabase, timeZone: TimeZone) {
        self.database = database
        self.timeZone = timeZone
    }

    // MARK: Reads

    /// A number that changes whenever anything the gateway reads from the registry changes. On PostgreSQL, waiting at
    /// most `milliseconds` (if given) for a lock another session holds.
    public func version(waitingAtMost milliseconds: Int? = nil) throws -> Int64 {
        try database.read { session in
            try session.waitForLocks(atMost: milliseconds)
            return try session.scalarInt64("SELECT version FROM registry_state WHERE id = 1") ?? 0
        }
    }

    /// Everything the evaluator and the directory need, read in one transaction. On PostgreSQL, waiting at most
    /// `milliseconds` (if given) for each lock another session holds on a registry table.
    public func snapshot(waitingAtMost milliseconds: Int? = nil) throws -> RegistrySnapshot {
        try database.read { session in
            try session.waitForLocks(atMost: milliseconds)
            let version = try session.scalarInt64("SELECT version FROM registry_state WHERE id = 1") ?? 0
            let entries = try session.fetchAll("SELECT * FROM documents").map(Self.entry)
            let records = try session.fetchAll("SELECT * FROM subject_records").map(Self.subjectRecord)
            let agencies = try Self.agencies(session)
            var facts: [String: [String: String]] = [:]
            for row in try session.fetchAll("SELECT subject, name, value FROM subject_facts") {
                facts[try row.text("subject"), default: [:]][try row.text("name")] = try row.text("value")
            }
            var revocations: [String: String] = [:]
            for row in try session.fetchAll("SELECT spki, serial, reason FROM certificate_revocations") {
                if let spki = try row.optionalText("spki") { revocations[spki] = try row.text("reason") }
                // By its value, as the gateway reads a certificate's (a row may hold `00:CF:3A`, as some tools show it).
                if let serial = try row.optionalText("serial") {
                    revocations["serial:" + (Hex.decode(serial).map(ClientCertificate.serialHex) ?? serial)] = try row.text("reason")
                }
            }
            return RegistrySnapshot(
                documents: entries.map(\.document), records: records, facts: facts, agencies: agencies,
                agencyExtensions: try Self.agencyExtensions(session), certificateRevocations: revocations,
                activeByOneOperator: entries.filter { !$0.twoPersonRule && $0.document.status == .active }.count,
                agencyKeysByOneOperator: try Self.keysPinnedByOneOperator(session, agencies: agencies, revokedSPKIs: Set(revocations.keys)).count,
                version: version
            )
        }
    }

    /// The admin records about one target, oldest first.
    public func history(target: String) throws -> [AdminRecord] {
        try database.read { session in
            var history: [AdminRecord] = []
            try session.forEach("SELECT entry FROM log WHERE kind = 'admin' ORDER BY seq") { row in
                if let record = try AdminRecord.concerning(target, entry: row.text("entry")), record.target == target { history.append(record) }
            }
            return history
        }
    }

    // MARK: Settings

    /// The time zone in which document expiry dates end, as the gateway last recorded it from its policy.
    static func recordedTimeZone(_ database: any SQLDatabase, waitingAtMost milliseconds: Int? = nil) throws -> TimeZone? {
        try database.read { session in
            try session.waitForLocks(atMost: milliseconds)
            return try session.scalarText("SELECT value FROM settings WHERE key = 'time-zone'").flatMap(TimeZone.init(identifier:))
        }
    }

    /// The time zone the store records (see ``recordTimeZone(operator:at:)``), if any. On PostgreSQL, waiting at most
    /// `milliseconds` (if given) for a lock another session holds on the settings.
    public func recordedTimeZone(waitingAtMost milliseconds: Int? = nil) throws -> TimeZone? {
        try Self.recordedTimeZone(database, waitingAtMost: milliseconds)
    }

    /// This registry, placing expiry dates in `zone`.
    public func inTimeZone(_ zone: TimeZone) -> Registry {
        Registry(database: database, timeZone: zone)
    }

    /// Records the policy's time zone, in which document expiry dates end. When it changes (or is recorded for the
    /// first time), the expiry instant of every active or pending document that has not yet passed at `time` is
    /// recomputed in it, in the same transaction, and an admin record says so (unless the first zone is recorded in a
    /// store with an empty log, over no document);
    /// one that has passed stays passed, to be expired. The registry's version moves, so gateways pick the new
    /// instants up. (In PostgreSQL the store recomputes them too, whoever writes the zone: see ``PostgresSchema``.)
    public func recordTimeZone(operator: String = "system", at time: Date = Date(), waitingAtMost milliseconds: Int? = nil) throws {
        let name = try operatorName(`operator`).text
        try write { session in
            try session.waitForLocks(atMost: milliseconds)
            try recordTimeZone(session, operator: name, at: time)
        }
    }

    /// ``recordTimeZone(operator:at:waitingAtMost:)`` within `session`'s write transaction.
    func recordTimeZone(_ session: any SQLSession, operator name: String, at time: Date) throws {
        let previous = try session.scalarText("SELECT value FROM settings WHERE key = 'time-zone'")
        guard previous != timeZone.identifier else { return }
        // Read before the zone is written, which in PostgreSQL recomputes the instants itself.
        var moved: [(reference: String, end: Double)] = []
        let due = "SELECT reference, expires, expires_at FROM documents WHERE status IN ('active', 'pending') AND expires_at > ? ORDER BY reference"
        for row in try session.fetchAll(due, time.timeIntervalSince1970) {
            // A date stored before dates were checked (year 0) is left as it is: it ended long ago.
            guard let day = LocalDate(try row.text("expires")) else { continue }
            let end = day.end(in: timeZone).timeIntervalSince1970
            if end != (try row.double("expires_at")) { moved.append((try row.text("reference"), end)) }
        }
        try session.execute(
            "INSERT INTO settings (key, value) VALUES ('time-zone', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", timeZone.identifier
        )
        for (reference, end) in moved {
            try session.execute("UPDATE documents SET expires_at = ? WHERE reference = ?", end, reference)
        }
        // Reports take their months' midnights from the zone, and the settings table is signed by nothing: the first
        // zone is logged too, unless it is setting up a store with an empty log and no document (which a migration
        // must still find empty).
        guard try previous != nil || !moved.isEmpty || session.logSize() > 0 else { return }
        var details = ["value": timeZone.identifier, "expiryRecomputed": moved.map(\.reference).joined(separator: ",")]
        details["previous"] = previous
        try Self.appendAdmin(session, AdminRecord(
            time: Timestamp.format(time), operator: name, action: "settings.time-zone", target: "time-zone", details: details
        ))
    }

    /// Records the facts the gateway's policy lets the registry hold (``Policy/settableFacts``), which ``setFact``
    /// then accepts, if they changed. On PostgreSQL, waiting at most `milliseconds` (if given) for a lock another
    /// session holds on the settings.
    public func recordSettableFacts(_ facts: [String: FactDeclaration], waitingAtMost milliseconds: Int? = nil) throws {
        let text = FactDeclaration.encoded(facts)
        try write { session in
            try session.waitForLocks(atMost: milliseconds)
            guard try session.scalarText("SELECT value FROM settings WHERE key = 'settable-facts'") != text else { return }
            try session.execute("INSERT INTO settings (key, value) VALUES ('settable-facts', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", text)
        }
    }

    /// Whether a registration needs a second operator's approval (on unless turned off).
    /// On PostgreSQL, waiting at most `milliseconds` (if given) for a lock another session holds on the settings.
    public func twoPersonRule(waitingAtMost milliseconds: Int? = nil) throws -> Bool {
        try database.read { session in
            try session.waitForLocks(atMost: milliseconds)
            return try session.scalarText("SELECT value FROM settings WHERE key = 'two-person-rule'") != "off"
        }
    }

    /// The action of the record of a request to turn the two-person rule off.
    static let twoPersonRuleOffRequestAction = "settings.two-person-rule.requested"

    /// How long a request to turn the two-person rule off waits for a second operator.
    public static let twoPersonRuleOffRequestLifetime: TimeInterval = 24 * 3600

    /// What ``setTwoPersonRule(_:reason:operator:at:)`` did.
    public enum TwoPersonRuleChange: Sendable, Equatable {
        /// The rule is now as asked (or already was).
        case set
        /// Turning it off waits for a second operator to ask the same within ``twoPersonRuleOffRequestLifetime``.
        case requested
    }

    /// Turns the two-person rule on or off; the change and its reason are logged. Turning it on takes effect at once.
    /// Turning it off is the rule's own business: one operator alone may do it only while the store is set up (it holds
    /// no document, agency or agency request: a one-person office turns it off before its first registration);
    /// otherwise the first operator's request is recorded, and it takes effect when a second person (by name and by
    /// login, as an approval's, ``requireSecondPerson(_:after:account:did:done:)``) asks the same within
    /// ``twoPersonRuleOffRequestLifetime``.
    @discardableResult
    public func setTwoPersonRule(_ on: Bool, reason: String, operator: String, at time: Date = Date()) throws -> TwoPersonRuleChange {
        try requireText(reason, "a reason")
        try refuseImmigrationStatus(reason, "a reason")
        let name = try operatorName(`operator`)
        return try write { session in
            var details = ["value": on ? "on" : "off", "reason": reason]
            let isOn = try session.scalarText("SELECT value FROM settings WHERE key = 'two-person-rule'") != "off"
            if try !on && isOn && !Self.isSettingUp(session) {
                let request = try session.scalarText("SELECT value FROM settings WHERE key = 'two-person-rule-off-request'").flatMap(OffRequest.init)
                guard let request, time.timeIntervalSince(request.time) <= Self.twoPersonRuleOffRequestLifetime,
                      request.time <= time.addingTimeInterval(Self.clockSkew)
                else {
                    try session.execute(
                        "INSERT INTO settings (key, value) VALUES ('two-person-rule-off-request', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        OffRequest(operator: name.text, account: ProcessAccount.current, time: time).text
                    )
                    try Self.appendAdmin(session, AdminRecord(
                        time: Timestamp.format(time), operator: name.text, action: Self.twoPersonRuleOffRequestAction, target: "two-person-rule", details: details
                    ))
                    return .requested
                }
                // A request is the CLI's, with its record in the log: one written in SQL alone would read as another
                // person's.
                guard let record = try Self.latestRecord(session, action: Self.twoPersonRuleOffRequestAction, target: "two-person-rule"),
                      record.operator == request.operator, record.account == request.account, record.time == Timestamp.format(request.time)
                else {
                    throw StoreError("the request to turn the two-person rule off has no record in the log that matches it: it was not made by the CLI")
                }
                try Self.requireSecondPerson(
                    name, after: request.operator, account: request.account,
                    did: "asked to turn the two-person rule off", done: "turning the two-person rule off was asked"
                )
                details["requestedBy"] = request.operator
            }
            // The record first: on PostgreSQL, the setting turns off only as the transaction's last entry records it.
            try Self.appendAdmin(session, AdminRecord(
                time: Timestamp.format(time), operator: name.text, action: "settings.two-person-rule", target: "two-person-rule", details: details
            ))
            try session.execute("UPDATE settings SET value = '' WHERE key = 'two-person-rule-off-request'")
            try session.execute(
                "INSERT INTO settings (key, value) VALUES ('two-person-rule', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", on ? "on" : "off"
            )
            return .set
        }
    }

    /// A pending request to turn the two-person rule off, as the settings table keeps it: its time, the process account
    /// that made it and the operator's name, a line each.
    private struct OffRequest {
        let `operator`: String
        let account: String
        let time: Date

        init(operator: String, account: String, time: Date) {
            self.operator = `operator`
            self.account = account
            self.time = time
        }

        init?(_ text: String) {
            let lines = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
            guard lines.count == 3, let seconds = Double(lines[0]) else { return nil }
            self.init(operator: String(lines[2]), account: String(lines[1]), time: Date(timeIntervalSince1970: seconds))
        }

        var text: String { "\(time.timeIntervalSince1970)\n\(account)\n\(`operator`)" }
    }

    /// Whether the store is being set up: it holds no document, agency or agency request yet.
    private static func isSettingUp(_ session: any SQLSession) throws -> Bool {
        try session.fetchOne("""
            SELECT 1 AS held FROM documents UNION ALL SELECT 1 FROM agencies UNION ALL SELECT 1 FROM agency_requests LIMIT 1
            """) == nil
    }

    /// Appends an admin record on its own (for actions such as exports).
    public func recordAdminAction(_ action: String, target: String, details: [String: String], operator: String, at time: Date = Date()) throws {
        let `operator` = try operatorName(`operator`).text
        try write { session in
            try Self.appendAdmin(session, AdminRecord(time: Timestamp.format(time), operator: `operator`, action: action, target: target, details: details))
        }
    }

    // MARK: Helpers

    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        do {
            return try database.write(body)
        } catch let error as StoreError {
            throw error
        } catch let error as RegistrationError {
            throw error
        } catch {
            throw StoreError("the database refused the change: \(StoreDatabase.describe(error))")
        }
    }

    /// Refuses an empty `text`, or one holding a character ``FreeText`` refuses; `what` names it in the error.
    func requireText(_ text: String, _ what: String) throws {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw StoreError("\(what) is required") }
        try checkText(text, what)
    }

    /// Refuses a `text`, if any, that names or states immigration or citizenship status (``ImmigrationStatusTerms``):
    /// what the registry records goes into the append-only log, which audit bundles carry, so status collected there
    /// could never be taken back.
    func refuseImmigrationStatus(_ text: String?, _ what: String) throws {
        guard let text, let term = ImmigrationStatusTerms.stem(in: text) else { return }
        throw StoreError("\(what) may not name or state immigration or citizenship status ('\(term)'): the county may not collect it")
    }

    /// Refuses a `text`, if any, holding a character ``FreeText`` refuses.
    func checkText(_ text: String?, _ what: String) throws {
        if let text, let problem = FreeText.problem(text, field: what) { throw StoreError(problem) }
    }

    /// The operator name to record, or an error saying why `typed` is not one (see ``OperatorName``).
    func operatorName(_ typed: String) throws -> OperatorName {
        do { return try OperatorName(typed) } catch { throw StoreError(error.description) }
    }

    /// Appends `record`, with the account of this process (``ProcessAccount``), to the log. Its details are written as
    /// free text is printed (``FreeText/escaped(_:)``): a file's path, which the operator's shell took as typed, or a
    /// certificate's name cannot put a control, bidi or invisible character in the log.
    static func appendAdmin(_ session: any SQLSession, _ record: AdminRecord) throws {
        var record = record
        record.account = ProcessAccount.current
        record.details = record.details.mapValues(FreeText.escaped)
        try session.appendLog([.init(kind: "admin", time: record.time, decisionId: nil, entry: record.canonical)])
    }

    static func entry(_ row: SQLRow) throws -> DocumentEntry {
        guard let kind = DocumentKind(rawValue: try row.text("kind")), let status = DocumentStatus(rawValue: try row.text("status")) else {
            throw StoreError("the documents table holds an unknown kind or status")
        }
        let document = RegisteredDocument(
            reference: try row.text("reference"), kind: kind, status: status, agency: try row.text("agency"),
            subjects: try decodeList(row.text("subjects")), scope: try decodeList(row.text("scope")), expires: try row.text("expires"),
            expiresAt: Date(timeIntervalSince1970: try row.double("expires_at")), court: try row.optionalText("court"),
            judge: try row.optionalText("judge"), caseNumber: try row.optionalText("case_number"),
            documentSHA256: try row.optionalText("document_sha256"), registeredAt: Timestamp.parse(try row.text("registered_at")),
            signature: try signature(row)
        )
        return DocumentEntry(
            document: document, registeredBy: try row.text("registered_by"), registeredAt: try row.text("registered_at"),
            twoPersonRule: try row.bool("two_person_rule"), approvedBy: try row.optionalText("approved_by"),
            approvedAt: try row.optionalText("approved_at"), statusReason: try row.optionalText("status_reason"),
            supersededBy: try row.optionalText("superseded_by"), noDocumentReason: try row.optionalText("no_document_reason")
        )
    }

    /// The signature columns of a `documents` row.
    static func signature(_ row: SQLRow) throws -> RecordedSignature {
        guard let status = RecordedSignature.Status(rawValue: try row.text("signature_status")) else {
            throw StoreError("the documents table holds an unknown signature status")
        }
        func time(_ column: String) throws -> Date? { try row.optionalText(column).flatMap(Timestamp.parse) }
        return RecordedSignature(
            status: status, reason: try row.optionalText("signature_reason"), signerSubject: try row.optionalText("signer_subject"),
            signerSHA256: try row.optionalText("signer_sha256"), court: try row.optionalText("signature_court"),
            claimedSigningTime: try time("signing_time_claimed"), provenSigningTime: try time("signing_time_proven"),
            timestampAuthority: try row.optionalText("signing_time_authority"), checkedAt: try time("signature_checked_at")
        )
    }

    static func subjectRecord(_ row: SQLRow) throws -> SubjectRecord {
        guard let kind = SubjectRecordKind(rawValue: try row.text("kind")) else { throw StoreError("the subject_records table holds an unknown kind") }
        return SubjectRecord(
            subject: try row.text("subject"), kind: kind, givenBy: try row.text("given_by"),
            givenAt: Date(timeIntervalSince1970: try row.double("given_at")), language: try row.optionalText("language"),
            attorneyRequired: try row.bool("attorney_required"), scope: try decodeList(row.text("scope"))
        )
    }

    static func agency(_ row: SQLRow) throws -> Agency {
        guard let category = AgencyCategory(rawValue: try row.text("category")) else {
            throw StoreError("the agencies table holds a category that is not a name")
        }
        return Agency(id: try row.text("id"), name: try row.text("name"), category: category, spkiPins: Set(try decodeList(row.text("spki_pins"))))
    }

    static func encodeList(_ list: [String]) -> String {
        String(decoding: try! JSONEncoder().encode(list), as: UTF8.self)
    }

    static func decodeList(_ text: String) throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }
}
