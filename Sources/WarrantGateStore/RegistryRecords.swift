import Foundation
import WarrantGateCore

/// Records about inmates: advisements of rights, consents and written authorizations, and their withdrawals.
extension Registry {
    /// How far a record's time may be ahead of the clock of the host that records it.
    public static let clockSkew: TimeInterval = 300

    /// Records an advisement, consent, refusal, authorization or withdrawal given at `record.givenAt`, which must not
    /// be after `time` (give or take ``clockSkew`` for an advisement; for the others, not at all). The latest record
    /// about consent decides, and so does the latest about an authorization to share a field, so such a record must
    /// come after every other one of its kinds (``SubjectRecordKind/rankedWith``) about that inmate: an earlier one
    /// would be silently outranked, and one dated ahead would hold off a withdrawal recorded now.
    public func record(_ record: SubjectRecord, operator: String, at time: Date = Date()) throws {
        guard Identifier.isValidReference(record.subject) else { throw StoreError("'\(FreeText.escaped(record.subject))' is not a booking number") }
        try requireText(record.givenBy, "who gave or took it (--by)")
        try checkText(record.language, "--language")
        try refuseImmigrationStatus(record.givenBy, "--by")
        try refuseImmigrationStatus(record.language, "--language")
        if record.kind == .advisement { try requireText(record.language ?? "", "the language of the advisement (--language)") }
        if record.kind == .writtenAuthorization, record.scope.isEmpty {
            throw StoreError("a written authorization must say what may be shared (--fields)")
        }
        let `operator` = try operatorName(`operator`).text
        let ranked = record.kind.rankedWith
        guard record.givenAt <= time.addingTimeInterval(ranked.isEmpty ? Self.clockSkew : 0) else {
            throw StoreError("--at \(Timestamp.format(record.givenAt)) is in the future (it is now \(Timestamp.format(time)))")
        }
        try write { session in
            if !ranked.isEmpty {
                if let latest = try session.fetchAll(
                    "SELECT kind, given_at FROM subject_records WHERE subject = ? AND kind IN (\(ranked.map { _ in "?" }.joined(separator: ", "))) "
                        + "ORDER BY given_at DESC, id DESC LIMIT 1",
                    [.text(record.subject)] + ranked.map { .text($0.rawValue) }
                ).first, record.givenAt.timeIntervalSince1970 <= (try latest.double("given_at")) {
                    let given = Timestamp.format(Date(timeIntervalSince1970: try latest.double("given_at")))
                    let about = ranked.contains(.consent) ? "consent" : "an authorization"
                    throw StoreError(
                        "\(record.subject) has a \(try latest.text("kind")) record given at \(given), at or after --at \(Timestamp.format(record.givenAt)): "
                            + "a record about \(about) must be later than the latest one, which decides"
                    )
                }
            }
            if record.kind == .authorizationWithdrawn, !record.scope.isEmpty {
                // A withdrawal of a field no authorization names (a misspelling) would withdraw nothing, silently.
                let authorized = Set(try session.fetchAll(
                    "SELECT scope FROM subject_records WHERE subject = ? AND kind = ?", record.subject, SubjectRecordKind.writtenAuthorization.rawValue
                ).flatMap { row in try Self.decodeList(try row.text("scope")) }.map { $0.lowercased() })
                if let unknown = record.scope.first(where: { !authorized.contains($0.lowercased()) }) {
                    throw StoreError(
                        "no written authorization of \(record.subject) names '\(FreeText.escaped(unknown))' (they name: "
                            + "\(authorized.sorted().map(FreeText.escaped).joined(separator: ", "))): leave --fields out to withdraw every field"
                    )
                }
            }
            try session.execute(
                """
                INSERT INTO subject_records (subject, kind, given_by, given_at, language, attorney_required, scope, recorded_by, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                record.subject, record.kind.rawValue, record.givenBy, record.givenAt.timeIntervalSince1970, record.language,
                record.attorneyRequired, Self.encodeList(record.scope), `operator`, Timestamp.format(time)
            )
            var details = ["givenBy": record.givenBy, "givenAt": Timestamp.format(record.givenAt)]
            details["language"] = record.language
            if record.kind == .consent { details["attorneyRequired"] = record.attorneyRequired ? "yes" : "no" }
            if !record.scope.isEmpty { details["fields"] = record.scope.joined(separator: ",") }
            try Self.appendAdmin(session, AdminRecord(
                time: Timestamp.format(time), operator: `operator`, action: "\(record.kind.rawValue).record", target: record.subject, details: details
            ))
        }
    }

    public func records(subject: String) throws -> [SubjectRecord] {
        try database.read { session in
            try session.fetchAll("SELECT * FROM subject_records WHERE subject = ? ORDER BY given_at, id", subject).map(Self.subjectRecord)
        }
    }
}

/// Facts about inmates that policies turn on, such as a qualifying conviction class.
extension Registry {
    /// Refuses a fact `facts` does not declare, or a value it does not list; `declarer` says whose declarations.
    private static func checkDeclared(_ name: String, _ value: String, in facts: [String: FactDeclaration], by declarer: String) throws {
        guard let declaration = facts[name] else {
            let declared = facts.isEmpty ? "it declares none" : "declared: \(facts.keys.sorted().joined(separator: ", "))"
            throw StoreError("'\(name)' is not a fact \(declarer) declares (\(declared))")
        }
        if let problem = declaration.problem(with: value, of: name) { throw StoreError(problem) }
    }

    /// Sets (or replaces) a fact; the change, with the previous value, is logged. The fact must be one the gateway's
    /// policy declares, with one of its values (recorded by ``recordSettableFacts(_:waitingAtMost:)``), and one that
    /// `policyFacts` declares, when given (a policy file the operator names: the only check before a gateway has
    /// recorded its policy's): the registry holds what the rules test, never free text.
    public func setFact(
        subject: String, name: String, value: String, operator: String, at time: Date = Date(), policyFacts: [String: FactDeclaration]? = nil
    ) throws {
        guard Identifier.isValidReference(subject) else { throw StoreError("'\(subject)' is not a booking number") }
        guard Identifier.isValid(name) else { throw StoreError("fact name '\(name)' must be lower-case letters, digits and '-'") }
        try requireText(value, "a value")
        try refuseImmigrationStatus(name, "a fact's name")
        try refuseImmigrationStatus(value, "a fact's value")
        if let policyFacts { try Self.checkDeclared(name, value, in: policyFacts, by: "the policy given") }
        let `operator` = try operatorName(`operator`).text
        try write { session in
            if let recorded = try session.scalarText("SELECT value FROM settings WHERE key = 'settable-facts'") {
                guard let facts = FactDeclaration.decoded(recorded) else { throw StoreError("the store's record of the policy's facts cannot be read") }
                try Self.checkDeclared(name, value, in: facts, by: "the gateway's policy")
            } else if policyFacts == nil {
                throw StoreError("no gateway has recorded its policy's facts in this store yet: start the gateway with its policy, or name the policy file")
            }
            let previous = try session.scalarText("SELECT value FROM subject_facts WHERE subject = ? AND name = ?", subject, name)
            try session.execute(
                """
                INSERT INTO subject_facts (subject, name, value, set_by, set_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(subject, name) DO UPDATE SET value = excluded.value, set_by = excluded.set_by, set_at = excluded.set_at
                """,
                subject, name, value, `operator`, Timestamp.format(time)
            )
            var details = ["name": name, "value": value]
            details["previous"] = previous
            try Self.appendAdmin(session, AdminRecord(time: Timestamp.format(time), operator: `operator`, action: "subject.set-fact", target: subject, details: details))
        }
    }
}
