import Foundation
import Logging
import ServiceLifecycle
import WarrantGateStore

/// Polls the registry's version and reloads the snapshot when the admin CLI has changed it, so a registration or a
/// revocation takes effect within ``interval`` without a restart. About once a second it also marks documents whose
/// expiry day has ended as expired, each with a log record.
struct RegistryRefresher: Service {
    let registry: Registry
    let state: GatewayState
    let interval: Duration
    let logger: Logger
    let now: @Sendable () -> Date

    func run() async throws {
        var failing = false
        var lastExpirySweep = ContinuousClock.now - .seconds(10)
        while !Task.isCancelledOrShuttingDown {
            do {
                let sweep = ContinuousClock.now - lastExpirySweep >= .seconds(1)
                if sweep { lastExpirySweep = ContinuousClock.now }
                let (registry, state, logger, now, wasFailing) = (registry, state, logger, now, failing)
                try await BlockingWork.run {
                    if sweep {
                        for reference in try registry.expireDue(at: now()) {
                            logger.notice("document expired", metadata: ["reference": "\(reference)"])
                        }
                    }
                    let version = try registry.version()
                    if wasFailing || version != state.current.registryVersion {
                        state.replace(registry: try registry.snapshot())
                        if wasFailing { logger.notice("registry readable again") }
                    }
                }
                failing = false
            } catch {
                if !failing { logger.error("cannot read the registry; denying requests that need it", metadata: ["error": "\(StoreDatabase.describe(error))"]) }
                failing = true
                state.markRegistryUnavailable()
            }
            try? await Task.sleep(for: interval)
        }
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool {
        Task.isCancelled || Task.isShuttingDownGracefully
    }
}
