import Foundation
import NIOSSL
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
        #expect(await verifier.refusal(leafDER: try presented.toDERBytes())?.kind == .expired)

        clock.withLock { $0 = Date() }
        #expect(await verifier.refusal([presented]) == nil)
        clock.withLock { $0 = certificate.notValidBefore.addingTimeInterval(-1) }
        #expect(await verifier.refusal([presented])?.description.hasPrefix("chain does not validate") == true)
    }
}
