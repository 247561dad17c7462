/// Read access to registered documents and advisements, as the policy evaluator needs it.
///
/// The gateway uses an in-memory snapshot refreshed from the store, so a lookup never touches the disk.
public protocol DocumentRegistry: Sendable {
    func document(reference: String) throws -> RegisteredDocument?
    func advisements(subject: String) throws -> [Advisement]
}

/// An immutable in-memory registry.
public struct RegistrySnapshot: DocumentRegistry {
    public let documents: [String: RegisteredDocument]
    public let advisementsBySubject: [String: [Advisement]]
    /// A number that changes whenever the registry changes.
    public let version: Int64

    public init(documents: [RegisteredDocument], advisements: [Advisement], version: Int64) {
        self.documents = Dictionary(documents.map { ($0.reference, $0) }, uniquingKeysWith: { _, last in last })
        self.advisementsBySubject = Dictionary(grouping: advisements, by: \.subject)
        self.version = version
    }

    public static let empty = RegistrySnapshot(documents: [], advisements: [], version: 0)

    public func document(reference: String) -> RegisteredDocument? { documents[reference] }
    public func advisements(subject: String) -> [Advisement] { advisementsBySubject[subject] ?? [] }
}
