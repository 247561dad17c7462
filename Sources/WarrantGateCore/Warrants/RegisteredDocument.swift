import Foundation

/// A document registered by the legal unit: a warrant, court order, subpoena, or an ICE form kept on record.
public struct RegisteredDocument: Sendable, Equatable, Codable {
    public var reference: String
    public var kind: DocumentKind
    public var status: DocumentStatus
    /// The agency the document was issued to (the one allowed to present it).
    public var agency: String
    /// Booking numbers the document names.
    public var subjects: [String]
    /// Actions the document covers; `records.*` covers every action under `records.`.
    public var scope: [String]
    /// The last day the document is valid, `YYYY-MM-DD`, in the registry's time zone.
    public var expires: String
    /// The first instant after the last day of validity.
    public var expiresAt: Date
    public var court: String?
    public var judge: String?
    public var caseNumber: String?
    /// Lower-case hex SHA-256 of the scanned document, if one was stored.
    public var documentSHA256: String?

    public init(
        reference: String, kind: DocumentKind, status: DocumentStatus, agency: String, subjects: [String], scope: [String],
        expires: String, expiresAt: Date, court: String? = nil, judge: String? = nil, caseNumber: String? = nil,
        documentSHA256: String? = nil
    ) {
        self.reference = reference
        self.kind = kind
        self.status = status
        self.agency = agency
        self.subjects = subjects
        self.scope = scope
        self.expires = expires
        self.expiresAt = expiresAt
        self.court = court
        self.judge = judge
        self.caseNumber = caseNumber
        self.documentSHA256 = documentSHA256
    }

    public func covers(action: String) -> Bool {
        scope.contains { ActionPattern.matches(pattern: $0, action: action) }
    }
}

/// A record that an inmate was advised of their rights before any contact with immigration authorities.
public struct Advisement: Sendable, Equatable, Codable {
    public var subject: String
    public var language: String
    public var givenBy: String
    public var givenAt: Date

    public init(subject: String, language: String, givenBy: String, givenAt: Date) {
        self.subject = subject
        self.language = language
        self.givenBy = givenBy
        self.givenAt = givenAt
    }
}
