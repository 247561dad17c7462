import Hummingbird
import NIOCore
import Synchronization
import WarrantGateStore

/// The plain-HTTP admin listener, meant for loopback only: liveness, readiness and Prometheus metrics, each answered to
/// HEAD as to GET, without the body.
enum AdminRouter {
    static func make(
        state: GatewayState, registry: Registry, log: any DecisionLogWriter, metrics: GatewayMetrics, dataPlane: EventLoopProbe
    ) -> Router<BasicRequestContext> {
        let router = Router(options: .autoGenerateHeadEndpoints)
        let database = DatabaseProbe { _ = try registry.version() }
        // Read at each scrape, not with the registry's snapshot, which must not wait on a lock held on the settings.
        let twoPersonRule = Mutex<Bool?>(nil)
        let settings = DatabaseProbe {
            let on = try registry.twoPersonRule(waitingAtMost: 1000)
            twoPersonRule.withLock { $0 = on }
        }
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            // Ready when a policy is loaded, the database answers (within the probe's deadline), the decision log
            // commits and every event loop of the data plane runs a task.
            async let loopsAnswer = dataPlane.answers()
            let answers = await database.answers()
            let problem: String? = !answers || !state.current.registryReadable ? "the database cannot be read"
                : !log.isHealthy ? "the decision log cannot commit"
                : !(await loopsAnswer) ? "an event loop of the data plane did not run a task within \(EventLoopProbe.deadline)" : nil
            return Response(
                status: problem == nil ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: problem.map { "not ready: \($0)\n" } ?? "ready\n"))
            )
        }
        router.get("/metrics") { _, _ -> Response in
            let read = await settings.answers()
            let current = state.current
            metrics.sample(
                log: log, registryReadable: current.registryReadable, registry: current.lastSnapshot,
                twoPersonRule: read ? twoPersonRule.withLock { $0 } : nil
            )
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        return router
    }
}
