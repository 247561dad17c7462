import Crypto
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
    /// Actions the document covers; `records.*` covers every action under `records.`. An entry
    /// `records.release-date#scheduledRelease` covers the action for that one top-level field (see ``ScopeEntry``).
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
    /// When the document was registered.
    public var registeredAt: Date?
    /// The scan's digital signature, as checked at registration.
    public var signature: RecordedSignature

    public init(
        reference: String, kind: DocumentKind, status: DocumentStatus, agency: String, subjects: [String], scope: [String],
        expires: String, expiresAt: Date, court: String? = nil, judge: String? = nil, caseNumber: String? = nil,
        documentSHA256: String? = nil, registeredAt: Date? = nil, signature: RecordedSignature = .unchecked
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
        self.registeredAt = registeredAt
        self.signature = signature
    }

    /// Whether it was registered as registration now refuses: of a judicial kind while its court, judge or case names
    /// an immigration authority or its form (``ExecutiveIssuers``), or with a scope no paper has
    /// (``scopeProblems(kind:scope:)``). Registered before registration refused it, it authorises nothing, and no
    /// document test accepts it, until it is revoked and registered again as the paper says.
    public var isMisfiled: Bool { !misfilings.isEmpty }

    /// Why it is misfiled (``isMisfiled``), a sentence each as registration would say it; empty when it is not.
    public var misfilings: [String] {
        ExecutiveIssuers.problems(kind: kind, court: court, judge: judge, caseNumber: caseNumber) + Self.scopeProblems(kind: kind, scope: scope)
    }

    /// Why a document of `kind` cannot cover `scope`, a sentence each: `*` covers every action a policy has or will
    /// have, holds, transfers and secure areas included, which no court order or warrant says; and a search warrant
    /// authorises a search, never holding, transferring or arresting a person. Empty when it can.
    public static func scopeProblems(kind: DocumentKind, scope: [String]) -> [String] {
        var problems: [String] = []
        if scope.contains(where: { ScopeEntry($0).action == "*" }) {
            problems.append("--scope '*' would cover every action, holds and transfers included: name the actions the document permits, or a family such as records.*")
        }
        if kind == .searchWarrant {
            for detention in DocumentKind.detentionActions where scope.contains(where: { ScopeEntry($0).covers(detention) }) {
                problems.append("a search-warrant authorises a search, not \(detention): register the arrest warrant for it")
            }
        }
        return problems
    }

    public func covers(action: String) -> Bool {
        scope.contains { ScopeEntry($0).covers(action) }
    }

    /// 64 bits of SHA-256 over the document's terms (its reference, kind, agency, subjects, scope, expiry day and
    /// instant, court, judge, case, scan, and signature with its signer), as `xxxx-xxxx-xxxx-xxxx`: what an approver
    /// reviewed, given back to approve so that an approval names the terms it approves.
    public var termsFingerprint: String {
        let terms = [
            reference, kind.rawValue, agency, subjects.joined(separator: ","), scope.joined(separator: ","), expires,
            Timestamp.format(expiresAt), court ?? "", judge ?? "", caseNumber ?? "", documentSHA256 ?? "", signature.status.rawValue,
            signature.court ?? "", signature.signerSubject ?? "", signature.signerSHA256 ?? "",
        ]
        var hash = SHA256()
        for term in terms { hash.update(data: Array("\(term.utf8.count):\(term)".utf8)) }
        let hex = Hex.encode(hash.finalize().prefix(8))
        return stride(from: 0, to: 16, by: 4).map { start in
            String(hex.dropFirst(start).prefix(4))
        }.joined(separator: "-")
    }

    /// Whether the document has not expired at `time`, nor by `until` (when what a request asks for ends or takes
    /// place): its expiry instant is after both.
    public func isInForce(at time: Date, through until: Date? = nil) -> Bool {
        time < expiresAt && (until.map { $0 < expiresAt } ?? true)
    }

    /// The top-level fields the document releases for `action`: nil when an entry covers the whole action, else the
    /// fields its entries name for it (lower-cased, as field names are compared).
    public func fields(for action: String) -> Set<String>? {
        var fields: Set<String> = []
        for entry in scope.lazy.map(ScopeEntry.init) where entry.covers(action) {
            guard let field = entry.field else { return nil }
            fields.insert(field.lowercased())
        }
        return fields
    }
}

/// One entry of a document's scope: an action pattern, and optionally one field it is limited to, written
/// `action#field` (a court may order one fact released, such as a release date, and nothing else).
public struct ScopeEntry: Sendable, Equatable {
    public let action: String
    public let field: String?

    /// Splits `text` at its first `#` byte: the action before it, the field every byte after it.
    public init(_ text: String) {
        if let hash = text.utf8.firstIndex(of: UInt8(ascii: "#")) {
            action = String(text[..<hash])
            field = String(text[text.utf8.index(after: hash)...])
        } else {
            action = text
            field = nil
        }
    }

    public func covers(_ action: String) -> Bool {
        ActionPattern.matches(pattern: self.action, action: action)
    }

    /// Whether the entry is an action pattern, with, if any, a field of 1 to 128 characters without spaces, `#` or
    /// the characters ``FreeText`` refuses (control and format characters).
    public var isValid: Bool {
        guard ActionPattern.isValid(action) else { return false }
        guard let field else { return true }
        return !field.isEmpty && field.count <= 128 && !field.contains { $0.isWhitespace || $0 == "#" || $0.isNewline }
            && FreeText.forbidden(in: field) == nil
    }
}

/// The kinds of record about an inmate that policies turn on.
public enum SubjectRecordKind: String, Sendable, CaseIterable, Codable {
    /// Rights given before any contact with immigration authorities (Colorado HB19-1124, the TRUTH Act).
    case advisement
    /// The inmate's written consent to an interview, possibly only with an attorney present.
    case consent
    /// The inmate declined to consent to an interview.
    case consentDeclined = "consent-declined"
    /// The inmate withdrew a consent given earlier.
    case consentWithdrawn = "consent-withdrawn"
    /// The inmate's written consent to share their own status (as in Chicago).
    case writtenAuthorization = "written-authorization"
    /// The inmate withdrew written authorizations given earlier: to share the fields its scope names, or all of them
    /// when it names none.
    case authorizationWithdrawn = "authorization-withdrawn"

    /// The kinds of record this one is weighed against, itself among them, where the latest of them decides: a consent,
    /// its refusal and withdrawal; an authorization and its withdrawal. Empty for an advisement, which stands alone.
    public var rankedWith: [SubjectRecordKind] {
        switch self {
        case .advisement: []
        case .consent, .consentDeclined, .consentWithdrawn: [.consent, .consentDeclined, .consentWithdrawn]
        case .writtenAuthorization, .authorizationWithdrawn: [.writtenAuthorization, .authorizationWithdrawn]
        }
    }
}

/// Where an inmate's consent to an interview stands: the latest consent, refusal or withdrawal on record decides.
public enum ConsentStatus: String, Sendable, CaseIterable {
    case given
    case declined
    case withdrawn

    /// The status a record of `kind` sets, or nil for a record that is not about consent.
    public init?(recordKind kind: SubjectRecordKind) {
        guard let status = Self.allCases.first(where: { $0.recordKind == kind }) else { return nil }
        self = status
    }

    /// The kind of record that sets this status.
    public var recordKind: SubjectRecordKind {
        switch self {
        case .given: .consent
        case .declined: .consentDeclined
        case .withdrawn: .consentWithdrawn
        }
    }
}

/// A record about an inmate: an advisement of rights, a consent (or its refusal or withdrawal), or a written
/// authorization (or its withdrawal).
public struct SubjectRecord: Sendable, Equatable, Codable {
    public var subject: String
    public var kind: SubjectRecordKind
    /// The staff member who gave the advisement or took the consent.
    public var givenBy: String
    public var givenAt: Date
    public var language: String?
    /// For a consent: whether an attorney must be present.
    public var attorneyRequired: Bool
    /// For a written authorization: what may be shared (for example `immigrationStatus`); for its withdrawal, what may
    /// no longer be, or everything when empty.
    public var scope: [String]

    public init(
        subject: String, kind: SubjectRecordKind, givenBy: String, givenAt: Date, language: String? = nil, attorneyRequired: Bool = false,
        scope: [String] = []
    ) {
        self.subject = subject
        self.kind = kind
        self.givenBy = givenBy
        self.givenAt = givenAt
        self.language = language
        self.attorneyRequired = attorneyRequired
        self.scope = scope
    }
}
