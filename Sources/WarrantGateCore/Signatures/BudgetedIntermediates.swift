import Synchronization
import X509

/// Intermediates someone else chose (a TLS client's, a signature's), by subject, answering at most a fixed number of
/// lookups of issuers; then none, so that swift-certificates' path search, which tries every issuer that signs a
/// certificate, ends with the paths it has tried: look-alike intermediates would make it try exponentially many. One
/// store serves one validation.
public struct BudgetedIntermediates: CustomCertificateStore {
    /// The lookups left, shared by the store's copies.
    private final class Budget: Sendable {
        let remaining: Mutex<Int>
        init(_ lookups: Int) { remaining = Mutex(lookups) }
        func take() -> Bool {
            remaining.withLock { left in
                guard left > 0 else { return false }
                left -= 1
                return true
            }
        }
    }

    private var bySubject: [DistinguishedName: [Certificate]] = [:]
    private let budget: Budget

    public init(_ certificates: [Certificate], lookups: Int) {
        budget = Budget(lookups)
        append(contentsOf: certificates)
    }

    public subscript(subject: DistinguishedName) -> [Certificate]? {
        get async { budget.take() ? bySubject[subject] : nil }
    }

    public func contains(_ certificate: Certificate) async -> Bool {
        bySubject[certificate.subject]?.contains(certificate) ?? false
    }

    public mutating func append(contentsOf certificates: some Sequence<Certificate>) {
        for certificate in certificates { bySubject[certificate.subject, default: []].append(certificate) }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.budget === rhs.budget && lhs.bySubject == rhs.bySubject }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(budget)) }
}
