import Foundation
import NIOCore
import NIOSSL
import SwiftASN1
import Synchronization
import WarrantGateCore
@_spi(FixedExpiryValidationTime) import X509

/// Verifies client certificates during the TLS handshake.
///
/// A custom verification callback replaces all of BoringSSL's own checks, so this does them all: the chain must
/// build to one of the client CA roots under RFC 5280 (signatures, validity dates, basic constraints, key usage),
/// and the leaf must not be on the configuration's deny list (SPKI SHA-256 or serial). Roots and deny lists can be
/// replaced at run time (SIGHUP). Revocations made with `agency revoke-cert` are enforced per request instead, so
/// that each refusal is logged as a decision.
public final class ClientCertificateVerifier: Sendable {
    /// What the verifier trusts and refuses.
    public struct Trust: Sendable {
        public var roots: [Certificate]
        /// Lower-case hex SPKI SHA-256 digests.
        public var revokedSPKIs: Set<String>
        /// Lower-case hex serial numbers.
        public var revokedSerials: Set<String>

        public init(roots: [Certificate], revokedSPKIs: Set<String> = [], revokedSerials: Set<String> = []) {
            self.roots = roots
            self.revokedSPKIs = revokedSPKIs
            self.revokedSerials = revokedSerials
        }
    }

    private struct State {
        var trust: Trust
        /// Counts the trust's replacements, so a validation made under an earlier trust is never cached under a
        /// later one.
        var generation = 0
        /// Chains that validated recently under this trust (its deny lists included), by the leaf's DER bytes.
        var validated: [CertificateBytes: Validation] = [:]
    }

    /// When a validated chain's result may be reused: from the leaf's start of validity until a minute after the
    /// validation, and never past the leaf's expiry.
    private struct Validation {
        let from: Date
        let until: Date

        func covers(_ time: Date) -> Bool { time >= from && time < until }
    }

    private let state: Mutex<State>
    private let now: @Sendable () -> Date
    let refusals: @Sendable (String) -> Void

    /// - Parameter refusals: told the reason of each refused handshake (for logs and metrics).
    public init(trust: Trust, now: @escaping @Sendable () -> Date = Date.init, refusals: @escaping @Sendable (String) -> Void = { _ in }) {
        self.state = Mutex(State(trust: trust))
        self.now = now
        self.refusals = refusals
    }

    public func replace(trust: Trust) {
        state.withLock { state in
            state.trust = trust
            state.generation += 1
            state.validated.removeAll()
        }
    }

    /// Verifies a presented chain, leaf first.
    public func verify(_ presented: [NIOSSLCertificate]) async -> NIOSSLVerificationResult {
        guard let reason = await refusal(presented) else { return .certificateVerified }
        refusals(reason)
        return .failed
    }

    /// Why the chain is refused, or nil if it is acceptable.
    func refusal(_ presented: [NIOSSLCertificate]) async -> String? {
        guard !presented.isEmpty else { return "no client certificate" }
        guard let leafDER = try? presented[0].toDERBytes() else { return "unparseable client certificate" }
        let key = CertificateBytes(der: leafDER)
        let (trust, generation, validation) = state.withLock { ($0.trust, $0.generation, $0.validated[key]) }
        let time = now()
        // A leaf whose chain validated under this trust, deny lists included, is not parsed and checked again while
        // the result lasts: most handshakes are a known agency's reconnections.
        if validation?.covers(time) == true { return nil }
        let parsed: [Certificate]
        do {
            parsed = try [Certificate(derEncoded: leafDER)] + presented.dropFirst().map { try Certificate(derEncoded: $0.toDERBytes()) }
        } catch {
            return "unparseable client certificate"
        }
        let leaf = parsed[0]
        guard let identity = try? ClientCertificate(certificate: leaf) else { return "unparseable client certificate" }
        if trust.revokedSPKIs.contains(identity.spkiSHA256) || trust.revokedSerials.contains(identity.serial) {
            return "revoked by the configuration's deny list"
        }
        var verifier = Verifier(rootCertificates: CertificateStore(trust.roots)) {
            RFC5280Policy(fixedExpiryValidationTime: time)
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(parsed.dropFirst()))
        switch result {
        case .validCertificate:
            state.withLock { state in
                // The trust may have been replaced while the chain was validated: then this result is not cached.
                guard state.generation == generation else { return }
                if state.validated.count >= 4096 { state.validated.removeAll(keepingCapacity: true) }
                state.validated[key] = Validation(from: leaf.notValidBefore, until: min(time.addingTimeInterval(60), leaf.notValidAfter))
            }
            return nil
        case .couldNotValidate(let failures):
            let reasons = failures.map { String(describing: $0.policyFailureReason) }
            return "chain does not validate: " + (reasons.first ?? "no path to a trusted root")
        }
    }

    /// Reads a PEM bundle of CA certificates.
    public static func loadRoots(path: String) throws -> [Certificate] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw TLSSetupError("cannot read the client CA bundle \(path)") }
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
