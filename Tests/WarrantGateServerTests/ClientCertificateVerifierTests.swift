import Crypto
import Foundation
import NIOPosix
import NIOSSL
import SwiftASN1
import Synchronization
import Testing
import WarrantGateCore
import WarrantGateDevPKI
@testable import WarrantGateServer
import X509

/// The verifier remembers a validated chain for a minute, by its leaf, and then skips every check: what it remembers
/// must end with the trust it was made under and with the leaf's validity.
@Suite("Client certificate verifier: what a remembered validation may skip")
struct ClientCertificateVerifierTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-verifier-\(UUID().uuidString)")
    private var pki: DevPKIDirectory { DevPKIDirectory(directory: directory) }

    private func leaf() throws -> (NIOSSLCertificate, Certificate) {
        _ = try pki.ensure(clients: ["ice-ero"])
        let presented = try NIOSSLCertificate.fromPEMFile(pki.clientCertificatePath("ice-ero"))[0]
        return (presented, try Certificate(derEncoded: presented.toDERBytes()))
    }

    @Test("a remembered leaf is refused as soon as a new trust puts its SPKI or serial on the deny list")
    func denyListEndsRememberedValidation() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (presented, certificate) = try leaf()
        let identity = try ClientCertificate(certificate: certificate)
        let roots = try ClientCertificateVerifier.loadRoots(path: pki.caPath)
        let verifier = ClientCertificateVerifier(trust: .init(roots: roots))
        #expect(await verifier.refusal([presented]) == nil)
        #expect(await verifier.refusal([presented]) == nil)

        verifier.replace(trust: .init(roots: roots, revokedSPKIs: [identity.spkiSHA256]))
        #expect(await verifier.refusal([presented])?.kind == .denyListed)
        verifier.replace(trust: .init(roots: roots))
        #expect(await verifier.refusal([presented]) == nil)
        verifier.replace(trust: .init(roots: roots, revokedSerials: [identity.serial]))
        #expect(await verifier.refusal([presented])?.kind == .denyListed)
    }

    /// A chain of a root, a sub-CA and an agency's leaf, as an agency whose certificates a sub-CA issues presents it.
    private static func subordinateChain() throws -> (root: Certificate, sub: NIOSSLCertificate, leaf: NIOSSLCertificate) {
        let now = Date()
        func issue(_ subject: String, issuer: String, key: P256.Signing.PrivateKey, by signer: P256.Signing.PrivateKey, ca: Bool) throws -> Certificate {
            try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: now - 3600, notValidAfter: now + 86_400,
                issuer: try DistinguishedName { CommonName(issuer) }, subject: try DistinguishedName { CommonName(subject) },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    if ca {
                        Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                        Critical(KeyUsage(keyCertSign: true))
                    } else {
                        Critical(BasicConstraints.notCertificateAuthority)
                        Critical(KeyUsage(digitalSignature: true))
                        try ExtendedKeyUsage([.clientAuth])
                    }
                },
                issuerPrivateKey: .init(signer)
            )
        }
        func nio(_ certificate: Certificate) throws -> NIOSSLCertificate {
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            return try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
        }
        let (rootKey, subKey, leafKey) = (P256.Signing.PrivateKey(), P256.Signing.PrivateKey(), P256.Signing.PrivateKey())
        let root = try issue("Test Root", issuer: "Test Root", key: rootKey, by: rootKey, ca: true)
        let sub = try issue("Test Agencies CA", issuer: "Test Root", key: subKey, by: rootKey, ca: true)
        let leaf = try issue("aurora-pd", issuer: "Test Agencies CA", key: leafKey, by: subKey, ca: false)
        return (root, try nio(sub), try nio(leaf))
    }

    /// An attacker's pass over the HTTP/2 listener: a handshake's intermediates were remembered by leaf before its
    /// chain was checked (4,096 junk handshakes cleared every agency's), and a re-pass: before the client's key was
    /// proven, since BoringSSL calls the verifier before CertificateVerify, so anyone holding an agency's public leaf
    /// could replace its intermediates with ones about to expire. Once the minute's memory of a validation lapsed,
    /// the agency's open connections were refused as untrusted.
    @Test("a connection is validated again with its own handshake's intermediates; another handshake of its leaf changes nothing")
    func connectionsKeepTheirIntermediates() async throws {
        let chain = try Self.subordinateChain()
        let (leaf, sub) = (try chain.leaf.toDERBytes(), try chain.sub.toDERBytes())
        let clock = Mutex(Date())
        let verifier = ClientCertificateVerifier(trust: .init(roots: [chain.root]), now: { clock.withLock { $0 } })
        #expect(await verifier.refusal([chain.leaf, chain.sub]) == nil)
        // The handshake completes, the key proven: its intermediates stand for the leaf's resumed sessions.
        verifier.rememberHandshake(leaf: CertificateBytes(der: leaf), intermediates: [sub])
        clock.withLock { $0 = $0.addingTimeInterval(61) }
        // The agency's public leaf, presented with an intermediate of the attacker's making, is refused; had it
        // validated, nothing would be kept before the handshake completed.
        let junk = try Self.subordinateChain().sub
        #expect(await verifier.refusal([chain.leaf, junk])?.kind == .untrusted)
        #expect(await verifier.refusal(leafDER: leaf, intermediates: [sub]) == nil, "the connection's own chain")
        #expect(verifier.intermediates(ofResumed: CertificateBytes(der: leaf)) == [sub])
    }

    /// Helper 247 (#4): every stream of every connection of a certificate whose remembered validation had lapsed
    /// started a validation of its own.
    @Test("requests that need one chain validated while its validation runs wait for that one")
    func concurrentValidationsCoalesce() async throws {
        let chain = try Self.subordinateChain()
        let (leaf, sub) = (try chain.leaf.toDERBytes(), try chain.sub.toDERBytes())
        // The clock is read once a validation; the first one holds until the others have asked (or 5 s have passed).
        let reads = Atomic<Int>(0)
        let release = DispatchSemaphore(value: 0)
        let verifier = ClientCertificateVerifier(trust: .init(roots: [chain.root]), now: {
            if reads.add(1, ordering: .relaxed).newValue == 1 { _ = release.wait(timeout: .now() + 5) }
            return Date()
        })
        let refusals = await withTaskGroup(of: CertificateRefusal?.self) { group in
            for _ in 0..<50 { group.addTask { await verifier.refusal(leafDER: leaf, intermediates: [sub]) } }
            try? await Task.sleep(for: .milliseconds(300))
            release.signal()
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(refusals.count == 50 && refusals.allSatisfy { $0 == nil })
        #expect(reads.load(ordering: .relaxed) == 1, "one validation for the fifty requests")
        // Once it is done, the next request is answered from its memory, and a chain with other intermediates is
        // validated on its own.
        #expect(await verifier.refusal(leafDER: leaf, intermediates: [sub]) == nil)
        let junk = try Self.subordinateChain().sub.toDERBytes()
        #expect(await verifier.refusal(leafDER: leaf, intermediates: [junk]) == nil, "remembered for the leaf")
    }

    /// A re-pass: a handshake accepted from the memory of its leaf's validation had its chain, unread, kept for the
    /// connection and remembered for the leaf's resumed sessions: a client of the agency's sending its leaf alone made
    /// every resumed session of the leaf untrusted a minute later.
    @Test("the handshake keeps a chain for its connection only when it validated it; one accepted from memory keeps none")
    func callbackKeepsOnlyValidatedChains() async throws {
        let chain = try Self.subordinateChain()
        let verifier = ClientCertificateVerifier(trust: .init(roots: [chain.root]))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        // Called only on `loop`, as NIOSSL calls it on its connection's.
        nonisolated(unsafe) let callback = GatewayTLS.verificationCallback(verifier)
        func verdict(_ presented: [NIOSSLCertificate]) async throws -> NIOSSLVerificationResultWithMetadata {
            let promise = loop.makePromise(of: NIOSSLVerificationResultWithMetadata.self)
            loop.execute { callback(presented, promise) }
            return try await promise.futureResult.get()
        }
        let validated = try await verdict([chain.leaf, chain.sub])
        #expect(validated == .certificateVerified(VerificationMetadata(ValidatedCertificateChain([chain.leaf, chain.sub]))))
        // A re-pass: until a handshake of the leaf has completed and left its intermediates, none is accepted from
        // memory, since its connection would have no intermediates to be validated with again.
        #expect(try await verdict([chain.leaf]) == .failed, "validated, and refused without its intermediate")
        #expect(try await verdict([chain.leaf, chain.sub]) == validated)
        verifier.rememberHandshake(leaf: CertificateBytes(der: try chain.leaf.toDERBytes()), intermediates: [try chain.sub.toDERBytes()])
        #expect(try await verdict([chain.leaf]) == .certificateVerified(VerificationMetadata(nil)), "accepted from memory, its chain unread")
        let junk = try Self.subordinateChain().sub
        #expect(try await verdict([chain.leaf, junk]) == .certificateVerified(VerificationMetadata(nil)))
    }

    @Test("a remembered validation lasts a minute and never outside the leaf's validity")
    func rememberedValidationExpires() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (presented, certificate) = try leaf()
        let clock = Mutex(Date())
        let verifier = ClientCertificateVerifier(
            trust: .init(roots: try ClientCertificateVerifier.loadRoots(path: pki.caPath)), now: { clock.withLock { $0 } }
        )
        #expect(await verifier.refusal([presented]) == nil)
        clock.withLock { $0 = certificate.notValidAfter.addingTimeInterval(1) }
        #expect(await verifier.refusal([presented])?.kind == .expired)
        #expect(await verifier.refusal(leafDER: try presented.toDERBytes(), intermediates: [])?.kind == .expired)

        clock.withLock { $0 = Date() }
        #expect(await verifier.refusal([presented]) == nil)
        clock.withLock { $0 = certificate.notValidBefore.addingTimeInterval(-1) }
        #expect(await verifier.refusal([presented])?.description.hasPrefix("chain does not validate") == true)
    }
}

/// Attacker's passes over the presented chain, which the handshake validates before the client proves its key.
@Suite("Client certificate verifier: hostile chains")
struct HostileChainTests {
    private static let now = Date()

    /// A certificate of `subject`, signed by `signer` as `issuer`: a CA's with `usage` (a client's leaf without one).
    private static func issue(
        _ subject: String, issuer: String, key: P256.Signing.PrivateKey, by signer: P256.Signing.PrivateKey, ca usage: KeyUsage?
    ) throws -> Certificate {
        try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: now - 3600, notValidAfter: now + 86_400,
            issuer: try DistinguishedName { CommonName(issuer) }, subject: try DistinguishedName { CommonName(subject) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                if let usage {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                    Critical(usage)
                } else {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.clientAuth])
                }
            },
            issuerPrivateKey: .init(signer)
        )
    }

    private static func nio(_ certificate: Certificate) throws -> NIOSSLCertificate {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
    }

    /// A CA certificate marked as one, but whose key usage allows signing documents only, issued a client leaf that
    /// the verifier accepted: openssl refuses it.
    @Test("an intermediate whose key usage lacks keyCertSign issues no accepted client certificate")
    func intermediateWithoutCertificateSigning() async throws {
        let (rootKey, subKey, leafKey) = (P256.Signing.PrivateKey(), P256.Signing.PrivateKey(), P256.Signing.PrivateKey())
        let root = try Self.issue("Test Root", issuer: "Test Root", key: rootKey, by: rootKey, ca: KeyUsage(keyCertSign: true))
        let leaf = try Self.nio(try Self.issue("aurora-pd", issuer: "Test Agencies CA", key: leafKey, by: subKey, ca: nil))
        let verifier = ClientCertificateVerifier(trust: .init(roots: [root]))
        let signing = try Self.issue("Test Agencies CA", issuer: "Test Root", key: subKey, by: rootKey, ca: KeyUsage(keyCertSign: true))
        #expect(await verifier.refusal([leaf, try Self.nio(signing)]) == nil, "an intermediate that may sign certificates")
        let documentsOnly = try Self.issue("Test Agencies CA", issuer: "Test Root", key: subKey, by: rootKey, ca: KeyUsage(digitalSignature: true))
        let refusal = await ClientCertificateVerifier(trust: .init(roots: [root])).refusal([leaf, try Self.nio(documentsOnly)])
        #expect(refusal?.kind == .untrusted && refusal?.description.contains("keyCertSign") == true, "\(String(describing: refusal))")
    }

    /// A review's pass: within the bound, seven intermediates of one subject and key, each self-issued and with its own
    /// names (which the path search's loop check compares), made every ordering of them a path: ~13,700 partial chains
    /// and 5.9 s of a release build's CPU for one handshake. The issuers' lookups are now counted and bounded.
    @Test("look-alike intermediates within the bound cost a bounded number of issuer lookups")
    func lookAlikesWithinTheBound() async throws {
        let key = P256.Signing.PrivateKey()
        var presented = [try Self.nio(try Self.issue("victim", issuer: "Look-alike CA", key: P256.Signing.PrivateKey(), by: key, ca: nil))]
        for index in 1..<ClientCertificateVerifier.maximumPresentedCertificates {
            let certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: Self.now - 3600,
                notValidAfter: Self.now + 86_400, issuer: try DistinguishedName { CommonName("Look-alike CA") },
                subject: try DistinguishedName { CommonName("Look-alike CA") }, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                    Critical(KeyUsage(keyCertSign: true))
                    SubjectAlternativeNames([.dnsName("ca\(index).example")])
                },
                issuerPrivateKey: .init(key)
            )
            presented.append(try Self.nio(certificate))
        }
        let rootKey = P256.Signing.PrivateKey()
        let root = try Self.issue("Unrelated Root", issuer: "Unrelated Root", key: rootKey, by: rootKey, ca: KeyUsage(keyCertSign: true))
        #expect(await ClientCertificateVerifier(trust: .init(roots: [root])).refusal(presented)?.kind == .untrusted)

        // The store offers its budget of candidates, over its lookups, then none.
        let intermediates = try presented.dropFirst().map { try Certificate(derEncoded: $0.toDERBytes()) }
        let store = BudgetedIntermediates(intermediates, candidates: intermediates.count + 3)
        let subject = intermediates[0].subject
        #expect(await store[subject]?.count == intermediates.count)
        #expect(await store[subject]?.count == 3)
        #expect(await store[subject] == nil, "the budget is spent")
        #expect(await store.contains(intermediates[1]), "what it holds is still known, for the search's loop check")
    }

    /// Two look-alike intermediates at each of 40 levels (one subject and key, each signed by the next level's key),
    /// chaining to no trusted root: the path search tried 2^40 paths on the event loops, and one such handshake a
    /// core stopped the gateway. A chain past the bound is refused before any path is built.
    @Test("a chain longer than the bound is refused before its paths are searched")
    func pathBomb() async throws {
        let keys = (0...40).map { _ in P256.Signing.PrivateKey() }
        var presented = [try Self.nio(try Self.issue("victim", issuer: "Level 1", key: P256.Signing.PrivateKey(), by: keys[1], ca: nil))]
        for level in 1..<40 {
            for _ in 0..<2 {
                let certificate = try Self.issue(
                    "Level \(level)", issuer: "Level \(level + 1)", key: keys[level], by: keys[level + 1], ca: KeyUsage(keyCertSign: true)
                )
                presented.append(try Self.nio(certificate))
            }
        }
        let root = try Self.issue("Unrelated Root", issuer: "Unrelated Root", key: keys[0], by: keys[0], ca: KeyUsage(keyCertSign: true))
        let verifier = ClientCertificateVerifier(trust: .init(roots: [root]))
        let refusal = await verifier.refusal(presented)
        #expect(refusal?.description == "the client presented more than \(ClientCertificateVerifier.maximumPresentedCertificates) certificates")
        // At the bound, the look-alike pairs leave few paths to try; the chain is refused for reaching no root.
        let bounded = Array(presented.prefix(ClientCertificateVerifier.maximumPresentedCertificates))
        #expect(await verifier.refusal(bounded)?.kind == .untrusted)
    }
}
