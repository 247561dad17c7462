import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle
import Synchronization
import WarrantGateCore
import WarrantGateDemo
import WarrantGateDevPKI
import WarrantGateStore
@testable import WarrantGateServer

/// The repository root, so the end-to-end tests run the shipped policies.
enum Repository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// Every request an upstream received, so tests can prove what was, and was not, forwarded.
final class UpstreamRecorder: Sendable {
    struct Seen: Sendable {
        let method: String
        let path: String
        let headers: [(String, String)]
    }

    private let seen = Mutex<[Seen]>([])

    var requests: [Seen] { seen.withLock { $0 } }

    var observer: SimulatedUpstreams.Observer {
        { request in
            let headers = request.headers.map { ($0.name.rawName, $0.value) }
            self.seen.withLock { $0.append(Seen(method: request.method.rawValue, path: request.head.path ?? "", headers: headers)) }
        }
    }
}

/// A real gateway on loopback: real TLS with certificates generated for the test, the shipped Denver policy, a real
/// SQLite file and real upstream HTTP servers.
final class GatewayHarness: @unchecked Sendable {
    static let agencies = ["ice-ero", "denver-pd", "public-defender", "consulate-mx", "unregistered"]

    let directory: URL
    let pki: DevPKIDirectory
    let recorder = UpstreamRecorder()
    let upstreams: DemoUpstreams
    let gateway: Gateway
    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>
    private var clients: [String: HTTPClient] = [:]

    var databasePath: String { gateway.configuration.database.sqlitePath! }
    var registry: Registry { gateway.registry }

    static func start(
        upstreamOverrides: [String: String] = [:], limits: GatewayConfiguration.Limits = .init(), now: @escaping @Sendable () -> Date = Date.init,
        configure: (URL, inout GatewayConfiguration) throws -> Void = { _, _ in }
    ) async throws -> GatewayHarness {
        try await GatewayHarness(upstreamOverrides: upstreamOverrides, limits: limits, now: now, configure: configure)
    }

    private init(
        upstreamOverrides: [String: String], limits: GatewayConfiguration.Limits, now: @escaping @Sendable () -> Date,
        configure: (URL, inout GatewayConfiguration) throws -> Void
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-e2e-\(UUID().uuidString)")
        pki = DevPKIDirectory(directory: directory.appendingPathComponent("certs"))
        try pki.ensure(clients: Self.agencies)
        // A policy a test copies into the directory finds the profiles it includes.
        try FileManager.default.copyItem(atPath: Repository.path("policies/profiles"), toPath: directory.appendingPathComponent("profiles").path)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        upstreams = try await DemoUpstreams.start(logger: logger, observer: recorder.observer)
        var configuration = GatewayConfiguration(
            serverCertificatePath: pki.serverCertificatePath, serverKeyPath: pki.serverKeyPath, clientCAPath: pki.caPath,
            upstreams: upstreams.urls.merging(upstreamOverrides) { _, override in override }.mapValues { UpstreamSettings(url: $0) },
            policyPath: Repository.path("policies/denver.yaml"), agenciesPath: Repository.path("policies/agencies.yaml"),
            database: try StoreLocation(directory.appendingPathComponent("log.sqlite").path)
        )
        configuration.port = 0
        configuration.adminHost = nil
        configuration.authorities = ["demo-ca": pki.caPath]
        configuration.limits = limits
        try configure(directory, &configuration)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        gateway = try Gateway(configuration: configuration, logger: logger, now: now, onListening: { continuation.yield($0) })
        group = ServiceGroup(services: try gateway.services(), gracefulShutdownSignals: [], logger: logger)
        let group = self.group
        task = Task { try await group.run() }
        var bound = 0
        for await port in ports {
            bound = port
            break
        }
        port = bound
    }

    /// The harness's CA, able to issue further certificates.
    func certificateAuthority() throws -> DevCertificateAuthority {
        try DevCertificateAuthority(
            certificatePEM: String(contentsOfFile: pki.caPath, encoding: .utf8),
            privateKeyPEM: String(contentsOfFile: pki.directory.appendingPathComponent("ca.key").path, encoding: .utf8)
        )
    }

    /// Sends one request with a client made from explicit TLS settings; throws if the handshake fails.
    /// `within` bounds the whole exchange: short where a refusal is expected (a client refused in a TLS 1.3
    /// handshake may learn of it only at its deadline), longer where an answer is, so that a loaded machine's slow
    /// handshake is not taken for a failure.
    func send(tls: NIOSSL.TLSConfiguration, _ path: String = "/records/inmates/2017-000123", within: TimeAmount = .seconds(5)) async throws -> Int {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: within, read: within)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { _ = client.shutdown() }
        var request = HTTPClientRequest(url: "https://localhost:\(port)\(path)")
        request.method = .GET
        let response = try await client.execute(request, timeout: within)
        return Int(response.status.code)
    }

    /// TLS settings presenting `certificate` (or an agency's), trusting `trust` (default: the harness CA).
    func clientTLS(agency: String? = nil, issued: IssuedCertificate? = nil, trust: String? = nil) throws -> NIOSSL.TLSConfiguration {
        var tls = NIOSSL.TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(trust ?? pki.caPath))
        if let issued {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(issued.certificatePEM.utf8)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(issued.privateKeyPEM.utf8), format: .pem))
        } else if let agency {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(pki.clientCertificatePath(agency)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: pki.clientKeyPath(agency), format: .pem))
        }
        return tls
    }

    /// A new client for `agency` that speaks HTTP/1.1 only, where the shared ones negotiate HTTP/2; shut it down after use.
    func http1Client(_ agency: String) -> HTTPClient {
        var tls = TLSConfigurationFactory.client(pki: pki, agency: agency)
        tls.applicationProtocols = ["http/1.1"]
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.httpVersion = .http1Only
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// An HTTPS client presenting `agency`'s certificate (nil: no certificate), trusting the test CA.
    func client(_ agency: String?, pki other: DevPKIDirectory? = nil) throws -> HTTPClient {
        let key = (agency ?? "-") + (other?.directory.path ?? "")
        if let existing = clients[key] { return existing }
        let source = other ?? pki
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.caPath))
        if let agency {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(source.clientCertificatePath(agency)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: source.clientKeyPath(agency), format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(10))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        clients[key] = client
        return client
    }

    struct Answer {
        let status: Int
        let headers: HTTPHeaders
        let body: String

        var decisionId: String? { headers["decision-id"].first }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
        var reason: String? { json["reason"] as? String }
    }

    func send(_ agency: String?, _ method: HTTPMethod = .GET, _ path: String, headers: [(String, String)] = [], body: String? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: "https://localhost:\(port)\(path)")
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            if !request.headers.contains(name: "content-type") { request.headers.add(name: "content-type", value: "application/json") }
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client(agency).execute(request, timeout: .seconds(15))
        let collected = try await response.body.collect(upTo: 1 << 24)
        return Answer(status: Int(response.status.code), headers: response.headers, body: String(buffer: collected))
    }

    /// The exported rows, waiting briefly for outcome records, which are committed just after the answer.
    func exportedRows(expecting decisionIds: [String] = []) async throws -> [ExportRow] {
        let store = try Store.open(path: databasePath)
        for _ in 0..<50 {
            var rows: [ExportRow] = []
            try store.exporter().forEachRow { rows.append($0) }
            let complete = decisionIds.allSatisfy { id in rows.contains { $0.decisionId == id && ($0.effect == .deny || $0.outcome?.upstreamStatus != nil || $0.outcome?.error != nil) } }
            if complete { return rows }
            try await Task.sleep(for: .milliseconds(50))
        }
        var rows: [ExportRow] = []
        try store.exporter().forEachRow { rows.append($0) }
        return rows
    }

    /// Begins the gateway's graceful shutdown, as SIGTERM does, without waiting for it; ``stop()`` still does.
    func beginShutdown() async {
        await group.triggerGracefulShutdown()
    }

    func stop() async {
        for client in clients.values { try? await client.shutdown() }
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        await upstreams.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

extension GatewayHarness {
    /// Runs `body` with the port of a second listener on the gateway (its state, log, verifier and upstreams), with
    /// `limits` (its agency limit a count of its own), whose request handlers `handlers` makes of its environment.
    func withListener(
        limits: GatewayConfiguration.Limits, handlers: (GatewayEnvironment) -> any RequestHandlerFactory, _ body: (Int) async throws -> Void
    ) async throws {
        let environment = GatewayEnvironment(
            state: gateway.state, log: gateway.log, verifier: gateway.verifier, limits: limits, metrics: gateway.metrics,
            concurrency: AgencyConcurrency(limit: limits.maxInFlightPerAgency),
            streamResets: StreamResetBudget(limit: limits.maxStreamResetsPerCertificate),
            factLookup: FactLookupClient(upstreams: gateway.upstreams, timeout: limits.upstreamResponseTimeout),
            upstreams: gateway.upstreams, logger: gateway.logger, now: gateway.now
        )
        let (ports, bound) = AsyncStream.makeStream(of: Int.self)
        let listener = GatewayListener(
            host: "127.0.0.1", port: 0, tls: try GatewayTLS.serverContext(identity: gateway.identity), verifier: gateway.verifier,
            limits: limits, handlers: handlers(environment), onListening: { bound.yield($0) }
        )
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let group = ServiceGroup(services: [listener], logger: logger)
        let running = Task { try await group.run() }
        var port = 0
        for await listening in ports {
            port = listening
            break
        }
        do {
            try await body(port)
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await running.value
            throw error
        }
        await group.triggerGracefulShutdown()
        try await running.value
    }
}

/// A listener's request handlers, each behind an outbound stage that hands every write to `write`: what a test puts
/// between a request handler and its connection. The stage adds the handler behind itself once added.
struct StagedRequestHandlers: RequestHandlerFactory {
    /// Writes one part of an answer on: the context, the part, the data as written, and the write's promise.
    typealias Write = @Sendable (ChannelHandlerContext, HTTPServerResponsePart, NIOAny, EventLoopPromise<Void>?) -> Void

    let environment: GatewayEnvironment
    let write: Write

    func requestHandler(peer: ConnectionPeer?, isHTTP2: Bool) -> any ChannelHandler {
        Stage(handler: environment.requestHandler(peer: peer, isHTTP2: isHTTP2), write: write)
    }

    func refusalRecorder(peer: ConnectionPeer?) -> (any ChannelHandler)? { environment.refusalRecorder(peer: peer) }

    func standing(_ peer: ConnectionPeer) -> ConnectionStanding { environment.standing(peer) }

    private final class Stage: ChannelOutboundHandler {
        typealias OutboundIn = HTTPServerResponsePart
        typealias OutboundOut = HTTPServerResponsePart

        private let handler: any ChannelHandler
        private let onWrite: Write

        init(handler: any ChannelHandler, write: @escaping Write) {
            self.handler = handler
            self.onWrite = write
        }

        func handlerAdded(context: ChannelHandlerContext) {
            try! context.pipeline.syncOperations.addHandler(handler, position: .after(self))
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            onWrite(context, unwrapOutboundIn(data), data, promise)
        }
    }
}

/// A `configure` for ``withGateway(upstreamOverrides:limits:now:configure:_:)`` that gives the gateway its own copy
/// of the policy, which a test may then change and reload.
func copyingPolicy(_ directory: URL, _ configuration: inout GatewayConfiguration) throws {
    let copy = directory.appendingPathComponent("denver.yaml").path
    try FileManager.default.copyItem(atPath: configuration.policyPath, toPath: copy)
    configuration.policyPath = copy
}

/// Runs `body` with a started harness and always stops it.
func withGateway(
    upstreamOverrides: [String: String] = [:], limits: GatewayConfiguration.Limits = .init(), now: @escaping @Sendable () -> Date = Date.init,
    configure: (URL, inout GatewayConfiguration) throws -> Void = { _, _ in }, _ body: (GatewayHarness) async throws -> Void
) async throws {
    let harness = try await GatewayHarness.start(upstreamOverrides: upstreamOverrides, limits: limits, now: now, configure: configure)
    do {
        try await body(harness)
    } catch {
        await harness.stop()
        throw error
    }
    await harness.stop()
}

/// Runs a throwaway server on a loopback port for the duration of `body` (faulty upstreams and the like): plain
/// HTTP/1.1 unless `server` says otherwise (such as `.tls(tlsConfiguration:)`).
func withTestServer(
    _ router: Router<BasicRequestContext>, server builder: HTTPServerBuilder = .http1(), _ body: (Int) async throws -> Void
) async throws {
    var logger = Logger(label: "test-server")
    logger.logLevel = .critical
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let server = Application(
        router: router, server: builder, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger
    )
    let group = ServiceGroup(services: [server], gracefulShutdownSignals: [], logger: logger)
    let task = Task { try await group.run() }
    var port = 0
    for await bound in ports {
        port = bound
        break
    }
    do {
        try await body(port)
    } catch {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        throw error
    }
    await group.triggerGracefulShutdown()
    _ = try? await task.value
}
