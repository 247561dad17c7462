import Foundation
import Testing
@testable import WarrantGateServer

@Suite("The serve configuration file")
struct ConfigurationTests {
    private func load(_ yaml: String) throws -> GatewayConfiguration {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("gateway.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return try GatewayConfiguration.load(path: path)
    }

    private let base = """
        tls: { certificate: server.pem, key: server.key, client-ca: ca.pem }
        upstreams: { records: "http://127.0.0.1:9001" }
        policy: { file: denver.yaml, agencies: agencies.yaml }
        database: warrant-gate.sqlite

        """

    @Test("limits default sensibly and each key is read; relative paths resolve beside the file")
    func limits() throws {
        let defaults = try load(base)
        #expect(defaults.limits.upstreamConnections == 64)
        #expect(defaults.limits.maxInFlightPerAgency == 256)
        let path = try #require(defaults.database.sqlitePath)
        #expect(path.hasSuffix("/warrant-gate.sqlite") && path.hasPrefix("/"))
        let tuned = try load(base + "limits: { upstream-connections: 16, max-in-flight-per-agency: 8, upstream-connect-timeout-ms: 500 }\n")
        #expect(tuned.limits.upstreamConnections == 16)
        #expect(tuned.limits.maxInFlightPerAgency == 8)
        #expect(tuned.limits.upstreamConnectTimeout == .milliseconds(500))
    }

    @Test("unknown keys, non-positive limits and upstreams with a path are refused")
    func refusals() {
        #expect(throws: (any Error).self) { try load(base + "limits: { upstream-conections: 16 }\n") }
        #expect(throws: (any Error).self) { try load(base + "limits: { upstream-connections: 0 }\n") }
        #expect(throws: (any Error).self) { try load(base.replacingOccurrences(of: "9001\"", with: "9001/records\"")) }
    }
}
