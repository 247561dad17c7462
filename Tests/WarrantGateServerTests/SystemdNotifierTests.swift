import Foundation
import Logging
import ServiceLifecycle
import Testing
import WarrantGateDevPKI
import WarrantGateTestSupport
import WarrantGateStore
@testable import WarrantGateServer

@Suite("systemd notifications")
struct SystemdNotifierTests {
    @Test("each notification is one datagram, to an abstract socket or to a path", arguments: [true, false])
    func messages(abstract: Bool) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-notify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = try NotifySocket(address: abstract ? "@wg-notify-\(UUID().uuidString)" : directory.appendingPathComponent("notify").path)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address])

        notifier.ready()
        #expect(socket.receive() == "READY=1")
        let before = SystemdNotifier.monotonicMicroseconds()
        notifier.reloading()
        let reloading = try #require(socket.receive())
        let after = SystemdNotifier.monotonicMicroseconds()
        let stamp = try #require(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") ? UInt64(reloading.dropFirst("RELOADING=1\nMONOTONIC_USEC=".count)) : nil)
        #expect(stamp >= before && stamp <= after)
        notifier.stopping()
        #expect(socket.receive() == "STOPPING=1")
    }

    @Test("without a usable NOTIFY_SOCKET nothing is sent, and nothing fails")
    func noSocket() {
        #expect(SystemdNotifier(environment: [:]).socket == nil)
        #expect(!SystemdNotifier(environment: [:]).send("READY=1"))
        #expect(!SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]).send("READY=1"))
        #expect(!SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative/notify"]).send("READY=1"))
        #expect(!SystemdNotifier(environment: ["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)]).send("READY=1"))
        // Nobody listening: dropped, as sd_notify drops it.
        #expect(!SystemdNotifier(environment: ["NOTIFY_SOCKET": "@wg-nobody-\(UUID().uuidString)"]).send("READY=1"))
    }

    @Test("a gateway is READY once its listener accepts connections, and STOPPING before it drains")
    func gatewayLifecycle() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-notify-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let pki = DevPKIDirectory(directory: directory.appendingPathComponent("certs"))
        try pki.ensure(clients: [])
        var configuration = GatewayConfiguration(
            serverCertificatePath: pki.serverCertificatePath, serverKeyPath: pki.serverKeyPath, clientCAPath: pki.caPath,
            upstreams: ["records": "http://127.0.0.1:9", "visitation": "http://127.0.0.1:9", "custody": "http://127.0.0.1:9"],
            policyPath: Repository.path("policies/denver.yaml"), agenciesPath: Repository.path("policies/agencies.yaml"),
            database: try StoreLocation(directory.appendingPathComponent("log.sqlite").path)
        )
        configuration.port = 0
        configuration.adminHost = nil
        configuration.authorities = ["demo-ca": pki.caPath]
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let socket = try NotifySocket(address: "@wg-notify-\(UUID().uuidString)")
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let gateway = try Gateway(
            configuration: configuration, logger: logger, onListening: { continuation.yield($0) },
            notifier: SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address])
        )
        let group = ServiceGroup(services: try gateway.services(), gracefulShutdownSignals: [], logger: logger)
        let running = Task { try await group.run() }

        // Waited for on a thread of its own, and long: with the whole suite running on CI's two cores (two threads in
        // the cooperative pool, which the gateway's services share with every other test) its start took over 30 s,
        // and READY=1 came after the wait gave up. The order is what is tested, not the time.
        let ready = try await blocking { socket.receive(within: 300) }
        #expect(ready == "READY=1")
        var port = 0
        for await bound in ports {
            port = bound
            break
        }
        // READY=1 came after the bind: a TCP connection is accepted.
        let client = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)

        await group.triggerGracefulShutdown()
        let stopping = try await blocking { socket.receive(within: 300) }
        #expect(stopping == "STOPPING=1")
        try await running.value
        #expect(socket.receive(within: 0.1) == nil)
    }

    @Test("the configuration the Debian package installs loads, and names the package's paths")
    func packagedConfiguration() throws {
        let configuration = try GatewayConfiguration.load(path: Repository.path("packaging/gateway.yaml"))
        #expect(configuration.serverCertificatePath == "/etc/warrant-gate/tls/server.pem")
        #expect(configuration.serverKeyPath == "/etc/warrant-gate/tls/server.key")
        #expect(configuration.clientCAPath == "/etc/warrant-gate/tls/client-ca.pem")
        #expect(configuration.database.sqlitePath == "/var/lib/warrant-gate/warrant-gate.sqlite")
        #expect(configuration.logSigningKeyPath == "/var/lib/warrant-gate/log-signing.key")
        #expect(configuration.adminHost == "127.0.0.1")
        #expect(Set(configuration.upstreams.keys) == ["records", "visitation", "custody"])
        // The agency directory is the shipped one, where the package installs it; the policy is the county's own, which
        // the package does not ship, so that the gateway does not start on another jurisdiction's law.
        let shipped = { (path: String) in FileManager.default.fileExists(atPath: Repository.path("policies/" + path.dropFirst("/etc/warrant-gate/policies/".count))) }
        #expect(configuration.agenciesPath.hasPrefix("/etc/warrant-gate/policies/") && shipped(configuration.agenciesPath))
        #expect(configuration.policyPath == "/etc/warrant-gate/policies/local.yaml" && !shipped(configuration.policyPath))
        // The one authority of the package's own agencies.yaml (no agency yet), not the demo's.
        #expect(configuration.authorities == ["county-ca": "/etc/warrant-gate/tls/county-ca.pem"])
    }
}
