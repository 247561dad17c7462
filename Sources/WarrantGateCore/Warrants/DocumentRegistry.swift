/// Read access to what the policy evaluator consults: registered documents, records about inmates, and facts.
///
/// The gateway uses an in-memory snapshot refreshed from the store, so a lookup never touches the disk.
public protocol DocumentRegistry: Sendable {
    func document(reference: String) throws -> RegisteredDocument?
    /// Documents naming this subject.
    func documents(subject: String) throws -> [RegisteredDocument]
    func records(subject: String) throws -> [SubjectRecord]
    /// Facts about the subject, by name (for example `conviction: serious-felony`).
    func facts(subject: String) throws -> [String: String]
    /// Whether `document`, one this registry gave, is ``RegisteredDocument/isMisfiled``: it authorises nothing and
    /// meets no document test.
    func isMisfiled(_ document: RegisteredDocument) -> Bool
}

extension DocumentRegistry {
    public func isMisfiled(_ document: RegisteredDocument) -> Bool { document.isMisfiled }
}

/// An immutable in-memory registry.
public struct RegistrySnapshot: DocumentRegistry {
    public let documents: [String: RegisteredDocument]
    public let documentsBySubject: [String: [RegisteredDocument]]
    public let factsBySubject: [String: [String: String]]
    public let recordsBySubject: [String: [SubjectRecord]]
    /// Agencies added with the CLI; one the directory file lists adds its certificates to the file's agency.
    public let agencies: [Agency]
    /// The ids of ``agencies`` that were certificates added to an agency the directory file listed: they identify
    /// only while the file lists that agency (``AgencyDirectory/amended(agencies:extending:revocations:)``).
    public let agencyExtensions: Set<String>
    /// Certificates revoked with the CLI: SPKI SHA-256 hex, or `serial:` and the serial's hex, to the reason.
    public let certificateRevocations: [String: String]
    /// The references of the ``RegisteredDocument/isMisfiled`` documents, judged once a snapshot.
    public let misfiled: Set<String>
    /// How many active documents were registered while the rule was off, so that one operator alone activated them.
    public let activeByOneOperator: Int
    /// How many agency keys the registry pins that no second operator approved (the rule off, or before it covered
    /// agencies), not revoked since.
    public let agencyKeysByOneOperator: Int
    /// A number that changes whenever the registry changes.
    public let version: Int64

    public init(
        documents: [RegisteredDocument], records: [SubjectRecord], facts: [String: [String: String]] = [:], agencies: [Agency] = [],
        agencyExtensions: Set<String> = [], certificateRevocations: [String: String] = [:], activeByOneOperator: Int = 0,
        agencyKeysByOneOperator: Int = 0, version: Int64
    ) {
        self.documents = Dictionary(documents.map { ($0.reference, $0) }, uniquingKeysWith: { _, last in last })
        var bySubject: [String: [RegisteredDocument]] = [:]
        for document in documents {
            for subject in document.subjects { bySubject[subject, default: []].append(document) }
        }
        self.documentsBySubject = bySubject
        self.misfiled = Set(self.documents.values.filter(\.isMisfiled).map(\.reference))
        self.factsBySubject = facts
        self.recordsBySubject = Dictionary(grouping: records, by: \.subject)
        self.agencies = agencies
        self.agencyExtensions = agencyExtensions
        self.certificateRevocations = certificateRevocations
        self.activeByOneOperator = activeByOneOperator
        self.agencyKeysByOneOperator = agencyKeysByOneOperator
        self.version = version
    }

    public static let empty = RegistrySnapshot(documents: [], records: [], version: 0)

    public func document(reference: String) -> RegisteredDocument? { documents[reference] }
    public func documents(subject: String) -> [RegisteredDocument] { documentsBySubject[subject] ?? [] }
    public func records(subject: String) -> [SubjectRecord] { recordsBySubject[subject] ?? [] }
    public func facts(subject: String) -> [String: String] { factsBySubject[subject] ?? [:] }
    public func isMisfiled(_ document: RegisteredDocument) -> Bool { misfiled.contains(document.reference) }

    /// The active documents that are misfiled, by reference: those an operator must revoke.
    public var activeMisfiled: [String] {
        misfiled.filter { documents[$0]?.status == .active }.sorted()
    }
}
