import Foundation

/// What the legal unit gives to register a document, before validation.
public struct DocumentRegistration: Sendable {
    public var reference: String
    public var kind: DocumentKind
    public var agency: String
    public var subjects: [String]
    public var scope: [String]
    public var expires: String
    public var court: String?
    public var judge: String?
    public var caseNumber: String?
    public var documentSHA256: String?
    /// Which document the scan is (``DocumentIdentity``), which a copy of it shares; nil when it was not read, and
    /// then read later from the stored scan.
    public var documentIdentity: String?
    /// Why a judicial document is registered without a scan (required when there is no digest).
    public var noDocumentReason: String?
    /// The scan's digital signature as checked before registering (`unchecked` if it was not).
    public var signature: RecordedSignature
    /// The reference of a revoked, misfiled document (``RegisteredDocument/isMisfiled``) that this one registers again
    /// as the paper says: its scan, which one scan's one document would otherwise refuse, may be that one's.
    public var corrects: String?

    public init(
        reference: String, kind: DocumentKind, agency: String, subjects: [String], scope: [String], expires: String,
        court: String? = nil, judge: String? = nil, caseNumber: String? = nil, documentSHA256: String? = nil, documentIdentity: String? = nil,
        noDocumentReason: String? = nil, signature: RecordedSignature = .unchecked, corrects: String? = nil
    ) {
        self.reference = reference
        self.kind = kind
        self.agency = agency
        self.subjects = subjects
        self.scope = scope
        self.expires = expires
        self.court = court
        self.judge = judge
        self.caseNumber = caseNumber
        self.documentSHA256 = documentSHA256
        self.documentIdentity = documentIdentity
        self.noDocumentReason = noDocumentReason
        self.signature = signature
        self.corrects = corrects
    }

    /// Checks the registration at `time` and returns the document to store (with the given status), or throws naming
    /// everything that is wrong. `expires` is the document's last day, `YYYY-MM-DD`, in force to its end in `timeZone`
    /// (a time of day would be read as its whole day); a day that has ended is refused.
    public func validated(timeZone: TimeZone, status: DocumentStatus = .active, at time: Date) throws(RegistrationError) -> RegisteredDocument {
        var problems: [String] = []
        if !Identifier.isValidReference(reference) { problems.append("--reference must be letters, digits, '-', '_', '.' or '/' (at most 128)") }
        if !Identifier.isValid(agency) { problems.append("--agency must be an agency id such as ice-ero") }
        if subjects.isEmpty { problems.append("--subject must name at least one booking number") }
        for subject in subjects where !Identifier.isValidReference(subject) { problems.append("'\(subject)' is not a booking number") }
        if scope.isEmpty { problems.append("--scope must name at least one action, such as records.read") }
        for entry in scope where !ScopeEntry(entry).isValid {
            problems.append("'\(entry)' is not an action such as records.read, or an action and one field such as records.release-date#scheduledRelease")
        }
        problems += RegisteredDocument.scopeProblems(kind: kind, scope: scope)
        let expiry = LocalDate(expires).flatMap { LocalDate.years.contains($0.year) ? $0 : nil }
        if let expiry, expiry.end(in: timeZone) <= time {
            problems.append("--expires \(expiry) has ended in \(timeZone.identifier): a document registered now must be in force")
        } else if expiry == nil {
            problems.append(
                "--expires must be the document's last day, YYYY-MM-DD, a date that exists in "
                    + "\(LocalDate.years.lowerBound)–\(LocalDate.years.upperBound): it is in force to the end of that day in "
                    + "\(timeZone.identifier) (got '\(FreeText.escaped(expires))')"
            )
        }
        for (field, value) in [("--court", court), ("--judge", judge), ("--case", caseNumber), ("--no-document", noDocumentReason)] {
            if let value, let problem = FreeText.problem(value, field: field) { problems.append(problem) }
        }
        // An ICE form or an immigration court's order filed under a judicial kind would authorise what no judge ordered.
        problems += ExecutiveIssuers.problems(kind: kind, court: court, judge: judge, caseNumber: caseNumber)
        if kind.isJudicial {
            if court?.isEmpty ?? true { problems.append("a \(kind.rawValue) needs --court (the court that issued it)") }
            if judge?.isEmpty ?? true { problems.append("a \(kind.rawValue) needs --judge (the judge or magistrate who signed it)") }
            if caseNumber?.isEmpty ?? true { problems.append("a \(kind.rawValue) needs --case (the court's case number)") }
            if documentSHA256 == nil && (noDocumentReason?.trimmingCharacters(in: .whitespaces).isEmpty ?? true) {
                problems.append("a \(kind.rawValue) needs --document FILE (a scan of the signed document), or --no-document REASON")
            }
        }
        if let digest = documentSHA256, Hex.decode(digest)?.count != 32 { problems.append("the document digest is not a SHA-256") }
        if let identity = documentIdentity, Hex.decode(identity)?.count != 32 { problems.append("the document identity is not a SHA-256") }
        if documentSHA256 == nil && documentIdentity != nil { problems.append("a document identity was given, but no document is registered") }
        if documentSHA256 == nil && [.verified, .unverified].contains(signature.status) {
            problems.append("a signature was checked, but no document is registered")
        }
        guard problems.isEmpty, let expiry else { throw RegistrationError(problems: problems) }
        return RegisteredDocument(
            reference: reference, kind: kind, status: status, agency: agency, subjects: subjects, scope: scope,
            expires: expiry.description, expiresAt: expiry.end(in: timeZone), court: court, judge: judge, caseNumber: caseNumber,
            documentSHA256: documentSHA256, signature: signature
        )
    }
}

/// A registration that cannot be accepted, with every problem found.
public struct RegistrationError: Error, Sendable, CustomStringConvertible {
    public let problems: [String]
    public var description: String { "cannot register: " + problems.joined(separator: "; ") }
}
