import Foundation
import Testing
@testable import WarrantGateCore

extension PolicyLanguageTests {
    static func signedDocument(_ reference: String, _ signature: RecordedSignature) -> RegisteredDocument {
        var document = document(reference, .criminalArrestWarrant)
        document.signature = signature
        return document
    }

    static let verifiedByDenver = RecordedSignature(status: .verified, signerSubject: "CN=Clerk", court: "denver-county-court", checkedAt: now)

    @Test("warrant: { signed: true } and { signed-by: [...] }: only a signature verified for a listed court passes; the denial says signature")
    func signedWarrants() throws {
        let registry = Self.registry(documents: [
            Self.signedDocument("VERIFIED", Self.verifiedByDenver),
            Self.signedDocument("UNVERIFIED", RecordedSignature(status: .unverified, reason: "the signer does not chain to a court listed in courts.yaml")),
            Self.signedDocument("UNSIGNED", RecordedSignature(status: .unsigned, checkedAt: Self.now)),
            Self.signedDocument("UNCHECKED", .unchecked),
        ])
        for (test, accepted) in [("{ signed: true }", ["VERIFIED"]), ("{ signed-by: [denver-county-court] }", ["VERIFIED"]), ("{ signed-by: [elsewhere] }", [])] {
            let policy = try Self.parse("""
                rules:
                  - id: ice-needs-signed-warrant
                    effect: forbid
                    when: { category: federal-immigration }
                    unless: { warrant: \(test) }
                    reason: warrant-failure
                  - id: ice-with-warrant
                    effect: permit
                    when: { category: federal-immigration, warrant: verified }
                """)
            for reference in ["VERIFIED", "UNVERIFIED", "UNSIGNED", "UNCHECKED"] {
                let decision = Self.decide(policy, Self.ice, warrant: reference, registry: registry)
                if accepted.contains(reference) {
                    #expect(decision.effect == .allow, "\(test) \(reference)")
                } else {
                    #expect(decision.reason == "warrant_signature_unverified", "\(test) \(reference)")
                }
            }
            let explanation = RequestStages(policy: policy).evaluator.explain(
                try RequestStages(policy: policy).classify(PolicyRequest(
                    agency: Self.ice, method: "GET", target: "/records/inmates/\(Self.subject)", body: nil, warrantReference: "UNVERIFIED", headers: [:], time: Self.now
                )).1,
                registry: registry
            )
            #expect(explanation.traces.first?.note.contains("warrant UNVERIFIED signature is unverified: the signer does not chain") == true, "\(explanation.traces)")
        }
        // A test that refuses the kind as well as the signature is not a signature failure.
        let both = try Self.parse("""
            rules:
              - id: r
                effect: forbid
                when: { category: federal-immigration }
                unless: { warrant: { kind: [search-warrant], signed: true } }
                reason: warrant-failure
            """)
        #expect(Self.decide(both, Self.ice, warrant: "UNVERIFIED", registry: registry).reason == "warrant_not_accepted")
        #expect(Self.parseError("rules: [{ id: r, effect: permit, when: { warrant: { signed: false } } }]")?.contains("signed: write true") == true)
        #expect(Self.parseError("rules: [{ id: r, effect: permit, when: { warrant: { signed-by: [] } } }]")?.contains("signed-by: list court ids") == true)
        #expect(Self.parseError("rules: [{ id: r, effect: permit, when: { warrant: { signed-by: [Not An Id] } } }]") != nil)
    }

    @Test("a check's status is recorded without its invalid case; description renders as the verifier does")
    func recordedSignature() {
        let signer = SignerIdentity(subject: "CN=Clerk", issuer: "CN=CA", serial: "01", certificateSHA256: String(repeating: "ab", count: 32))
        let verified = DocumentSignatureStatus.verified(VerifiedSignature(
            signer: signer, court: CourtReference(id: "denver-county-court", name: "Denver County Court"),
            signingTime: SigningTime(claimed: Self.now, proven: TimestampProof(time: Self.now, authority: "CN=TSA")), chainCheckedAt: Self.now
        ))
        let recorded = RecordedSignature(verified, checkedAt: Self.now)
        #expect(recorded?.court == "denver-county-court" && recorded?.timestampAuthority == "CN=TSA" && recorded?.signerSHA256 == signer.certificateSHA256)
        #expect(recorded?.description == verified.description)
        let unverified = DocumentSignatureStatus.unverified(reason: "expired", signer: signer)
        #expect(RecordedSignature(unverified, checkedAt: Self.now)?.description == unverified.description)
        #expect(RecordedSignature(unverified, checkedAt: Self.now)?.court == nil)
        #expect(RecordedSignature(.unsigned, checkedAt: Self.now)?.description == "unsigned")
        #expect(RecordedSignature(.invalid(reason: "tampered"), checkedAt: Self.now) == nil)
        #expect(RecordedSignature.unchecked.description == "unchecked")
    }
}
