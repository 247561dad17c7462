import Foundation
import Testing
import WarrantGateCore
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
        #expect(defaults.limits.maxStreamResetsPerCertificate == 400)
        #expect(defaults.limits.maxConnectionsPerAgency == nil)
        #expect(try load(base + "limits: { max-connections-per-agency: 100 }\n").limits.maxConnectionsPerAgency == 100)
        let tuned = try load(
            base + "limits: { upstream-connections: 16, max-in-flight-per-agency: 8, upstream-connect-timeout-ms: 500, max-stream-resets-per-certificate: 40 }\n"
        )
        #expect(tuned.limits.maxStreamResetsPerCertificate == 40)
        #expect(tuned.limits.upstreamConnections == 16)
        #expect(tuned.limits.maxInFlightPerAgency == 8)
        #expect(tuned.limits.upstreamConnectTimeout == .milliseconds(500))
    }

    /// An attacker's pass: a serial written with its sign byte (`00:CF:3A…`, as `certtool` and DER dumps show one whose
    /// first byte has its high bit set) never matched the certificate's, and the revoked certificate got in.
    @Test("a revoked serial is read by its value: a leading 00, colons and capitals name the same certificate")
    func revokedSerialsByValue() throws {
        let configuration = try load(base.replacingOccurrences(
            of: "client-ca: ca.pem }", with: #"client-ca: ca.pem, revoked-serials: ["00:CF:3A:0B", "0001", "00", "7f"] }"#
        ))
        #expect(configuration.revokedSerials == ["cf3a0b", "01", "00", "7f"])
        #expect(ClientCertificate.serialHex([0x00, 0xCF, 0x3A, 0x0B]) == "cf3a0b")
        #expect(ClientCertificate.serialHex([0xCF, 0x3A, 0x0B]) == "cf3a0b")
        #expect(ClientCertificate.serialHex([0x00]) == "00")
    }

    /// An attacker's pass: `enabled: false` beside a `host` (as the packaged file and the docs' sample set one) left
    /// the unauthenticated admin listener on.
    @Test("admin.enabled: false turns the admin listener off, whatever host and port say")
    func adminDisabled() throws {
        #expect(try load(base + "admin: { host: 0.0.0.0, port: 9090 }\n").adminHost == "0.0.0.0")
        for section in ["{ host: 0.0.0.0, port: 9090, enabled: false }", "{ enabled: false, host: 127.0.0.1 }", "{ enabled: false }"] {
            #expect(try load(base + "admin: \(section)\n").adminHost == nil, "\(section)")
        }
    }

    /// A loopback PostgreSQL reached in the clear is answered by whoever holds its port: the gateway says so at start.
    @Test("a start warning names a loopback PostgreSQL without ca-file, and legacy client certificates; none otherwise")
    func startWarnings() throws {
        let tail = base.replacingOccurrences(of: "database: warrant-gate.sqlite\n", with: "")
        #expect(try load(base).startWarnings.isEmpty)
        let clear = try load(tail + "database: { url: \"postgres://wg_gateway@127.0.0.1:5432/warrant_gate\" }\n").startWarnings
        #expect(clear.count == 1 && clear[0].contains("in the clear") && clear[0].contains("database.ca-file"), "\(clear)")
        #expect(try load(tail + "database: { url: \"postgres://wg_gateway@127.0.0.1:5432/warrant_gate\", ca-file: db-ca.pem }\n").startWarnings.isEmpty)
        #expect(try load(tail + "database: { url: \"postgres://wg_gateway@db.county.example:5432/warrant_gate\" }\n").startWarnings.isEmpty)
        let legacy = try load(base.replacingOccurrences(of: "client-ca: ca.pem }", with: "client-ca: ca.pem, legacy-client-certificates: true }"))
        #expect(legacy.startWarnings.count == 1 && legacy.startWarnings[0].contains("legacy-client-certificates"))
        // A review: the admin listener, plain HTTP without authentication, was put on a public address silently.
        for host in ["0.0.0.0", "10.1.2.3", "::", "gateway.county.example"] {
            let exposed = try load(base + "admin: { host: \"\(host)\", port: 9090 }\n").startWarnings
            #expect(exposed.count == 1 && exposed[0].contains("admin.host is \(host), not loopback"), "\(host): \(exposed)")
        }
        for host in ["127.0.0.1", "127.0.0.53", "::1", "localhost"] {
            #expect(try load(base + "admin: { host: \"\(host)\", port: 9090 }\n").startWarnings.isEmpty, "\(host)")
        }
    }

    @Test("every limit in docs/configuration.md's sample is a key the gateway reads, with the value it documents")
    func documentedLimits() throws {
        let document = try String(contentsOfFile: Repository.path("docs/configuration.md"), encoding: .utf8)
        let lines = document.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0 == "limits:" })
        let block = lines[start...].prefix { $0 == "limits:" || $0.hasPrefix("  ") }
        let keys = block.dropFirst()
        #expect(keys.count > 20)
        let documented = try load(base + block.joined(separator: "\n") + "\n")
        #expect(documented.limits.upstreamExchangeTimeout == .seconds(300))
        #expect(documented.limits.upstreamReadTimeout == .seconds(30))
        #expect(documented.limits.maxConnectionsSettingUp == 1024)
        // Each documented value less one: every key must move a limit of its own away from its default.
        let lessOne = keys.map { line -> String in
            let parts = line.split(separator: ":", maxSplits: 1)
            let number = parts[1].drop { $0 == " " }.prefix { $0.isNumber }
            return "\(parts[0]): \(Int(number)! - 1)"
        }
        let moved = try load(base + "limits:\n" + lessOne.joined(separator: "\n") + "\n")
        let before = Self.leaves(GatewayConfiguration.Limits()), after = Self.leaves(moved.limits)
        #expect(before.keys.filter { before[$0] != after[$0] }.count == keys.count, "\(before.keys.filter { before[$0] == after[$0] }.sorted())")
    }

    /// Every stored value of `value`, by its path of property names, nested structures flattened.
    private static func leaves(_ value: Any, at path: String = "") -> [String: String] {
        let mirror = Mirror(reflecting: value)
        guard !mirror.children.isEmpty, !(value is Duration) else { return [path: "\(value)"] }
        var leaves: [String: String] = [:]
        for child in mirror.children { leaves.merge(Self.leaves(child.value, at: path + "." + (child.label ?? "?"))) { first, _ in first } }
        return leaves
    }

    @Test("an upstream may be a mapping: its CA and the gateway's certificate for https, paths resolved beside the file")
    func upstreamMapping() throws {
        let records = """
            { url: "https://records.county.test:8443/", ca-file: records-ca.pem, certificate: /etc/wg/client.pem, key: client.key }
            """
        let configuration = try load(base.replacingOccurrences(of: "{ records: \"http://127.0.0.1:9001\" }", with: "{ records: \(records), visits: \"http://10.0.0.6\" }"))
        let settings = try #require(configuration.upstreams["records"])
        #expect(settings.url == "https://records.county.test:8443")
        #expect(settings.caFile?.hasSuffix("/records-ca.pem") == true && settings.caFile?.hasPrefix("/") == true)
        #expect(settings.certificatePath == "/etc/wg/client.pem")
        #expect(settings.keyPath?.hasSuffix("/client.key") == true)
        #expect(configuration.upstreams["visits"] == UpstreamSettings(url: "http://10.0.0.6"))
    }

    @Test("TLS files on an http upstream, a certificate without its key, or an unknown key: refused")
    func upstreamMappingRefusals() {
        for records in [
            #"{ url: "http://10.0.0.5", ca-file: ca.pem }"#, #"{ url: "https://10.0.0.5", certificate: client.pem }"#,
            #"{ url: "https://10.0.0.5", key: client.key }"#, #"{ url: "https://10.0.0.5", ca: ca.pem }"#, #"{ ca-file: ca.pem }"#,
            #"{ url: "https://user@10.0.0.5" }"#, #"{ url: [a] }"#,
        ] {
            #expect(throws: (any Error).self, "\(records)") {
                try load(base.replacingOccurrences(of: "\"http://127.0.0.1:9001\"", with: records))
            }
        }
    }

    @Test("unknown keys, non-positive or overflowing limits and upstreams with a path are refused")
    func refusals() throws {
        #expect(throws: (any Error).self) { try load(base + "limits: { upstream-conections: 16 }\n") }
        #expect(throws: (any Error).self) { try load(base + "limits: { upstream-connections: 0 }\n") }
        // Each of these would overflow later arithmetic (nanoseconds, the per-loop share of connections) and trap.
        for limit in ["upstream-response-timeout-ms: 9300000000000", "upstream-connections: 9223372036854775807", "redact-body-bytes: 1073741825"] {
            #expect(throws: (any Error).self, "\(limit)") { try load(base + "limits: { \(limit) }\n") }
        }
        #expect(try load(base + "limits: { upstream-response-timeout-ms: 86400000, redact-body-bytes: 1073741824 }\n").limits.redactBodyBytes == 1 << 30)
        #expect(throws: (any Error).self) { try load(base.replacingOccurrences(of: "9001\"", with: "9001/records\"")) }
    }

    /// Yams reads `046127` as octal and `1:1:…` as base 60, trapping on the overflow of a long one: the gateway died
    /// on such a port, or on a reload of a policy with such a number. Only decimal digits are numbers now.
    @Test("a number is written in decimal digits: octal, base-60, hex and underscored forms are refused, not misread", arguments: [
        "listen: { port: 046127 }", "listen: { port: 1:1:1:1:1:1:1:1:1:1:1:1 }", "listen: { port: 9223372036854775807:0 }",
        "limits: { upstream-connections: 0x10 }", "limits: { upstream-connections: 1_6 }",
    ])
    func numbersAreDecimal(_ line: String) throws {
        #expect(throws: (any Error).self, "\(line)") { try load(base + line + "\n") }
    }
}
