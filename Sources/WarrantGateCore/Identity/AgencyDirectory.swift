import X509

/// The result of identifying a verified client certificate.
public enum Identification: Sendable, Equatable {
    case agency(Agency)
    /// The certificate matches no agency.
    case unknown
    /// The certificate matches more than one agency (none of them, or more than one, listed by the reviewed file):
    /// refused, since identity must be unambiguous.
    case ambiguous([String])
    /// The certificate's key or serial was revoked in the registry. `agency` is the one agency the certificate
    /// matches otherwise, if there is one: the refusal is recorded in its name.
    case revoked(reason: String, agency: Agency?)

    /// Whether the certificate was revoked in the registry.
    public var isRevoked: Bool {
        if case .revoked = self { true } else { false }
    }
}

/// A named certificate authority under which subject matchers apply.
public struct NamedAuthority: Sendable {
    public let name: String
    public let certificate: Certificate
    /// The file it was read from, if any: a reload watches it.
    public let path: String?

    public init(name: String, certificate: Certificate, path: String? = nil) {
        self.name = name
        self.certificate = certificate
        self.path = path
    }
}

/// The directory of calling agencies: who a verified certificate belongs to.
///
/// A certificate is matched by SPKI pin, or by subject attributes when the named authority's key verifies the
/// certificate's signature. Identity never comes from anything the client sends besides its certificate.
public struct AgencyDirectory: Sendable {
    public let agencies: [Agency]
    public let authorities: [String: NamedAuthority]
    /// Revoked certificates: SPKI SHA-256 hex, or `serial:` followed by the serial's hex, mapped to the reason.
    public let revocations: [String: String]
    /// The ids of the agencies the reviewed file lists (all of them, in a directory no registry amended).
    private let reviewed: Set<String>

    public init(agencies: [Agency], authorities: [NamedAuthority], revocations: [String: String] = [:]) {
        self.init(agencies: agencies, authorities: authorities, revocations: revocations, reviewed: Set(agencies.map(\.id)))
    }

    private init(agencies: [Agency], authorities: [NamedAuthority], revocations: [String: String], reviewed: Set<String>) {
        self.reviewed = reviewed
        self.agencies = agencies
        self.authorities = Dictionary(authorities.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.revocations = revocations
    }

    public func agency(id: String) -> Agency? {
        agencies.first { $0.id == id }
    }

    /// A directory with further agencies and revocations from the registry laid over this one.
    ///
    /// A registry agency with an id the file lists adds its certificates to the file's agency and changes nothing
    /// else: the file is the reviewed statement of who is who, and one operator's `agency add` must not move ICE into
    /// a category that needs no warrant. One whose id is in `extending` (certificates added to an agency the file
    /// listed then) identifies no one once the file no longer lists it: taking an agency out of the file ends it.
    public func amended(agencies extra: [Agency], extending: Set<String>, revocations extraRevocations: [String: String]) -> AgencyDirectory {
        var merged = agencies
        for agency in extra {
            if let index = merged.firstIndex(where: { $0.id == agency.id }) {
                let listed = merged[index]
                merged[index] = Agency(
                    id: listed.id, name: listed.name, category: listed.category, spkiPins: listed.spkiPins.union(agency.spkiPins),
                    subjectMatchers: listed.subjectMatchers
                )
            } else if !extending.contains(agency.id) {
                merged.append(agency)
            }
        }
        return AgencyDirectory(
            agencies: merged,
            authorities: Array(authorities.values),
            revocations: revocations.merging(extraRevocations) { first, _ in first },
            reviewed: reviewed
        )
    }

    /// The agency `certificate` belongs to. A certificate the reviewed file's agencies match belongs to that agency,
    /// whatever the registry also pins it to: a key of ICE's pinned to another agency neither moves ICE into that
    /// agency's category nor locks ICE out as ambiguous.
    public func identify(_ certificate: ClientCertificate) -> Identification {
        var found = agencies.filter { matches($0, certificate) }
        let listed = found.filter { reviewed.contains($0.id) }
        if listed.count == 1 { found = listed }
        if let reason = revocations[certificate.spkiSHA256] ?? revocations["serial:" + certificate.serial] {
            return .revoked(reason: reason, agency: found.count == 1 ? found[0] : nil)
        }
        switch found.count {
        case 0: return .unknown
        case 1: return .agency(found[0])
        default: return .ambiguous(found.map(\.id))
        }
    }

    private func matches(_ agency: Agency, _ certificate: ClientCertificate) -> Bool {
        if agency.spkiPins.contains(certificate.spkiSHA256) { return true }
        return agency.subjectMatchers.contains { matcher in
            guard let authority = authorities[matcher.authority] else { return false }
            let issuedByAuthority = certificate.certificate.issuer == authority.certificate.subject
                && authority.certificate.publicKey.isValidSignature(certificate.certificate.signature, for: certificate.certificate)
            guard issuedByAuthority else { return false }
            return matcher.attributes.allSatisfy { key, value in certificate.attributes[key] == [value] }
        }
    }
}
