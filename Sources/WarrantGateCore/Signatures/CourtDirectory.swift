import SwiftASN1
import X509

/// Whether a `courts.yaml` entry is a court's own signing CA or a platform that signs for many customers.
public enum CourtKind: String, Sendable, CaseIterable {
    /// The CA issues signing certificates to this court only: any signer under it speaks for the court.
    case court
    /// An e-warrant or e-signature platform (DocuSign, for instance): only a signer whose subject matches one of the
    /// entry's patterns speaks for the court.
    case platform
}

/// A court or e-warrant platform whose signatures are trusted, as listed in `courts.yaml`.
public struct Court: Sendable {
    public let id: String
    public let name: String
    public let kind: CourtKind
    /// The CAs a signer's chain must end in.
    public let signingAuthorities: [Certificate]
    /// Signer subjects that identify the court; empty means any signer under ``signingAuthorities`` (courts only).
    public let subjectPatterns: [SubjectPattern]
    /// RFC 3161 time-stamping authorities whose tokens prove a signing time for this entry.
    public let timestampAuthorities: [Certificate]

    public init(
        id: String, name: String, kind: CourtKind, signingAuthorities: [Certificate], subjectPatterns: [SubjectPattern] = [],
        timestampAuthorities: [Certificate] = []
    ) {
        self.id = id
        self.name = name
        self.kind = kind
        self.signingAuthorities = signingAuthorities
        self.subjectPatterns = subjectPatterns
        self.timestampAuthorities = timestampAuthorities
    }

    public var reference: CourtReference { CourtReference(id: id, name: name) }

    /// Whether `subject` identifies this court: any subject if no pattern is listed, else one pattern must match.
    public func identifies(_ subject: DistinguishedName) -> Bool {
        subjectPatterns.isEmpty || subjectPatterns.contains { $0.matches(subject) }
    }
}

/// Required subject attribute values, keyed by short name (`C`, `ST`, `L`, `O`, `OU`, `CN`, `emailAddress`,
/// `serialNumber`). Every listed attribute must be present, and every occurrence of it must equal the value exactly,
/// as the certificate's string holds it (not escaped as RFC 4514 writes it); a value of another string type never
/// matches.
public struct SubjectPattern: Sendable, Hashable {
    public static let attributeTypes: [String: ASN1ObjectIdentifier] = [
        "C": .RDNAttributeType.countryName,
        "ST": .RDNAttributeType.stateOrProvinceName,
        "L": .RDNAttributeType.localityName,
        "O": .RDNAttributeType.organizationName,
        "OU": .RDNAttributeType.organizationalUnitName,
        "CN": .RDNAttributeType.commonName,
        "emailAddress": .RDNAttributeType.emailAddress,
        "serialNumber": [2, 5, 4, 5],
    ]

    public let attributes: [String: String]

    /// Nil if `attributes` is empty or names an attribute outside ``attributeTypes``.
    public init?(attributes: [String: String]) {
        guard !attributes.isEmpty, attributes.keys.allSatisfy({ Self.attributeTypes[$0] != nil }) else { return nil }
        self.attributes = attributes
    }

    public func matches(_ subject: DistinguishedName) -> Bool {
        attributes.allSatisfy { name, expected in
            guard let type = Self.attributeTypes[name] else { return false }
            let values = subject.flatMap { $0 }.filter { $0.type == type }.map { String($0.value) }
            return !values.isEmpty && values.allSatisfy { $0 == expected }
        }
    }
}

/// The courts and platforms whose signatures are trusted.
public struct CourtDirectory: Sendable {
    public let courts: [Court]

    public init(courts: [Court]) {
        self.courts = courts
    }

    public static let empty = CourtDirectory(courts: [])

    public func court(id: String) -> Court? { courts.first { $0.id == id } }
}
