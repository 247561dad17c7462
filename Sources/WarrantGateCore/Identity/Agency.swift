/// A calling agency, as listed in `agencies.yaml` (and amended from the registry).
public struct Agency: Sendable, Hashable {
    public let id: String
    public let name: String
    public let category: AgencyCategory
    /// Lower-case hex SHA-256 digests of the DER SubjectPublicKeyInfo of certificates that identify this agency.
    public let spkiPins: Set<String>
    /// Subject patterns that identify this agency when the certificate was issued by the named authority.
    public let subjectMatchers: [SubjectMatcher]

    public init(id: String, name: String, category: AgencyCategory, spkiPins: Set<String> = [], subjectMatchers: [SubjectMatcher] = []) {
        self.id = id
        self.name = name
        self.category = category
        self.spkiPins = spkiPins
        self.subjectMatchers = subjectMatchers
    }
}

/// Matches a certificate by subject attributes (O, OU, CN) when it was signed by a named certificate authority.
public struct SubjectMatcher: Sendable, Hashable {
    /// The name of an authority declared in the directory's `authorities` list.
    public let authority: String
    /// Required attribute values, keyed by short name (`O`, `OU`, `CN`). Every listed attribute must match exactly.
    public let attributes: [String: String]

    public init(authority: String, attributes: [String: String]) {
        self.authority = authority
        self.attributes = attributes
    }
}
