import Foundation
import SwiftASN1
@_spi(FixedExpiryValidationTime) import X509

/// Decides whether an intact signature speaks for a listed court: the signer's chain, its usage, its subject, and the
/// time the chain is checked at.
struct SignerTrust {
    let courts: CourtDirectory

    enum Outcome {
        case trusted(court: Court, proof: TimestampProof?, checkedAt: Date)
        case untrusted(reason: String)
    }

    /// Tries each court in turn. The chain is checked at `now` (the registration), or at the time an RFC 3161 token
    /// from one of the court's time-stamping authorities proves, which lets a signer that has since expired count.
    func evaluate(_ signature: IntactSignature, now: Date) async -> Outcome {
        let token = try? signature.unsignedAttributes.single(CMSObjectIdentifier.signatureTimeStampToken, "signature time-stamp token")
        var patternMismatch: Court?
        var policyFailure: String?
        for court in courts.courts {
            var proof: TimestampProof?
            if let token, !court.timestampAuthorities.isEmpty {
                proof = await TimestampToken.prove(
                    token: token, imprinted: signature.signatureValue, authorities: court.timestampAuthorities, now: now
                )
            }
            let time = proof?.time ?? now
            switch await Self.validate(
                leaf: signature.signer, intermediates: signature.certificates, roots: court.signingAuthorities, at: time, usage: .documentSigning
            ) {
            case .valid:
                if court.identifies(signature.signer.subject) { return .trusted(court: court, proof: proof, checkedAt: time) }
                patternMismatch = patternMismatch ?? court
            case .policyFailure(let reason):
                policyFailure = policyFailure ?? "\(court.id): \(reason)"
            case .noChain:
                continue
            }
        }
        if let court = patternMismatch {
            let what = court.kind == .platform ? "platform" : "court"
            return .untrusted(reason: "the signer chains to the \(what) '\(court.id)', but its subject matches none of the entry's subject patterns")
        }
        guard let policyFailure else { return .untrusted(reason: "the signer does not chain to a court listed in courts.yaml") }
        let signer = signature.signer
        if now >= signer.notValidAfter {
            return .untrusted(
                reason: "the signer's certificate expired at \(Timestamp.format(signer.notValidAfter)) and no listed time-stamping authority proves an earlier signing"
            )
        }
        if now < signer.notValidBefore {
            return .untrusted(reason: "the signer's certificate is not valid before \(Timestamp.format(signer.notValidBefore))")
        }
        return .untrusted(reason: "the signer's chain fails (\(policyFailure))")
    }

    enum ChainValidation {
        case valid
        /// A chain to the roots was built, but a certificate in it fails a policy (expiry, usage, constraints).
        case policyFailure(String)
        case noChain
    }

    /// The most certificates a signature (or a time-stamp token) may carry, its signer's among them: a court's are its
    /// signer's and two or three issuers'. They are the sender's to choose, and each is a candidate issuer the path
    /// search may try.
    static let maximumIntermediates = 16
    /// The most candidate issuers offered from among them to one validation (``BudgetedIntermediates``).
    static let maximumIssuerCandidates = 64

    /// RFC 5280 validation of `leaf` to `roots` at `time`, with the leaf's key usage and extended key usage checked
    /// for `usage`. The intermediates are bounded in number (``maximumIntermediates``) and in the candidate issuers
    /// the path search is offered from among them (``maximumIssuerCandidates``): the scan is hostile, and its check
    /// runs before any key is trusted, once for every court.
    static func validate(
        leaf: Certificate, intermediates: [Certificate], roots: [Certificate], at time: Date, usage: SignerUsagePolicy.Purpose
    ) async -> ChainValidation {
        guard intermediates.count <= maximumIntermediates else {
            return .policyFailure("the signature carries more than \(maximumIntermediates) certificates")
        }
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
            RFC5280Policy(fixedExpiryValidationTime: time)
            SignerUsagePolicy(purpose: usage)
        }
        let presented = CertificateStore(custom: BudgetedIntermediates(intermediates, candidates: maximumIssuerCandidates))
        switch await verifier.validate(leaf: leaf, intermediates: presented) {
        case .validCertificate: return .valid
        case .couldNotValidate(let failures):
            guard let failure = failures.first else { return .noChain }
            return .policyFailure(String(describing: failure.policyFailureReason))
        }
    }
}

/// The leaf's usage, as RFC 5280 §4.2.1.3 and §4.2.1.12 let a relying party require.
///
/// Document signing: key usage, if present, includes `digitalSignature` or `nonRepudiation`; extended key usage, if
/// present, includes document signing (RFC 9336), Adobe Authentic Documents Trust, Microsoft document signing,
/// `emailProtection` (which many signing certificates carry) or `anyExtendedKeyUsage`.
/// Time-stamping (RFC 3161 §2.3): extended key usage is present and includes `timeStamping`.
struct SignerUsagePolicy: VerifierPolicy {
    enum Purpose: Sendable { case documentSigning, timeStamping }

    static let documentSigningUsages: [ExtendedKeyUsage.Usage] = [
        .init(oid: [1, 3, 6, 1, 5, 5, 7, 3, 36]),
        .init(oid: [1, 2, 840, 113583, 1, 1, 5]),
        .init(oid: [1, 3, 6, 1, 4, 1, 311, 10, 3, 12]),
        .emailProtection,
        .any,
    ]

    let purpose: Purpose
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.extendedKeyUsage]

    mutating func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        let leaf = chain.leaf
        do {
            let keyUsage = try leaf.extensions.keyUsage
            let extendedKeyUsage = try leaf.extensions.extendedKeyUsage
            switch purpose {
            case .documentSigning:
                if let keyUsage, !keyUsage.digitalSignature && !keyUsage.nonRepudiation {
                    return .failsToMeetPolicy(reason: "the signer's key usage allows neither digitalSignature nor nonRepudiation")
                }
                if let extendedKeyUsage, !Self.documentSigningUsages.contains(where: extendedKeyUsage.contains) {
                    return .failsToMeetPolicy(reason: "the signer's extended key usage does not include document signing")
                }
            case .timeStamping:
                guard let extendedKeyUsage, extendedKeyUsage.contains(.timeStamping) else {
                    return .failsToMeetPolicy(reason: "the time-stamping authority's certificate lacks the timeStamping extended key usage")
                }
            }
            return .meetsPolicy
        } catch {
            return .failsToMeetPolicy(reason: "the signer's usage extensions cannot be parsed")
        }
    }
}
