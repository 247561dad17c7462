import Hummingbird
import NIOCore
import WarrantGateStore

/// The plain-HTTP admin listener, meant for loopback only: liveness, readiness and Prometheus metrics.
enum AdminRouter {
    static func make(state: GatewayState, registry: Registry, metrics: GatewayMetrics) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            // Ready when a policy is loaded and the database answers.
            let answers = (try? await BlockingWork.run { try registry.version() }) != nil
            let ready = answers && state.current.registryVersion >= 0
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: ready ? "ready\n" : "not ready: the database cannot be read\n"))
            )
        }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        return router
    }
}
