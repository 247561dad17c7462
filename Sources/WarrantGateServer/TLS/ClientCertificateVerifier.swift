import Foundation
import NIOCore
import NIOSSL
import SwiftASN1
import Synchronization
import WarrantGateCore
@_spi(FixedExpiryValidationTime) import X509

/// Why a client certificate is refused.
public struct CertificateRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case missing, unparseable, expired, denyListed, improperUsage, untrusted
    }

    public let kind: Kind
    public let description: String

    /// The reason code of a request refused for this certificate.
    var reason: GatewayReason {
        switch kind {
        case .missing: .noClientCertificate
        case .expired: .certificateExpired
        case .denyListed: .certificateRevoked
        case .unparseable, .improperUsage, .untrusted: .certificateUntrusted
        }
    }
}

/// Verifies client certificates: during the TLS handshake, and again for every request.
///
/// A custom verification callback replaces all of BoringSSL's own checks, so this does them all: the chain must
/// build to one of the client CA roots under RFC 5280 (signatures, validity dates, basic constraints), every issuer
/// below the root must be allowed to sign certificates where it lists key usages (``IssuerKeyUsagePolicy``), the leaf
/// must be fit for a TLS client (``Trust/requireClientUsage``), and it must not be on the configuration's deny list
/// (SPKI SHA-256 or serial). Roots and deny lists can be replaced at run time (SIGHUP).
///
/// A presented chain is read before the client proves its key, so the work it costs is bounded: its length
/// (``maximumPresentedCertificates``) and the path search's lookups of issuers among its intermediates
/// (``maximumIssuerCandidates``, ``BudgetedIntermediates``). The search tries every issuer that signs a
/// certificate, and look-alike intermediates would make it try exponentially many paths on the event loops.
///
/// A TLS session outlives its handshake: a keep-alive connection, or a new one that resumes the session from a ticket,
/// never runs the callback again. So every request checks its connection's certificate with ``refusal(leafDER:)``
/// against the trust in force and the time now. Revocations made with `agency revoke-cert` are enforced per request
/// by the agency directory, so that each refusal is logged as a decision.
public final class ClientCertificateVerifier: Sendable {
    /// What the verifier trusts and refuses.
    public struct Trust: Sendable {
        public var roots: [Certificate]
        /// Lower-case hex SPKI SHA-256 digests.
        public var revokedSPKIs: Set<String>
        /// Lower-case hex serial numbers.
        public var revokedSerials: Set<String>
        /// Whether the leaf must be fit for a TLS client: not a CA, `clientAuth` among its extended key usages and
        /// `digitalSignature` among its key usages, where it lists them. Off only for a legacy PKI.
        public var requireClientUsage: Bool

        public init(roots: [Certificate], revokedSPKIs: Set<String> = [], revokedSerials: Set<String> = [], requireClientUsage: Bool = true) {
            self.roots = roots
            self.revokedSPKIs = revokedSPKIs
            self.revokedSerials = revokedSerials
            self.requireClientUsage = requireClientUsage
        }
    }

    private struct State {
        var trust: Trust
        /// Counts the trust's replacements, so a validation made under an earlier trust is never cached under a
        /// later one.
        var generation = 0
        /// Chains that validated recently under this trust (its deny lists included), by the leaf's DER bytes.
        var validated: [CertificateBytes: Validation] = [:]
        /// The intermediates each leaf's latest completed handshake presented, its key proven: a connection that
        /// resumes a session presents no chain, and validates its leaf again with these.
        var handshakeIntermediates: [CertificateBytes: [[UInt8]]] = [:]
    }

    /// When a validated chain's result may be reused: from the leaf's start of validity until a minute after the
    /// validation, and never past the leaf's expiry, under the trust of one generation.
    struct Validation: Sendable {
        let generation: Int
        let from: Date
        let until: Date

        func covers(_ time: Date) -> Bool { time >= from && time < until }
    }

    private static let capacity = 4096
    /// The most certificates a client may present, its own first: a leaf and seven intermediates, more than any
    /// agency's PKI needs.
    static let maximumPresentedCertificates = 8
    /// The most candidate issuers the presented intermediates offer one validation: a chain of eight needs seven, and
    /// every ordering of look-alike issuers (one subject and key, other names) one more each.
    static let maximumIssuerCandidates = 64
    private let state: Mutex<State>
    /// The validations running for requests, by chain and trust (``refusal(leafDER:intermediates:)``).
    private let pending = Mutex<[PendingKey: Task<CertificateRefusal?, Never>]>([:])
    private let now: @Sendable () -> Date
    let refusals: @Sendable (String) -> Void

    /// - Parameter refusals: told the reason of each refused handshake (for logs and metrics).
    public init(trust: Trust, now: @escaping @Sendable () -> Date = Date.init, refusals: @escaping @Sendable (String) -> Void = { _ in }) {
        self.state = Mutex(State(trust: trust))
        self.now = now
        self.refusals = refusals
    }

    /// The client CA roots certificates are verified against now.
    public var roots: [Certificate] {
        state.withLock(\.trust.roots)
    }

    public func replace(trust: Trust) {
        state.withLock { state in
            state.trust = trust
            state.generation += 1
            state.validated.removeAll()
        }
    }

    /// Verifies a presented chain, leaf first (the handshake's callback).
    public func verify(_ presented: [NIOSSLCertificate]) async -> Bool {
        guard let refusal = await refusal(presented) else { return true }
        refusals(refusal.description)
        return false
    }

    /// Remembers the intermediates of a handshake whose chain validated and that completed (after the client proved
    /// its key, which the verification callback runs before): only then may they stand for the leaf's connections
    /// that present none to validate (resumed sessions, handshakes accepted by the memory of a validation). A full
    /// memory forgets one leaf's, not all.
    func rememberHandshake(leaf: CertificateBytes, intermediates: [[UInt8]]) {
        state.withLock { state in
            if state.handshakeIntermediates[leaf] == nil, state.handshakeIntermediates.count >= Self.capacity {
                state.handshakeIntermediates.remove(at: state.handshakeIntermediates.startIndex)
            }
            state.handshakeIntermediates[leaf] = intermediates
        }
    }

    /// The intermediates `leaf`'s latest validated, completed handshake presented, for a connection that presented
    /// none to validate.
    func intermediates(ofResumed leaf: CertificateBytes) -> [[UInt8]] {
        state.withLock { $0.handshakeIntermediates[leaf] } ?? []
    }

    /// Whether a presented chain's leaf validated recently under the trust in force, and a completed handshake of it
    /// left the intermediates its connection will be validated with again, so that its handshake needs no validation.
    /// (A leaf whose validated handshake did not complete, or whose intermediates were forgotten, is validated with the
    /// chain it presents now.)
    func remembersValid(_ presented: [NIOSSLCertificate]) -> Bool {
        guard let leafDER = try? presented.first?.toDERBytes() else { return false }
        let leaf = CertificateBytes(der: leafDER)
        let time = now()
        return state.withLock { $0.handshakeIntermediates[leaf] != nil && $0.validated[leaf]?.covers(time) == true }
    }

    /// The validation of `key`'s chain that covers the time now under the trust in force, if one is remembered.
    func rememberedValidation(_ key: CertificateBytes) -> Validation? {
        let time = now()
        return state.withLock { $0.validated[key] }.flatMap { $0.covers(time) ? $0 : nil }
    }

    /// Whether `validation` still holds: made under the trust in force, and covering the time now.
    func holds(_ validation: Validation) -> Bool {
        validation.generation == state.withLock(\.generation) && validation.covers(now())
    }

    /// Why a presented chain is refused at the handshake, or nil if it is acceptable: validated with the intermediates
    /// it presents, whatever the memory of its leaf says, since an accepted chain is kept for its connection.
    func refusal(_ presented: [NIOSSLCertificate]) async -> CertificateRefusal? {
        guard !presented.isEmpty else { return CertificateRefusal(kind: .missing, description: "no client certificate") }
        guard presented.count <= Self.maximumPresentedCertificates else {
            return CertificateRefusal(kind: .untrusted, description: "the client presented more than \(Self.maximumPresentedCertificates) certificates")
        }
        guard let leafDER = try? presented[0].toDERBytes(),
              let intermediates = try? presented.dropFirst().map({ try Certificate(derEncoded: $0.toDERBytes()) })
        else { return CertificateRefusal(kind: .unparseable, description: "unparseable client certificate") }
        return await refusal(CertificateBytes(der: leafDER), intermediates: intermediates, remembered: false)
    }

    /// Why a connection's verified leaf is refused now, under the trust in force, or nil if it is still acceptable:
    /// validated with the connection's intermediates (``ConnectionPeer/intermediates``: those its handshake presented
    /// and validated, or its leaf's from the latest validated, completed handshake).
    ///
    /// Requests that need the same chain validated under the same trust while one validation of it runs wait for that
    /// one (``pending``): a connection's streams, or a certificate's connections, all arriving as its remembered
    /// validation lapses, cost one validation, not one each.
    public func refusal(leafDER: [UInt8], intermediates: [[UInt8]]) async -> CertificateRefusal? {
        let key = PendingKey(leaf: leafDER, intermediates: intermediates, generation: state.withLock(\.generation))
        let validation = pending.withLock { pending in
            if let running = pending[key] { return running }
            let started = Task { () -> CertificateRefusal? in
                guard let parsed = try? intermediates.map({ try Certificate(derEncoded: $0) }) else {
                    return CertificateRefusal(kind: .unparseable, description: "unparseable client certificate")
                }
                return await self.refusal(CertificateBytes(der: leafDER), intermediates: parsed, remembered: true)
            }
            pending[key] = started
            return started
        }
        let refusal = await validation.value
        pending.withLock { pending in
            if pending[key] == validation { pending[key] = nil }
        }
        return refusal
    }

    /// A chain being validated for requests: the leaf, the intermediates it is validated with, and the trust's
    /// generation.
    private struct PendingKey: Hashable {
        let leaf: [UInt8]
        let intermediates: [[UInt8]]
        let generation: Int
    }

    /// With `remembered`, a leaf whose chain validated under this trust, deny lists included, within the last minute
    /// is not parsed and checked again: most requests are a known connection's.
    func refusal(_ key: CertificateBytes, intermediates: [Certificate], remembered: Bool) async -> CertificateRefusal? {
        let (trust, generation, validation) = state.withLock { ($0.trust, $0.generation, $0.validated[key]) }
        let time = now()
        if remembered, validation?.covers(time) == true { return nil }
        guard let leaf = try? Certificate(derEncoded: key.der), let identity = try? ClientCertificate(certificate: leaf) else {
            return CertificateRefusal(kind: .unparseable, description: "unparseable client certificate")
        }
        if time >= leaf.notValidAfter {
            return CertificateRefusal(kind: .expired, description: "the certificate expired at \(leaf.notValidAfter)")
        }
        if trust.revokedSPKIs.contains(identity.spkiSHA256) || trust.revokedSerials.contains(identity.serial) {
            return CertificateRefusal(kind: .denyListed, description: "revoked by the configuration's deny list")
        }
        if trust.requireClientUsage, let misuse = Self.clientUsageViolation(leaf) {
            return CertificateRefusal(kind: .improperUsage, description: misuse)
        }
        var verifier = Verifier(rootCertificates: CertificateStore(trust.roots)) {
            RFC5280Policy(fixedExpiryValidationTime: time)
            IssuerKeyUsagePolicy()
        }
        let presented = CertificateStore(custom: BudgetedIntermediates(intermediates, candidates: Self.maximumIssuerCandidates))
        switch await verifier.validate(leaf: leaf, intermediates: presented) {
        case .validCertificate:
            state.withLock { state in
                // The trust may have been replaced while the chain was validated: then this result is not cached.
                guard state.generation == generation else { return }
                if state.validated.count >= Self.capacity { state.validated.removeAll(keepingCapacity: true) }
                state.validated[key] = Validation(
                    generation: generation, from: leaf.notValidBefore, until: min(time.addingTimeInterval(60), leaf.notValidAfter)
                )
            }
            return nil
        case .couldNotValidate(let failures):
            let reasons = failures.map { String(describing: $0.policyFailureReason) }
            return CertificateRefusal(kind: .untrusted, description: "chain does not validate: " + (reasons.first ?? "no path to a trusted root"))
        }
    }

    /// Why `leaf` is unfit to identify a TLS client (RFC 5280 §4.2.1.3, §4.2.1.9, §4.2.1.12), or nil: it must not be
    /// a CA, must list `clientAuth` if it lists extended key usages, and `digitalSignature` if it lists key usages.
    static func clientUsageViolation(_ leaf: Certificate) -> String? {
        do {
            if case .isCertificateAuthority = try leaf.extensions.basicConstraints {
                return "the certificate is a CA certificate, not a client's"
            }
            if let usage = try leaf.extensions.extendedKeyUsage, !usage.contains(.clientAuth) {
                return "the certificate's extended key usage does not include clientAuth"
            }
            if let usage = try leaf.extensions.keyUsage, !usage.digitalSignature {
                return "the certificate's key usage does not include digitalSignature"
            }
            return nil
        } catch {
            return "the certificate's usage extensions are malformed"
        }
    }

    /// Reads a PEM bundle of CA certificates.
    public static func loadRoots(path: String) throws -> [Certificate] {
        let text: String
        do {
            text = try YAMLNode.readText(path: path, what: "the client CA bundle", governing: true)
        } catch let error as FileError {
            throw TLSSetupError("\(error.message) (\(path))")
        }
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: text)
        } catch {
            throw TLSSetupError("\(path) is not a PEM bundle")
        }
        let roots = try documents.filter { $0.discriminator == "CERTIFICATE" }.map { try Certificate(pemDocument: $0) }
        guard !roots.isEmpty else { throw TLSSetupError("no certificates in the client CA bundle \(path)") }
        return roots
    }
}

/// Every issuer between a chain's leaf and its root that lists key usages must list `keyCertSign` (RFC 5280
/// §4.2.1.3), which swift-certificates' `RFC5280Policy` leaves unchecked: a CA certificate issued for signing
/// documents only must not mint client certificates. The root, a trust anchor configured by the operator, is not
/// judged by its own extensions.
struct IssuerKeyUsagePolicy: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.keyUsage]

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        for issuer in chain.dropFirst().dropLast() {
            do {
                if let usage = try issuer.extensions.keyUsage, !usage.keyCertSign {
                    return .failsToMeetPolicy(reason: "an intermediate's key usage does not include keyCertSign")
                }
            } catch {
                return .failsToMeetPolicy(reason: "an intermediate's key usage extension is malformed")
            }
        }
        return .meetsPolicy
    }
}
