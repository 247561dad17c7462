import Foundation
import WarrantGateCore

/// Filters for listing documents.
public struct DocumentFilter: Sendable {
    public var status: DocumentStatus?
    public var agency: String?
    public var subject: String?
    public var kind: DocumentKind?
    /// Only active or pending documents that expire within this many seconds from now.
    public var expiringWithin: TimeInterval?

    public init(status: DocumentStatus? = nil, agency: String? = nil, subject: String? = nil, kind: DocumentKind? = nil, expiringWithin: TimeInterval? = nil) {
        self.status = status
        self.agency = agency
        self.subject = subject
        self.kind = kind
        self.expiringWithin = expiringWithin
    }
}

/// The document lifecycle: register, approve (two-person rule), revoke, supersede, expire.
extension Registry {
    /// Registers a document: pending until a second operator approves it, or active at once when the two-person
    /// rule is off (the log records that it was off). Its expiry ends in this registry's time zone, which must be
    /// the one recorded, if any (see ``recordTimeZone(operator:at:)``); with `recordingTimeZone`, a store that records
    /// none records it in the registration's transaction, so that a refused registration records nothing.
    public func register(
        _ registration: DocumentRegistration, operator: String, at time: Date = Date(), recordingTimeZone: Bool = false
    ) throws -> RegisteredDocument {
        let `operator` = try operatorName(`operator`).text
        let twoPerson = try twoPersonRule()
        let document = try registration.validated(timeZone: timeZone, status: twoPerson ? .pending : .active, at: time)
        let signature = document.signature
        try write { session in
            let recorded = try session.scalarText("SELECT value FROM settings WHERE key = 'time-zone'")
            if let recorded, recorded != timeZone.identifier {
                throw StoreError("the recorded time zone is now \(recorded), not \(timeZone.identifier): register again")
            }
            if recorded == nil, recordingTimeZone { try recordTimeZone(session, operator: `operator`, at: time) }
            // One that differs from a registered reference only as people misread or retype one (letter case, O for 0,
            // separators, leading zeros) would be taken for it by those who handle them, while the gateway matches
            // `Warrant-Reference` exactly.
            if session.dialect == .postgres {
                try session.execute("SELECT pg_advisory_xact_lock(\(PostgresLock.lockClass), \(PostgresLock.registration.rawValue))", [SQLValue]())
            }
            let key = Identifier.referenceKey(document.reference)
            // Against documents in force or pending only: a revoked typo must not keep the right number out.
            if try session.fetchOne("SELECT reference FROM documents WHERE reference = ?", document.reference) != nil {
                throw StoreError("a document with reference \(document.reference) is already registered")
            }
            // One scan is one document: a quashed warrant's scan must not come back under another reference or subjects,
            // nor a copy of it changed only where its signature does not reach (its identity, see DocumentIdentity).
            // Only a correction of a misfiled document, revoked, registers its scan again.
            let corrected = try registration.corrects.map {
                try Self.correctable(session, $0, agency: document.agency, digest: document.documentSHA256)
            }
            if let digest = document.documentSHA256, let same = try session.fetchAll(
                "SELECT reference, status, document_sha256 FROM documents WHERE document_sha256 = ? OR identity_sha256 = ?",
                digest, registration.documentIdentity ?? digest
            ).first(where: { try $0.text("reference") != corrected }) {
                let registered = "\(try same.text("reference")) (\(try same.text("status")))"
                throw StoreError(try same.optionalText("document_sha256") == digest ? """
                    this scan (sha256:\(digest)) is already registered, as \(registered): a scan is one document; a renewed or corrected \
                    one is a new scan
                    """ : """
                    this scan (sha256:\(digest)) is a copy of the one registered as \(registered): what its signature signed is the same \
                    (identity sha256:\(registration.documentIdentity ?? digest)), and only what the signature does not cover differs \
                    (whitespace or validation data appended, a later signature added or taken off, its own hexadecimal rewritten); a \
                    renewed or corrected warrant is a new signed document
                    """)
            }
            let registered = try session.fetchAll("SELECT reference FROM documents WHERE status IN ('active', 'pending')", [SQLValue]())
                .compactMap { try $0.optionalText("reference") }
            if let twin = registered.first(where: { Identifier.referenceKey($0) == key }) {
                throw StoreError("""
                    a document with reference \(twin) is in force or pending: \(document.reference) reads as the same (letter case, O for 0, \
                    separators, leading zeros); revoke it first if it was registered by mistake
                    """)
            }
            var details = ["status": document.status.rawValue, "twoPersonRule": twoPerson ? "on" : "off"]
            for (key, value) in Self.recordedTerms(document) { details[key] = value }
            details["noDocumentReason"] = registration.noDocumentReason
            details["corrects"] = corrected
            details.merge(signature.logDetails) { kept, _ in kept }
            // The record first: on PostgreSQL, a document is inserted only behind its record, as the log's last entry.
            try Self.appendAdmin(session, AdminRecord(time: Timestamp.format(time), operator: `operator`, action: Self.registrationAction, target: document.reference, details: details))
            try session.execute(
                """
                INSERT INTO documents (reference, kind, status, agency, subjects, scope, expires, expires_at, court, judge,
                    case_number, document_sha256, identity_sha256, no_document_reason, registered_by, registered_at, two_person_rule,
                    signature_status, signature_reason, signer_subject, signer_sha256, signature_court, signing_time_claimed,
                    signing_time_proven, signing_time_authority, signature_checked_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                document.reference, document.kind.rawValue, document.status.rawValue, document.agency,
                Self.encodeList(document.subjects), Self.encodeList(document.scope), document.expires,
                document.expiresAt.timeIntervalSince1970, document.court, document.judge, document.caseNumber,
                document.documentSHA256, registration.documentIdentity, registration.noDocumentReason, `operator`, Timestamp.format(time), twoPerson,
                signature.status.rawValue, signature.reason, signature.signerSubject, signature.signerSHA256, signature.court,
                signature.claimedSigningTime.map(Timestamp.format), signature.provenSigningTime.map(Timestamp.format),
                signature.timestampAuthority, signature.checkedAt.map(Timestamp.format)
            )
        }
        return document
    }

    /// Records the identity (``DocumentIdentity``) of each document registered with a scan whose identity was not
    /// read (before identities were recorded, or without one), from its scan in `scans`, so that a copy of it is
    /// refused as it is; returns how many. The scans are read outside any transaction, each checked against its
    /// registered digest. Throws naming a scan that is missing or is not the one registered: a copy of it could not be
    /// told.
    @discardableResult
    public func identifyScans(in scans: DocumentStore) throws -> Int {
        let unread = try database.read { session in
            try session.fetchAll("SELECT reference, document_sha256 FROM documents WHERE document_sha256 IS NOT NULL AND identity_sha256 IS NULL", [SQLValue]())
                .map { (reference: try $0.text("reference"), digest: try $0.text("document_sha256")) }
        }
        let identified = try unread.map { reference, digest in
            // A digest names a file in the store only as a SHA-256: a row written behind the CLI's back names no other.
            guard Hex.decode(digest)?.count == 32 else { throw StoreError("the registered digest of \(reference) is not a SHA-256") }
            let scan: Data
            do {
                scan = try DocumentStore.read(path: scans.directory.appendingPathComponent(digest).path)
            } catch let error as PrivateFileError {
                throw StoreError("""
                    the scan of \(reference) (sha256:\(digest)) cannot be read (\(error.message)): restore it (a backup holds it), so that a \
                    copy of it can be told
                    """)
            }
            guard DocumentStore.digest(of: scan) == digest else {
                throw StoreError("the scan of \(reference) in \(scans.directory.path) is not the one registered (sha256:\(digest)): restore it from a backup")
            }
            return (reference, digest, DocumentIdentity.digest(of: [UInt8](scan)))
        }
        guard !identified.isEmpty else { return 0 }
        try write { session in
            for (reference, digest, identity) in identified {
                try session.execute(
                    "UPDATE documents SET identity_sha256 = ? WHERE reference = ? AND document_sha256 = ? AND identity_sha256 IS NULL",
                    identity, reference, digest
                )
            }
        }
        return identified.count
    }

    /// Activates a pending document. Under the two-person rule the approver must not be the registrant. With
    /// `terms`, only if they are the document's ``RegisteredDocument/termsFingerprint``: the terms the approver reviewed.
    public func approve(reference: String, operator: String, terms: String? = nil, at time: Date = Date()) throws {
        let approver = try operatorName(`operator`)
        let `operator` = approver.text
        try write { session in
            // The row is locked before it is read, and before the record takes the log's frontier, in the order
            // revocation and expiry take them.
            if session.dialect == .postgres {
                try session.execute("SELECT reference FROM documents WHERE reference = ? FOR UPDATE", reference)
            }
            let entry = try Self.requireEntry(session, reference)
            guard entry.document.status == .pending else {
                throw StoreError("\(reference) is \(entry.document.status.rawValue), not pending: only a pending document can be approved")
            }
            // One registered before registration refused it may be an ICE form or an immigration court's order filed
            // under a judicial kind, or carry a scope no paper has: approved, it would authorise what no judge ordered.
            let misfilings = entry.document.misfilings
            guard misfilings.isEmpty else {
                throw StoreError("\(reference) cannot be approved: \(misfilings.joined(separator: "; ")); revoke it")
            }
            if let terms, terms.lowercased() != entry.document.termsFingerprint {
                throw StoreError("""
                    --terms \(FreeText.escaped(terms)) are not the terms of \(reference) (\(entry.document.termsFingerprint)): review what \
                    `warrant show \(reference)` prints against the signed document before approving
                    """)
            }
            if entry.twoPersonRule {
                // The registration is the CLI's, with its record in the log: without it (written in SQL alone, or its
                // record archived), only the names typed would tell the two people apart. The record must name the
                // terms the row holds, as an agency request's must.
                guard let record = try Self.latestRecord(session, action: Self.registrationAction, target: reference),
                      record.operator == entry.registeredBy, Self.recordedTerms(entry.document).allSatisfy({ record.details[$0.key] == $0.value })
                else {
                    throw StoreError(
                        "\(reference) has no \(Self.registrationAction) record in the log that matches it (it was not registered by the CLI, or its record was archived): revoke it and register it again"
                    )
                }
                try Self.requireSecondPerson(
                    approver, after: entry.registeredBy, account: record.account, did: "registered \(reference)", done: "\(reference) was registered"
                )
            }
            guard entry.document.expiresAt > time else { throw StoreError("\(reference) expired on \(entry.document.expires) and cannot be approved") }
            // The record first: on PostgreSQL, the approval must follow its record as the log's last entry.
            try Self.appendAdmin(session, AdminRecord(
                time: Timestamp.format(time), operator: `operator`, action: "warrant.approve", target: reference,
                details: [
                    "registeredBy": entry.registeredBy, "twoPersonRule": entry.twoPersonRule ? "on" : "off",
                    "terms": entry.document.termsFingerprint,
                ]
            ))
            try session.execute(
                "UPDATE documents SET status = 'active', approved_by = ?, approved_at = ? WHERE reference = ?", `operator`, Timestamp.format(time), reference
            )
        }
    }

    /// The terms a document's registration record states, by their keys in its details (nil: not stated), none of
    /// which any command changes after registration: what approval checks the row against.
    static func recordedTerms(_ document: RegisteredDocument) -> [(key: String, value: String?)] {
        [
            ("kind", document.kind.rawValue), ("agency", document.agency), ("subjects", document.subjects.joined(separator: ",")),
            ("scope", document.scope.joined(separator: ",")), ("expires", document.expires), ("court", document.court),
            ("judge", document.judge), ("case", document.caseNumber), ("documentSHA256", document.documentSHA256),
        ]
    }

    /// The admin action that registers a document.
    static let registrationAction = "warrant.register"
    /// A `LIKE` pattern that every registration's admin entry matches (and few others).
    static let registrationEntries = entries(of: registrationAction)
    /// The admin action that revokes a document, and the pattern its entries match.
    static let revocationAction = "warrant.revoke"
    static let revocationEntries = entries(of: revocationAction)

    /// A `LIKE` pattern that every admin entry of `action` (an action name, without `%` or `_`) matches.
    static func entries(of action: String) -> String {
        "%\"action\":\"\(action)\"%"
    }

    /// The latest `action` record on `target`, if the log still holds it.
    static func latestRecord(_ session: any SQLSession, action: String, target: String) throws -> AdminRecord? {
        var latest: AdminRecord?
        try session.forEach(
            "SELECT entry FROM log WHERE kind = 'admin' AND entry LIKE ? ORDER BY seq DESC", Self.entries(of: action)
        ) { row in
            guard latest == nil, let record = try AdminRecord.concerning(target, entry: row.text("entry")) else { return }
            if record.action == action && record.target == target { latest = record }
        }
        return latest
    }

    /// Refuses `approver` as the second person after `first`, who `did` the first step (with the process `account`, if
    /// recorded): one operator by name (case, spacing, width and accents aside), or by the login the kernel recorded
    /// for both steps. `done` says the first step in the passive ("JW-1 was registered").
    static func requireSecondPerson(_ approver: OperatorName, after first: String, account: String?, did: String, done: String) throws {
        if approver.isSamePerson(as: first) {
            throw StoreError("\(approver.text) and \(first), who \(did), are one operator: the two-person rule needs a second one")
        }
        guard let first = account.map(ProcessAccount.loginIdentity) else { return }
        let approverLogin = ProcessAccount.loginIdentity(ProcessAccount.current)
        guard approverLogin.mayBeSamePerson(as: first) else { return }
        let who = if case .person(let uid, let host) = approverLogin, approverLogin == first {
            "by the person logged in as uid \(uid) on \(host), who is approving it now, whatever name each step typed"
        } else {
            "or is being approved, in a user namespace, where the login that tells two people apart can be made up"
        }
        throw StoreError("\(done) \(who): the two-person rule needs a second one, each in their own login")
    }

    /// Revokes an active or pending document. With `misfiled`, it is revoked as misfiled
    /// (``RegisteredDocument/isMisfiled``, which it must be), so that `warrant register --corrects` may register the
    /// paper again with its scan; a document revoked otherwise (quashed, say) never comes back.
    public func revoke(reference: String, reason: String, operator: String, misfiled: Bool = false, at time: Date = Date()) throws {
        try requireText(reason, "a revocation reason")
        try refuseImmigrationStatus(reason, "a revocation reason")
        let `operator` = try operatorName(`operator`).text
        try write { session in
            let entry = try Self.requireEntry(session, reference)
            let status = entry.document.status
            guard status == .active || status == .pending else {
                throw StoreError("\(reference) is \(status.rawValue) and cannot be revoked")
            }
            if misfiled, !entry.document.isMisfiled {
                throw StoreError("\(reference) is not misfiled: revoke it without --misfiled")
            }
            try session.execute("UPDATE documents SET status = 'revoked', status_reason = ? WHERE reference = ?", reason, reference)
            var details = ["reason": reason, "previousStatus": status.rawValue]
            if misfiled { details["misfiled"] = "yes" }
            try Self.appendAdmin(session, AdminRecord(
                time: Timestamp.format(time), operator: `operator`, action: Self.revocationAction, target: reference, details: details
            ))
        }
    }

    /// What a pending or registered document `reference` corrects (`warrant register --corrects`): the document, and
    /// the record of its revocation as misfiled; nil when it corrects none.
    public func correction(of reference: String) throws -> (corrects: String, revocation: AdminRecord?)? {
        try database.read { session in
            guard let corrects = try Self.latestRecord(session, action: Self.registrationAction, target: reference)?.details["corrects"] else {
                return nil
            }
            return (corrects, try Self.latestRecord(session, action: Self.revocationAction, target: corrects))
        }
    }

    /// Replaces an active document by a renewed one (registered, and approved, for the same agency).
    public func supersede(reference: String, by replacement: String, operator: String, at time: Date = Date()) throws {
        let `operator` = try operatorName(`operator`).text
        try write { session in
            let old = try Self.requireEntry(session, reference)
            let new = try Self.requireEntry(session, replacement)
            guard old.document.status == .active else { throw StoreError("\(reference) is \(old.document.status.rawValue): only an active document can be superseded") }
            guard new.document.status == .active else { throw StoreError("\(replacement) is \(new.document.status.rawValue): approve it before it supersedes \(reference)") }
            guard new.document.agency == old.document.agency else { throw StoreError("\(replacement) was issued to \(new.document.agency), not \(old.document.agency)") }
            guard reference != replacement else { throw StoreError("a document cannot supersede itself") }
            try session.execute(
                "UPDATE documents SET status = 'superseded', superseded_by = ?, status_reason = ? WHERE reference = ?",
                replacement, "superseded by \(replacement)", reference
            )
            try Self.appendAdmin(session, AdminRecord(
                time: Timestamp.format(time), operator: `operator`, action: "warrant.supersede", target: reference, details: ["by": replacement]
            ))
            try Self.appendAdmin(session, AdminRecord(
                time: Timestamp.format(time), operator: `operator`, action: "warrant.supersedes", target: replacement, details: ["replaces": reference]
            ))
        }
    }

    /// Marks documents whose expiry day has ended as expired, with a log record each. Returns their references.
    @discardableResult
    public func expireDue(at time: Date = Date()) throws -> [String] {
        let due = try database.read { session in
            try session.fetchAll(
                "SELECT reference FROM documents WHERE status IN ('active', 'pending') AND expires_at <= ?", time.timeIntervalSince1970
            ).map { try $0.text("reference") }
        }
        guard !due.isEmpty else { return [] }
        return try write { session in
            // A row another session holds (PostgreSQL) is left for a later sweep rather than waited for: the sweep
            // must not hold up the registry's refresh behind it.
            try session.waitForLocks(atMost: 200)
            var expired: [String] = []
            for reference in due {
                guard let entry = try Self.entry(session, reference), [.active, .pending].contains(entry.document.status),
                      entry.document.expiresAt <= time else { continue }
                // On PostgreSQL another session may change the row between the read above and this update, which then
                // waits for it and applies to the row it committed (another gateway's sweep expired it, a change of time
                // zone moved its end): only a row still active or pending, and still due, is expired.
                guard try session.fetchOne(
                    """
                    UPDATE documents SET status = 'expired', status_reason = ?
                    WHERE reference = ? AND status IN ('active', 'pending') AND expires_at <= ? RETURNING reference
                    """,
                    "expired at the end of \(entry.document.expires)", reference, time.timeIntervalSince1970
                ) != nil else { continue }
                try Self.appendAdmin(session, AdminRecord(
                    time: Timestamp.format(time), operator: "system", action: "warrant.expire", target: reference,
                    details: ["expires": entry.document.expires, "previousStatus": entry.document.status.rawValue]
                ))
                expired.append(reference)
            }
            return expired
        }
    }

    public func entries(_ filter: DocumentFilter = DocumentFilter(), now: Date = Date()) throws -> [DocumentEntry] {
        try database.read { session in
            try session.fetchAll("SELECT * FROM documents ORDER BY registered_at, reference").map(Self.entry).filter { entry in
                let document = entry.document
                if let status = filter.status, document.status != status { return false }
                if let agency = filter.agency, document.agency != agency { return false }
                if let subject = filter.subject, !document.subjects.contains(subject) { return false }
                if let kind = filter.kind, document.kind != kind { return false }
                if let within = filter.expiringWithin {
                    guard [.active, .pending].contains(document.status), document.expiresAt <= now.addingTimeInterval(within) else { return false }
                }
                return true
            }
        }
    }

    public func entry(reference: String) throws -> DocumentEntry? {
        try database.read { session in try Self.entry(session, reference) }
    }

    private static func entry(_ session: any SQLSession, _ reference: String) throws -> DocumentEntry? {
        try session.fetchOne("SELECT * FROM documents WHERE reference = ?", reference).map(entry)
    }

    /// `reference`, if a registration issued to `agency`, with the scan `digest` (if any), may correct it: a document of
    /// that agency, misfiled (``RegisteredDocument/isMisfiled``), revoked as such (`warrant revoke --misfiled`), and
    /// whose scan, if the registration gives one, is that one.
    private static func correctable(_ session: any SQLSession, _ reference: String, agency: String, digest: String?) throws -> String {
        let entry = try requireEntry(session, reference)
        guard entry.document.agency == agency else {
            throw StoreError("\(reference) was issued to \(entry.document.agency), not \(agency): a correction is of the same agency's paper")
        }
        guard entry.document.isMisfiled else {
            throw StoreError("\(reference) is not misfiled: --corrects registers again only a paper an earlier version registered as registration now refuses")
        }
        guard entry.document.status == .revoked, try latestRecord(session, action: revocationAction, target: reference)?.details["misfiled"] == "yes" else {
            throw StoreError("\(reference) was not revoked as misfiled: `warrant-gate warrant revoke \(reference) --misfiled` first (a paper revoked otherwise, quashed say, is not registered again)")
        }
        if let digest, entry.document.documentSHA256 != digest {
            throw StoreError("the scan given is not \(reference)'s: a correction registers the same paper again")
        }
        return reference
    }

    private static func requireEntry(_ session: any SQLSession, _ reference: String) throws -> DocumentEntry {
        guard let entry = try entry(session, reference) else { throw StoreError("no document with reference \(reference)") }
        return entry
    }
}
