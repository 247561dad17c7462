import Hummingbird
import Logging
import ServiceLifecycle

/// The simulated records and visitation systems, running on loopback ports chosen by the system.
public final class DemoUpstreams: Sendable {
    public let recordsPort: Int
    public let visitationPort: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(recordsPort: Int, visitationPort: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.recordsPort = recordsPort
        self.visitationPort = visitationPort
        self.group = group
        self.task = task
    }

    /// The upstream URLs by the names that the shipped policies use.
    public var urls: [String: String] {
        ["records": "http://127.0.0.1:\(recordsPort)", "visitation": "http://127.0.0.1:\(visitationPort)"]
    }

    /// Starts both systems and returns once both are listening.
    public static func start(
        logger: Logger = Logger(label: "demo-upstreams"), observer: SimulatedUpstreams.Observer? = nil
    ) async throws -> DemoUpstreams {
        let (ports, continuation) = AsyncStream.makeStream(of: (String, Int).self)
        let records = Application(
            router: SimulatedUpstreams.recordsRouter(observer: observer), configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { continuation.yield(("records", $0.localAddress?.port ?? 0)) }, logger: logger
        )
        let visitation = Application(
            router: SimulatedUpstreams.visitationRouter(observer: observer), configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { continuation.yield(("visitation", $0.localAddress?.port ?? 0)) }, logger: logger
        )
        let group = ServiceGroup(services: [records, visitation], gracefulShutdownSignals: [], logger: logger)
        let task = Task { try await group.run() }
        var bound: [String: Int] = [:]
        for await (name, port) in ports {
            bound[name] = port
            if bound.count == 2 { break }
        }
        guard let recordsPort = bound["records"], let visitationPort = bound["visitation"] else {
            task.cancel()
            throw CancellationError()
        }
        return DemoUpstreams(recordsPort: recordsPort, visitationPort: visitationPort, group: group, task: task)
    }

    /// Stops both systems: they finish the requests in hand and close.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
