import Hummingbird
import Logging
import ServiceLifecycle

/// The simulated records, visitation and custody systems, running on loopback ports chosen by the system.
public final class DemoUpstreams: Sendable {
    public let recordsPort: Int
    public let visitationPort: Int
    public let custodyPort: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(recordsPort: Int, visitationPort: Int, custodyPort: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.recordsPort = recordsPort
        self.visitationPort = visitationPort
        self.custodyPort = custodyPort
        self.group = group
        self.task = task
    }

    /// The upstream URLs by the names that the shipped policies use.
    public var urls: [String: String] {
        [
            "records": "http://127.0.0.1:\(recordsPort)", "visitation": "http://127.0.0.1:\(visitationPort)",
            "custody": "http://127.0.0.1:\(custodyPort)",
        ]
    }

    /// Starts the three systems and returns once all are listening. Throws the error that stopped them if one cannot
    /// start (then none runs), and `CancellationError` if the caller is cancelled first.
    public static func start(
        logger: Logger = Logger(label: "demo-upstreams"), observer: SimulatedUpstreams.Observer? = nil
    ) async throws -> DemoUpstreams {
        let routers = [
            ("records", SimulatedUpstreams.recordsRouter(observer: observer)),
            ("visitation", SimulatedUpstreams.visitationRouter(observer: observer)),
            ("custody", SimulatedUpstreams.custodyRouter(observer: observer)),
        ]
        let (ports, continuation) = AsyncStream.makeStream(of: (String, Int).self)
        let applications = routers.map { name, router in
            Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
                onServerRunning: { continuation.yield((name, $0.localAddress?.port ?? 0)) }, logger: logger
            )
        }
        let group = ServiceGroup(services: applications, gracefulShutdownSignals: [], logger: logger)
        let task = Task {
            // Ends the wait below if the group stops before every system is listening.
            defer { continuation.finish() }
            try await group.run()
        }
        var bound: [String: Int] = [:]
        for await (name, port) in ports {
            bound[name] = port
            if bound.count == routers.count { break }
        }
        guard let recordsPort = bound["records"], let visitationPort = bound["visitation"], let custodyPort = bound["custody"] else {
            task.cancel()
            try await task.value
            throw CancellationError()
        }
        return DemoUpstreams(recordsPort: recordsPort, visitationPort: visitationPort, custodyPort: custodyPort, group: group, task: task)
    }

    /// Stops the systems: they finish the requests in hand and close.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
