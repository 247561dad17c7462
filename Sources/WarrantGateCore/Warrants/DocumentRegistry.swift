/// Read access to what the policy evaluator consults: registered documents, records about inmates, and facts.
///
/// The gateway uses an in-memory snapshot refreshed from the store, so a lookup never touches the disk.
public protocol DocumentRegistry: Sendable {
    func document(reference: String) throws -> RegisteredDocument?
    func records(subject: String) throws -> [SubjectRecord]
}

/// An immutable in-memory registry.
public struct RegistrySnapshot: DocumentRegistry {
    public let documents: [String: RegisteredDocument]
    public let recordsBySubject: [String: [SubjectRecord]]
    /// Agencies added with the CLI; they replace the file's agency of the same id.
    public let agencies: [Agency]
    /// Certificates revoked with the CLI: SPKI SHA-256 hex, or `serial:` and the serial's hex, to the reason.
    public let certificateRevocations: [String: String]
    /// A number that changes whenever the registry changes.
    public let version: Int64

    public init(
        documents: [RegisteredDocument], records: [SubjectRecord], agencies: [Agency] = [], certificateRevocations: [String: String] = [:],
        version: Int64
    ) {
        self.documents = Dictionary(documents.map { ($0.reference, $0) }, uniquingKeysWith: { _, last in last })
        self.recordsBySubject = Dictionary(grouping: records, by: \.subject)
        self.agencies = agencies
        self.certificateRevocations = certificateRevocations
        self.version = version
    }

    public static let empty = RegistrySnapshot(documents: [], records: [], version: 0)

    public func document(reference: String) -> RegisteredDocument? { documents[reference] }
    public func records(subject: String) -> [SubjectRecord] { recordsBySubject[subject] ?? [] }
}
