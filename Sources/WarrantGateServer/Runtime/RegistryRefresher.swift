import Foundation
import Logging
import ServiceLifecycle
import WarrantGateStore

/// Polls the registry's version and reloads the snapshot when the admin CLI has changed it, so a registration or a
/// revocation takes effect within ``interval`` without a restart. About once a second, after the snapshot, it also
/// marks documents whose expiry day has ended as expired, each with a log record.
///
/// When the version moves and the store's recorded time zone is no longer the policy's (something else wrote it,
/// which moved expiry instants), it records the policy's zone again, which moves them back with an admin record
/// naming the zone it replaced; at most once a minute, so that two gateways given different zones do not flood the
/// log.
struct RegistryRefresher: Service {
    static let zoneRecordInterval: Duration = .seconds(60)

    let registry: Registry
    let state: GatewayState
    let interval: Duration
    let logger: Logger
    let now: @Sendable () -> Date

    func run() async throws {
        var failing = false
        var sweepFailing = false
        var lastExpirySweep = ContinuousClock.now - .seconds(10)
        var lastZoneRecord = ContinuousClock.now - Self.zoneRecordInterval
        while !Task.isCancelledOrShuttingDown {
            let sweep = ContinuousClock.now - lastExpirySweep >= .seconds(1)
            if sweep { lastExpirySweep = ContinuousClock.now }
            do {
                let zoneCheck = ContinuousClock.now - lastZoneRecord >= Self.zoneRecordInterval
                let (registry, state, logger, now, wasFailing) = (registry, state, logger, now, failing)
                let recordedZone = try await BlockingWork.run {
                    let version = try registry.version()
                    guard wasFailing || version != state.current.registryVersion else { return false }
                    let policyZone = state.current.policies.policy.timeZone
                    var recorded = false
                    if zoneCheck, let stored = try registry.recordedTimeZone(), stored.identifier != policyZone.identifier {
                        logger.warning("the store's recorded time zone is not the policy's; recording the policy's again", metadata: [
                            "recorded": "\(stored.identifier)", "policy": "\(policyZone.identifier)",
                        ])
                        try registry.inTimeZone(policyZone).recordTimeZone(at: now())
                        recorded = true
                    }
                    state.replace(registry: try registry.snapshot())
                    if wasFailing { logger.notice("registry readable again") }
                    return recorded
                }
                if recordedZone { lastZoneRecord = ContinuousClock.now }
                failing = false
            } catch {
                if !failing { logger.error("cannot read the registry; denying requests that need it", metadata: ["error": "\(StoreDatabase.describe(error))"]) }
                failing = true
                state.markRegistryUnavailable()
            }
            // After the snapshot, and never in its way: marking expired documents is bookkeeping (a decision checks a
            // document's expiry itself), so a sweep that fails (a row locked past the sweep's lock timeout, a server
            // whose clock says the day has not ended) is logged and tried again, and denies nothing.
            if sweep && !failing {
                let (registry, logger, now) = (registry, logger, now)
                do {
                    try await BlockingWork.run {
                        for reference in try registry.expireDue(at: now()) {
                            logger.notice("document expired", metadata: ["reference": "\(reference)"])
                        }
                    }
                    sweepFailing = false
                } catch {
                    if !sweepFailing {
                        logger.warning("cannot mark expired documents yet; trying again", metadata: ["error": "\(StoreDatabase.describe(error))"])
                    }
                    sweepFailing = true
                }
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
