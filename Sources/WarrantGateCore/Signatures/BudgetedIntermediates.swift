import Synchronization
import X509

/// Intermediates someone else chose (a TLS client's, a signature's), by subject, offering at most a fixed number of
/// candidate issuers in all, over every lookup; then none, so that swift-certificates' path search, which checks a
/// signature on every candidate it is offered, ends with the paths it has tried: look-alike intermediates would make
/// it try exponentially many. One store serves one validation.
public struct BudgetedIntermediates: CustomCertificateStore {
    /// The candidates left, shared by the store's copies.
    private final class Budget: Sendable {
        let remaining: Mutex<Int>
        init(_ candidates: Int) { remaining = Mutex(candidates) }
        /// Up to `wanted` of those left, taken.
        func take(_ wanted: Int) -> Int {
            remaining.withLock { left in
                let granted = min(left, wanted)
                left -= granted
                return granted
            }
        }
    }

    private var bySubject: [DistinguishedName: [Certificate]] = [:]
    private let budget: Budget

    public init(_ certificates: [Certificate], candidates: Int) {
        budget = Budget(candidates)
        append(contentsOf: certificates)
    }

    public subscript(subject: DistinguishedName) -> [Certificate]? {
        get async {
            guard let issuers = bySubject[subject] else { return nil }
            let granted = budget.take(issuers.count)
            return granted == 0 ? nil : Array(issuers.prefix(granted))
        }
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
