import Crypto
import Foundation
import Synchronization
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import WarrantGateCore
import WarrantGateStore
import X509

/// A gateway assembled from its configuration: the TLS listener (``GatewayListener``) with its upstream pools (which
/// the fact lookup uses too), the decision log writer, the registry refresher and the admin listener, run together as
/// one service group. Run by systemd with `Type=notify`, it reports its state through ``SystemdNotifier``.
public final class Gateway: Sendable {
    public let configuration: GatewayConfiguration
    public let state: GatewayState
    public let store: Store
    public let registry: Registry
    let log: any DecisionLogWriter
    let metrics: GatewayMetrics
    let upstreams: Upstreams
    let identity: ServerIdentity
    let verifier: ClientCertificateVerifier
    let logger: Logger
    let now: @Sendable () -> Date
    /// Called with the bound port of the TLS listener (useful with port 0).
    let onListening: @Sendable (Int) async -> Void
    /// Told when the gateway is ready (after `onListening`), reloading on SIGHUP, and stopping.
    let notifier: SystemdNotifier
    /// Held for a whole reload, so that reloads run one at a time: each reads the files after the one before it
    /// finished, and the last to start is the last in force.
    let reloading = Mutex(())
    /// The files the gateway loaded, as they were before it read them (those it found through them, just after):
    /// the reloader's first view of them.
    let loadedFiles: [WatchedFile]

    /// Loads and validates everything; throws with a located message if a file is wrong. The default notifier is
    /// the one `$NOTIFY_SOCKET` names, if any.
    public init(
        configuration: GatewayConfiguration, logger: Logger = Logger(label: "warrant-gate"),
        now: @escaping @Sendable () -> Date = Date.init, onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        notifier: SystemdNotifier = SystemdNotifier()
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.now = now
        self.onListening = onListening
        self.notifier = notifier
        let configuredFiles = Self.configuredFiles(configuration)
        let policies = try PolicySet.load(configuration)
        self.loadedFiles = configuredFiles + Self.filesRead(by: policies).map(Self.watchedFile)
        self.store = try Store.open(configuration.database, options: configuration.storeOptions)
        try store.checkServingRole()
        self.registry = store.registry(timeZone: policies.policy.timeZone)
        try registry.recordTimeZone()
        self.state = GatewayState(policies: policies, registry: try registry.snapshot(), bounds: RegistryRefresher.freshness)
        try policies.checkDirectories(registry: state.current.lastSnapshot, agenciesPath: configuration.agenciesPath)
        policies.logWarnings(to: logger, by: state.current.directory)
        RegistryRefresher.noteMisfiled(in: state.current.lastSnapshot, to: logger)
        self.log = try store.decisionLog()
        let metrics = GatewayMetrics()
        self.metrics = metrics
        self.identity = try ServerIdentity(certificatePath: configuration.serverCertificatePath, keyPath: configuration.serverKeyPath)
        // Every refusal counts; a handshake without a certificate is logged once a second at most, saying how many it
        // stands for (scanners and health checks would otherwise write one a connection), apart from a certificate
        // refused, so that a burst of the first cannot hide the second.
        let (missingLines, refusedLines) = (LogLineThrottle(), LogLineThrottle())
        self.verifier = ClientCertificateVerifier(
            trust: try configuration.clientTrust(),
            now: now,
            refusals: { [logger] reason in
                metrics.countHandshakeRefusal()
                guard let held = (reason == MissingCertificateObserver.reason ? missingLines : refusedLines).admit() else { return }
                logger.notice("client certificate refused at the handshake", metadata: ["reason": "\(reason)", "refusals-not-logged": "\(held)"])
            }
        )
        for warning in configuration.startWarnings { logger.warning("\(warning)") }
        self.upstreams = try Upstreams(settings: configuration.upstreams, limits: configuration.limits)
    }

    /// Records the facts `policy` lets the registry hold, for `subject set-fact`: once the gateway listens, and at
    /// each reload that puts a policy in force. A store that cannot take them (a PostgreSQL schema from before this
    /// record) is said, not fatal: `set-fact` then checks the facts last recorded, or a policy file it is given.
    static func recordSettableFacts(of policy: Policy, in registry: Registry, logger: Logger) {
        do {
            try registry.recordSettableFacts(policy.settableFacts)
        } catch {
            logger.error("the policy's facts could not be recorded in the store for `subject set-fact` (`store init` updates an older PostgreSQL schema)", metadata: [
                "error": "\(StoreDatabase.describe(error))",
            ])
        }
    }

    /// ``init(configuration:logger:now:onListening:notifier:)`` on the blocking thread pool, for async callers:
    /// loading opens the store, which on PostgreSQL waits for the server.
    public static func load(
        configuration: GatewayConfiguration, logger: Logger = Logger(label: "warrant-gate"),
        now: @escaping @Sendable () -> Date = Date.init, onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        notifier: SystemdNotifier = SystemdNotifier()
    ) async throws -> Gateway {
        try await BlockingWork.run {
            try Gateway(configuration: configuration, logger: logger, now: now, onListening: onListening, notifier: notifier)
        }
    }

    /// The client CA roots agencies' certificates are verified against: the bundle as the gateway loaded it.
    public var clientRoots: [Certificate] { verifier.roots }

    /// Builds the services. Run them with ``run()`` or in a `ServiceGroup` of your own.
    public func services() throws -> [any Service] {
        let limits = configuration.limits
        let environment = GatewayEnvironment(
            state: state, log: log, verifier: verifier, limits: limits, metrics: metrics,
            concurrency: AgencyConcurrency(limit: limits.maxInFlightPerAgency),
            streamResets: StreamResetBudget(limit: limits.maxStreamResetsPerCertificate),
            factLookup: FactLookupClient(upstreams: upstreams, timeout: limits.upstreamResponseTimeout),
            upstreams: upstreams, logger: logger, now: now
        )
        // Ready once the TLS listener is bound; the log was opened when the gateway was loaded.
        let (onListening, notifier, state, registry, logger) = (onListening, notifier, state, registry, logger)
        // A connection closed for want of a place is counted, and logged once a second at most: one certificate
        // holding its whole share, or the whole budget taken, shuts agencies out, and must not go unseen.
        let connectionLines = LogLineThrottle()
        let gateway = GatewayListener(
            host: configuration.host, port: configuration.port, tls: try GatewayTLS.serverContext(identity: identity), verifier: verifier,
            limits: limits, handlers: environment, onListening: { port in
                // Only a gateway that serves its policy says which facts the registry may hold: one whose start
                // fails must not leave its policy's facts in the store of another that runs.
                try? await BlockingWork.run { Self.recordSettableFacts(of: state.current.policies.policy, in: registry, logger: logger) }
                await onListening(port)
                notifier.ready()
            },
            connectionRefusals: { [logger, metrics] limit, certificate in
                metrics.countConnectionRefusal(limit)
                guard let held = connectionLines.admit() else { return }
                // The certificate's SHA-256 fingerprint (`openssl x509 -fingerprint -sha256` prints it in capitals,
                // with colons) names who holds the places.
                logger.warning("a connection was closed: no place left under \(limit.setting)", metadata: [
                    "certificate-sha256": "\(Hex.encode(Array(SHA256.hash(data: certificate))))", "refusals-not-logged": "\(held)",
                ])
            }
        )
        // A service group stops its services in reverse order: systemd is told first that the gateway is stopping,
        // then the listeners drain, then the idle upstream connections close, then the log writer writes whatever the
        // drained requests queued, and last the checkpoint service signs the final checkpoint.
        var services: [any Service] = []
        let keyFiles = configuration.logSigningKeyPath.map(LogKeyFiles.init(privatePath:)) ?? LogKeyFiles(filesDirectory: configuration.database.filesDirectory)
        if keyFiles.exists {
            // The key's name is the log's origin line, as in the CLI's checkpoints.
            let key = try keyFiles.signingKey()
            let checkpointer = store.checkpointer(key: key, lastSigned: keyFiles.lastSigned)
            services.append(CheckpointService(
                checkpointer: checkpointer, everyRecords: configuration.checkpointEveryRecords, interval: configuration.checkpointInterval,
                metrics: metrics, logger: logger
            ))
        } else if let configured = configuration.logSigningKeyPath {
            // A key the configuration names and cannot find is a deployment gone wrong, not a choice: without it no
            // checkpoint is signed, the log is not tamper-evident, and no alert on failed signings could fire.
            throw FileError(file: configured, line: nil, message: "log.signing-key names this file, which does not exist: create it with `warrant-gate log init-key`, or leave log.signing-key out to serve without signed checkpoints")
        } else {
            logger.warning("no log signing key at \(keyFiles.privatePath): no checkpoints will be signed (run `warrant-gate log init-key`)")
        }
        services += [
            LogWriterService(log: log),
            UpstreamShutdownService(upstreams: upstreams),
            RegistryRefresher(
                registry: registry, state: state, interval: RegistryRefresher.pollInterval, logger: logger, now: now,
                // A certificate revoked in the registry still passes the handshake: its connections, idle ones too,
                // end now rather than keep their places until they idle out.
                revocationsChanged: { [logger] current in
                    let ended = gateway.endConnections { der in (try? current.identify(der: der))?.1.isRevoked ?? false }
                    if ended > 0 { logger.notice("ending \(ended) connections of client certificates revoked in the registry") }
                }
            ),
            Reloader(gateway: self, interval: .seconds(1)),
            gateway,
        ]
        if let adminHost = configuration.adminHost {
            services.append(Application(
                router: AdminRouter.make(
                    state: state, registry: store.probeRegistry(timeZone: registry.timeZone), log: log, metrics: metrics,
                    dataPlane: EventLoopProbe(MultiThreadedEventLoopGroup.singleton)
                ),
                server: AdminChannel.server(),
                configuration: AdminChannel.serverConfiguration(host: adminHost, port: configuration.adminPort),
                eventLoopGroupProvider: .shared(AdminChannel.eventLoops),
                logger: logger
            ))
        }
        services.append(SystemdStoppingService(notifier: notifier))
        return services
    }

    /// Runs until SIGTERM or SIGINT, then drains: open requests finish, queued log entries are written. Throws
    /// ``ListenError`` when a listener cannot bind its address.
    public func run() async throws {
        let group = ServiceGroup(
            configuration: .init(services: try services().map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        do {
            try await group.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE || error.errnoCode == EACCES || error.errnoCode == EADDRNOTAVAIL {
            var addresses = ["\(configuration.host):\(configuration.port)"]
            if let adminHost = configuration.adminHost { addresses.append("\(adminHost):\(configuration.adminPort) (admin)") }
            throw ListenError(message: "cannot listen on \(addresses.joined(separator: " or ")): \(String(cString: strerror(error.errnoCode)))")
        }
    }
}

/// A listener could not bind its address: taken by another process, not permitted, or not on this host.
public struct ListenError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

/// Runs the decision log's writer; on shutdown, writes what is queued and stops. Cancellation stops it the same way
/// (the group cancels its services when one fails, e.g. a listener that cannot bind): the writer's thread does not
/// see task cancellation, so without this the process would wait for it forever.
struct LogWriterService: Service {
    let log: any DecisionLogWriter

    func run() async throws {
        await withTaskCancellationOrGracefulShutdownHandler {
            await log.run()
        } onCancelOrGracefulShutdown: {
            log.close()
        }
    }
}

/// Closes the upstream pools' idle connections when the group stops. The group stops services in reverse order, so
/// this runs after the listener has drained its requests.
struct UpstreamShutdownService: Service {
    let upstreams: Upstreams

    func run() async throws {
        try? await gracefulShutdown()
        await upstreams.close()
    }
}
