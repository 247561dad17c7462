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

    public init(
        reference: String, kind: DocumentKind, agency: String, subjects: [String], scope: [String], expires: String,
        court: String? = nil, judge: String? = nil, caseNumber: String? = nil, documentSHA256: String? = nil
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
    }

    /// Checks the registration and returns the document to store, or throws naming everything that is wrong.
    public func validated(timeZone: TimeZone) throws(RegistrationError) -> RegisteredDocument {
        var problems: [String] = []
        if !Identifier.isValidReference(reference) { problems.append("--reference must be letters, digits, '-', '_', '.' or '/' (at most 128)") }
        if !Identifier.isValid(agency) { problems.append("--agency must be an agency id such as ice-ero") }
        if subjects.isEmpty { problems.append("--subject must name at least one booking number") }
        for subject in subjects where !Identifier.isValidReference(subject) { problems.append("'\(subject)' is not a booking number") }
        if scope.isEmpty { problems.append("--scope must name at least one action, such as records.read") }
        for action in scope where !ActionPattern.isValid(action) { problems.append("'\(action)' is not an action such as records.read") }
        let expiry = LocalDate(expires)
        if expiry == nil { problems.append("--expires must be a date of the form YYYY-MM-DD (got '\(expires)')") }
        if kind.isJudicial {
            if court?.isEmpty ?? true { problems.append("a \(kind.rawValue) needs --court (the court that issued it)") }
            if judge?.isEmpty ?? true { problems.append("a \(kind.rawValue) needs --judge (the judge or magistrate who signed it)") }
        }
        if let digest = documentSHA256, Hex.decode(digest)?.count != 32 { problems.append("the document digest is not a SHA-256") }
        guard problems.isEmpty, let expiry else { throw RegistrationError(problems: problems) }
        return RegisteredDocument(
            reference: reference, kind: kind, status: .active, agency: agency, subjects: subjects, scope: scope,
            expires: expiry.description, expiresAt: expiry.end(in: timeZone), court: court, judge: judge, caseNumber: caseNumber,
            documentSHA256: documentSHA256
        )
    }
}

/// A registration that cannot be accepted, with every problem found.
public struct RegistrationError: Error, Sendable, CustomStringConvertible {
    public let problems: [String]
    public var description: String { "cannot register: " + problems.joined(separator: "; ") }
}
