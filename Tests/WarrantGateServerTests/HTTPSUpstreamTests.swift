import Foundation
import Hummingbird
import HummingbirdTLS
import NIOSSL
import Testing
import WarrantGateDemo
import WarrantGateDevPKI
@testable import WarrantGateServer

@Suite("An https upstream: verified against its own CA, by name or address, with the gateway's certificate if asked")
struct HTTPSUpstreamTests {
    /// The records system's CA, a certificate it issued, and the files a configuration names.
    private struct UpstreamPKI {
        let authority: DevCertificateAuthority
        let directory: URL

        init() throws {
            authority = try DevCertificateAuthority(commonName: "County Records CA")
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-https-upstream-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try authority.certificatePEM.write(to: caURL, atomically: true, encoding: .utf8)
        }

        var caURL: URL { directory.appendingPathComponent("records-ca.pem") }

        /// Writes `issued` as `name.pem` and `name.key`; returns their paths.
        func write(_ issued: IssuedCertificate, as name: String) throws -> (certificate: String, key: String) {
            let certificate = directory.appendingPathComponent("\(name).pem")
            let key = directory.appendingPathComponent("\(name).key")
            try issued.certificatePEM.write(to: certificate, atomically: true, encoding: .utf8)
            try issued.privateKeyPEM.write(to: key, atomically: true, encoding: .utf8)
            return (certificate.path, key.path)
        }
    }

    /// Runs `body` with a gateway whose `records` upstream is `settings(port)`: the simulated records system over TLS
    /// with `certificate`, asking for a client certificate from `clientCA` if given.
    private func withTLSRecords(
        certificate: IssuedCertificate, requireClientsOf clientCA: DevCertificateAuthority? = nil, policy: String = "policies/denver.yaml",
        serverTLS: (inout TLSConfiguration) -> Void = { _ in },
        settings: @escaping (Int) -> UpstreamSettings, _ body: (GatewayHarness, UpstreamRecorder) async throws -> Void
    ) async throws {
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.privateKeyPEM.utf8), format: .pem))
        )
        serverTLS(&tls)
        if let clientCA {
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(clientCA.certificatePEM.utf8)))
        }
        let recorder = UpstreamRecorder()
        try await withTestServer(SimulatedUpstreams.recordsRouter(observer: recorder.observer), server: try .tls(tlsConfiguration: tls)) { port in
            try await withGateway(configure: { _, configuration in
                configuration.upstreams["records"] = settings(port)
                configuration.policyPath = Repository.path(policy)
            }) { gateway in try await body(gateway, recorder) }
        }
    }

    @Test("by name and by address, the records system's own CA is trusted and the answer comes through")
    func trustedByNameAndAddress() async throws {
        let pki = try UpstreamPKI()
        let server = try pki.authority.issueServer(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        for host in ["localhost", "127.0.0.1"] {
            try await withTLSRecords(certificate: server, settings: { UpstreamSettings(url: "https://\(host):\($0)", caFile: pki.caURL.path) }) { gateway, recorder in
                let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
                #expect(answer.status == 200, "\(host): \(answer.body)")
                #expect(answer.body.contains("2017-000123"))
                #expect(recorder.requests.map(\.path) == ["/records/inmates/2017-000123"])
                // The second request reuses the pooled connection and is answered the same.
                #expect(try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123").status == 200)
            }
        }
    }

    /// The gateway offers forward-secret suites only; an older server that speaks TLS 1.2 with an ECDHE CBC suite at
    /// most is still reached.
    @Test("a TLS 1.2 records system with only an ECDHE CBC suite is reached")
    func olderServer() async throws {
        let pki = try UpstreamPKI()
        let server = try pki.authority.issueServer(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        try await withTLSRecords(certificate: server, serverTLS: { tls in
            tls.maximumTLSVersion = .tlsv12
            tls.cipherSuiteValues = [.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA]
        }, settings: { UpstreamSettings(url: "https://localhost:\($0)", caFile: pki.caURL.path) }) { gateway, recorder in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(answer.status == 200)
            #expect(recorder.requests.count == 1)
        }
    }

    /// "Only the address" is a certificate for another name that lists the address the gateway reached: NIOSSL alone
    /// accepts it for a host name, so whoever answers at that address after a DNS spoof could pass for the upstream.
    @Test("a certificate from another CA, for another name or only the address, or a request for a certificate the gateway lacks: 502, nothing read")
    func refusedUpstreams() async throws {
        let pki = try UpstreamPKI()
        let stranger = try DevCertificateAuthority(commonName: "Someone Else's CA")
        let gatewayClients = try DevCertificateAuthority(commonName: "Records Client CA")
        let cases: [(String, IssuedCertificate, DevCertificateAuthority?)] = [
            ("another CA", try stranger.issueServer(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"]), nil),
            ("another name", try pki.authority.issueServer(dnsNames: ["records.county.test"], ipAddresses: []), nil),
            ("only the address", try pki.authority.issueServer(dnsNames: ["records.county.test"], ipAddresses: ["127.0.0.1"]), nil),
            ("a client certificate asked for", try pki.authority.issueServer(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"]), gatewayClients),
        ]
        for (label, certificate, clientCA) in cases {
            try await withTLSRecords(
                certificate: certificate, requireClientsOf: clientCA, settings: { UpstreamSettings(url: "https://localhost:\($0)", caFile: pki.caURL.path) }
            ) { gateway, recorder in
                let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
                #expect(answer.status == 502, "\(label)")
                #expect(answer.reason == "upstream_unavailable", "\(label)")
                #expect(recorder.requests.isEmpty, "\(label)")
                let rows = try await gateway.exportedRows(expecting: [answer.decisionId ?? ""])
                #expect(rows.first { $0.decisionId == answer.decisionId }?.outcome?.error == "upstream_unavailable", "\(label)")
            }
        }
    }

    /// A helper's pass: only an upstream named by DNS had its handshake timed, so one reached by its address that took
    /// the connection and never answered the ClientHello held its place in the pool for the response timeout.
    @Test("an https upstream reached by its address that never completes the handshake times out within the connect timeout", .timeLimit(.minutes(1)))
    func handshakeByAddressIsTimed() async throws {
        let pki = try UpstreamPKI()
        let silent = try await LoopbackTCPServer { _ in }
        var limits = GatewayConfiguration.Limits()
        limits.upstreamConnectTimeout = .milliseconds(300)
        limits.upstreamResponseTimeout = .seconds(60)
        try await withGateway(limits: limits, configure: { _, configuration in
            configuration.upstreams["records"] = UpstreamSettings(url: "https://127.0.0.1:\(silent.port)", caFile: pki.caURL.path)
        }) { gateway in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(answer.status == 504 && answer.reason == "upstream_timeout", "\(answer.status) \(answer.reason ?? "")")
        }
        await silent.close()
    }

    @Test("a DNS name matches without case or trailing dot; a wildcard stands for exactly one leftmost label")
    func dnsNameMatching() {
        let matches: [(String, String)] = [
            ("records.county.test", "records.county.test"), ("Records.County.Test.", "records.county.test"),
            ("*.county.test", "records.county.test"), ("records.county.test", "RECORDS.county.test."),
        ]
        let refusals: [(String, String)] = [
            ("records.county.test", "custody.county.test"), ("*.county.test", "county.test"), ("*.county.test", "a.records.county.test"),
            ("*.test", "county.test"), ("r*.county.test", "records.county.test"), ("*.*.test", "a.county.test"), ("", "records.county.test"),
            ("*.county.test", ".county.test"), ("records.county.test", ""),
        ]
        for (pattern, host) in matches { #expect(UpstreamIdentityCheck.dnsName(pattern, matches: host), "\(pattern) / \(host)") }
        for (pattern, host) in refusals { #expect(!UpstreamIdentityCheck.dnsName(pattern, matches: host), "\(pattern) / \(host)") }
    }

    @Test("the gateway presents its own certificate when the records system asks for one")
    func gatewayClientCertificate() async throws {
        let pki = try UpstreamPKI()
        let gatewayClients = try DevCertificateAuthority(commonName: "Records Client CA")
        let client = try pki.write(try gatewayClients.issueClient(commonName: "warrant-gate", organizationalUnit: "gateways"), as: "gateway-client")
        let server = try pki.authority.issueServer(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        try await withTLSRecords(certificate: server, requireClientsOf: gatewayClients, settings: {
            UpstreamSettings(url: "https://localhost:\($0)", caFile: pki.caURL.path, certificatePath: client.certificate, keyPath: client.key)
        }) { gateway, recorder in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(answer.status == 200)
            #expect(recorder.requests.count == 1)
        }
    }

    @Test("the fact lookup reaches an https records system with the same trust")
    func factLookupOverTLS() async throws {
        let pki = try UpstreamPKI()
        let server = try pki.authority.issueServer(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        try await withTLSRecords(
            certificate: server, policy: "policies/california.yaml", settings: { UpstreamSettings(url: "https://localhost:\($0)", caFile: pki.caURL.path) }
        ) { gateway, recorder in
            // California lets ICE have the release date of an inmate with a qualifying conviction, a fact the records
            // system holds, in answer to its notification request.
            try gateway.register("I247N-1", kind: .notificationRequest, subject: "2017-000456", scope: ["records.release-date"])
            try await gateway.awaitRegistry()
            let answer = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000456/release")
            #expect(answer.status == 200)
            #expect(recorder.requests.contains { $0.path.hasSuffix("/facts") })
        }
    }

    /// The lookup goes through the data plane's pools, so a records system that only the connected address vouches
    /// for is refused there too: its "facts" never reach a decision.
    @Test("a fact lookup to a certificate that names only the address fails, and the rules that need facts deny")
    func factLookupRefusesAddressOnlyCertificate() async throws {
        let pki = try UpstreamPKI()
        let server = try pki.authority.issueServer(dnsNames: ["records.county.test"], ipAddresses: ["127.0.0.1"])
        try await withTLSRecords(
            certificate: server, policy: "policies/california.yaml", settings: { UpstreamSettings(url: "https://localhost:\($0)", caFile: pki.caURL.path) }
        ) { gateway, recorder in
            let answer = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000456/release")
            #expect(answer.status == 403, "\(answer.body)")
            #expect(answer.reason == "policy_error", "\(answer.body)")
            #expect(recorder.requests.isEmpty)
        }
    }

    @Test("an unreadable or empty CA file stops the gateway at start, naming the upstream")
    func unreadableTrust() throws {
        let pki = try UpstreamPKI()
        let empty = pki.directory.appendingPathComponent("empty.pem")
        try "not a certificate\n".write(to: empty, atomically: true, encoding: .utf8)
        for path in [empty.path, pki.directory.appendingPathComponent("missing.pem").path] {
            let settings = UpstreamSettings(url: "https://localhost:1", caFile: path)
            #expect {
                _ = try UpstreamEndpoint(name: "records", settings: settings)
            } throws: { error in
                "\(error)".contains("upstream 'records'") && "\(error)".contains(path)
            }
        }
    }
}
