import Foundation
import NIOSSL
import Synchronization
import Testing
import WarrantGateCore
import WarrantGateDevPKI
@testable import WarrantGateServer
import X509

/// A request or handshake that began before a reload finishes after it: what it learnt under the old state must not
/// be remembered under the new one, or a revocation or a removed CA would be ignored until the next reload.
@Suite("Reloads racing requests and handshakes")
struct ReloadRaceTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-race-\(UUID().uuidString)")
    private var pki: DevPKIDirectory { DevPKIDirectory(directory: directory) }

    private func leafDER(_ agency: String) throws -> [UInt8] {
        _ = try pki.ensure(clients: [agency])
        return try NIOSSLCertificate.fromPEMFile(pki.clientCertificatePath(agency))[0].toDERBytes()
    }

    @Test("an identification made with a directory that a reload replaced is never served under the new one")
    func identityAcrossRegistryReload() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let der = try leafDER("ice-ero")
        let policies = PolicySet(
            policy: try PolicyParser.load(path: Repository.path("policies/denver.yaml")),
            directory: try AgencyDirectoryFile.load(path: Repository.path("policies/agencies.yaml"), authorityOverrides: ["demo-ca": pki.caPath])
        )
        let state = GatewayState(policies: policies, registry: .empty)
        let before = state.current
        guard case .agency(let agency) = try before.identify(der: der).1 else { Issue.record("not identified"); return }
        #expect(agency.id == "ice-ero")

        let spki = try ClientCertificate(derBytes: der).spkiSHA256
        state.replace(registry: RegistrySnapshot(documents: [], records: [], certificateRevocations: [spki: "key compromised"], version: 2))
        // The request that read the state before the revocation identifies its client after it.
        _ = try before.identify(der: der)

        #expect(try state.current.identify(der: der).1 == .revoked(reason: "key compromised", agency: agency))
    }

    @Test("a reload whose directory no longer lists an agency ends the certificates the registry added to it")
    func delistedAgencyEndsItsRegistryCertificates() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let der = try leafDER("ice-ero")
        let policy = try PolicyParser.load(path: Repository.path("policies/denver.yaml"))
        let file = try AgencyDirectoryFile.load(path: Repository.path("policies/agencies.yaml"), authorityOverrides: ["demo-ca": pki.caPath])
        let listed = try #require(file.agency(id: "ice-ero"))
        // ICE's key pinned in the registry too, as `agency add ice-ero` does while the file lists ICE.
        let pinned = Agency(id: "ice-ero", name: "ICE", category: .federalImmigration, spkiPins: [try ClientCertificate(derBytes: der).spkiSHA256])
        let registry = RegistrySnapshot(documents: [], records: [], agencies: [pinned], agencyExtensions: ["ice-ero"], version: 2)
        let state = GatewayState(policies: PolicySet(policy: policy, directory: file), registry: registry)
        guard case .agency(let identified) = try state.current.identify(der: der).1 else { Issue.record("not identified"); return }
        #expect(identified.id == listed.id && identified.category == listed.category)

        let delisted = AgencyDirectory(agencies: file.agencies.filter { $0.id != "ice-ero" }, authorities: Array(file.authorities.values))
        state.replace(policies: PolicySet(policy: policy, directory: delisted))
        #expect(try state.current.identify(der: der).1 == .unknown)
        // An agency the registry made itself, not an extension, stands alone.
        state.replace(registry: RegistrySnapshot(documents: [], records: [], agencies: [pinned], version: 3))
        #expect(try state.current.identify(der: der).1 == .agency(pinned))
    }

    @Test("a chain validated under a trust replaced meanwhile is not reused under the new trust")
    func validationAcrossTrustReload() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let leaf = try NIOSSLCertificate(bytes: leafDER("ice-ero"), format: .der)
        let demoCA = try ClientCertificateVerifier.loadRoots(path: pki.caPath)
        let otherCA = try DevCertificateAuthority(commonName: "Another County CA").certificate
        // The reload lands after the handshake has read the trust and before its validation is stored.
        let reloadDuringValidation = Mutex<(@Sendable () -> Void)?>(nil)
        let verifier = ClientCertificateVerifier(trust: .init(roots: demoCA), now: {
            reloadDuringValidation.withLock { reload in
                reload?()
                reload = nil
            }
            return Date()
        })
        reloadDuringValidation.withLock { $0 = { verifier.replace(trust: .init(roots: [otherCA])) } }

        #expect(await verifier.refusal([leaf]) == nil)  // judged by the trust it began with
        let refusal = await verifier.refusal([leaf])
        #expect(refusal?.kind == .untrusted, "\(refusal.map(String.init(describing:)) ?? "accepted")")
    }
}
