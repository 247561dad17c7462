import AsyncHTTPClient
import Foundation
import NIOSSL
import Testing
import WarrantGateCore
import WarrantGateDevPKI
@testable import WarrantGateServer

@Suite("TLS posture: validity, revocation, versions, reload", .serialized)
struct TLSPostureTests {
    @Test("expired and not-yet-valid client certificates are refused at the handshake")
    func validityDates() async throws {
        try await withGateway { gateway in
            let ca = try gateway.certificateAuthority()
            let expired = try ca.issueClient(commonName: "denver-pd", organizationalUnit: "denver-pd",
                                             notBefore: Date().addingTimeInterval(-86400 * 30), notAfter: Date().addingTimeInterval(-86400))
            let early = try ca.issueClient(commonName: "denver-pd", organizationalUnit: "denver-pd",
                                           notBefore: Date().addingTimeInterval(86400), notAfter: Date().addingTimeInterval(86400 * 30))
            let valid = try ca.issueClient(commonName: "denver-pd", organizationalUnit: "denver-pd")
            await #expect(throws: (any Error).self) { _ = try await gateway.send(tls: try gateway.clientTLS(issued: expired)) }
            await #expect(throws: (any Error).self) { _ = try await gateway.send(tls: try gateway.clientTLS(issued: early)) }
            #expect(try await gateway.send(tls: try gateway.clientTLS(issued: valid), within: .seconds(30)) == 200)
            #expect(gateway.recorder.requests.count == 1)
        }
    }

    @Test("certificates on the deny list (SPKI or serial) are refused at the handshake")
    func denyList() async throws {
        var revokedSPKI = ""
        var revokedSerial = ""
        try await withGateway(configure: { _, configuration in
            let pki = DevPKIDirectory(directory: URL(fileURLWithPath: configuration.clientCAPath).deletingLastPathComponent())
            revokedSPKI = try ClientCertificate.spkiFingerprint(pem: String(contentsOfFile: pki.clientCertificatePath("ice-ero"), encoding: .utf8))
            let consulate = try ClientCertificate(derBytes: NIOSSLCertificate.fromPEMFile(pki.clientCertificatePath("consulate-mx"))[0].toDERBytes())
            revokedSerial = consulate.serial
            configuration.revokedSPKIs = [revokedSPKI]
            configuration.revokedSerials = [revokedSerial]
        }) { gateway in
            await #expect(throws: (any Error).self) { _ = try await gateway.send(tls: try gateway.clientTLS(agency: "ice-ero")) }
            await #expect(throws: (any Error).self) { _ = try await gateway.send(tls: try gateway.clientTLS(agency: "consulate-mx"), "/visitation/visits?booking=2017-000123") }
            let police = try gateway.clientTLS(agency: "denver-pd")
            let status = try await gateway.send(tls: police, within: .seconds(30))
            #expect(status == 200)
        }
    }

    @Test("TLS 1.1 and TLS 1.2 suites without ECDHE or AEAD are refused")
    func protocolVersions() async throws {
        try await withGateway { gateway in
            var old = try gateway.clientTLS(agency: "denver-pd")
            old.maximumTLSVersion = .tlsv11
            old.minimumTLSVersion = .tlsv1
            await #expect(throws: (any Error).self) { _ = try await gateway.send(tls: old) }
            var weak = try gateway.clientTLS(agency: "denver-pd")
            weak.maximumTLSVersion = .tlsv12
            weak.cipherSuiteValues = [.TLS_RSA_WITH_AES_128_GCM_SHA256, .TLS_RSA_WITH_AES_128_CBC_SHA]
            await #expect(throws: (any Error).self) { _ = try await gateway.send(tls: weak) }
            var tls12 = try gateway.clientTLS(agency: "denver-pd")
            tls12.maximumTLSVersion = .tlsv12
            #expect(try await gateway.send(tls: tls12, within: .seconds(30)) == 200)
        }
    }

    @Test("the server certificate and the client CA reload without a restart; a bad file keeps the old one")
    func reload() async throws {
        try await withGateway { gateway in
            let directory = gateway.pki.directory
            // A new server certificate from a new CA: a client trusting only the new CA fails before the reload.
            let newCA = try DevCertificateAuthority(commonName: "Renewed CA")
            let newServer = try newCA.issueServer(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
            let newCAPath = directory.appendingPathComponent("renewed-ca.pem").path
            try newCA.certificatePEM.write(toFile: newCAPath, atomically: true, encoding: .utf8)
            await #expect(throws: (any Error).self) { _ = try await gateway.send(tls: try gateway.clientTLS(agency: "denver-pd", trust: newCAPath)) }

            try "not a key".write(toFile: gateway.pki.serverKeyPath, atomically: true, encoding: .utf8)
            #expect(gateway.gateway.reload().contains { $0.hasPrefix("server certificate") })
            #expect(try await gateway.send(tls: try gateway.clientTLS(agency: "denver-pd")) == 200)

            try newServer.certificatePEM.write(toFile: gateway.pki.serverCertificatePath, atomically: true, encoding: .utf8)
            try newServer.privateKeyPEM.write(toFile: gateway.pki.serverKeyPath, atomically: true, encoding: .utf8)
            #expect(gateway.gateway.reload().isEmpty)
            #expect(try await gateway.send(tls: try gateway.clientTLS(agency: "denver-pd", trust: newCAPath)) == 200)

            // The client CA: once it is replaced by the renewed CA, the old agency certificates stop working.
            let renewedClient = try newCA.issueClient(commonName: "denver-pd", organizationalUnit: "denver-pd")
            try newCA.certificatePEM.write(toFile: gateway.pki.caPath, atomically: true, encoding: .utf8)
            _ = gateway.gateway.reload()
            await #expect(throws: (any Error).self) { _ = try await gateway.send(tls: try gateway.clientTLS(agency: "denver-pd", trust: newCAPath)) }
            // The directory's demo-ca authority is the same file, so the renewed certificate identifies denver-pd.
            let status = try await gateway.send(tls: try gateway.clientTLS(issued: renewedClient, trust: newCAPath))
            #expect(status == 200)
        }
    }

    @Test("an invalid policy on reload keeps the old policy running")
    func policyReload() async throws {
        try await withGateway(configure: copyingPolicy) { gateway in
            let path = gateway.gateway.configuration.policyPath
            let original = try String(contentsOfFile: path, encoding: .utf8)
            let digest = gateway.gateway.state.current.policies.policy.digest
            try (original + "\n  - id: broken\n    effect: maybe\n").write(toFile: path, atomically: true, encoding: .utf8)
            let errors = gateway.gateway.reload()
            #expect(errors.count == 1)
            #expect(errors[0].contains("denver.yaml:"))
            #expect(gateway.gateway.state.current.policies.policy.digest == digest)
            #expect(try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123").status == 200)

            let stricter = original.replacingOccurrences(of: "category: [local-law-enforcement, prosecutor, defense-counsel, court]", with: "category: [prosecutor, defense-counsel, court]")
            try stricter.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(gateway.gateway.reload().isEmpty)
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(answer.reason == "no_matching_permit")
            let row = try #require(try await gateway.exportedRows().first { $0.decisionId == answer.decisionId })
            #expect(row.policyDigest != digest)
        }
    }
}
