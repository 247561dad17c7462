import Foundation
import Logging
import ServiceLifecycle
import WarrantGateCore
import WarrantGateStore

/// Polls the registry's version and reloads the snapshot when the admin CLI has changed it, so a registration or a
/// revocation takes effect within ``interval`` without a restart. About once a second, apart from the refresh (a
/// sweep held by a lock never holds up a revocation), it also marks documents whose expiry day has ended as expired,
/// each with a log record.
///
/// When the version moves and the store's recorded time zone is no longer the policy's (something else wrote it,
/// which moved expiry instants), it records the policy's zone again, which moves them back with an admin record
/// naming the zone it replaced (the next refresh reads them); at most once a minute, so that two gateways given
/// different zones do not flood the log.
///
/// The data plane decides on the snapshot only while refreshes can read the registry (``GatewayState/current``): one
/// that fails marks it unreadable at once, and one still reading after ``freshness``'s bound (a silent server), or
/// none for its longer bound (the refresher stopped or starved), marks it so where requests read it. On PostgreSQL
/// each read waits at most ``lockWait`` for a lock another session holds, so that a held lock fails the refresh rather
/// than holding it until the busy timeout.
struct RegistryRefresher: Service {
    static let zoneRecordInterval: Duration = .seconds(60)
    /// The gateway's poll interval.
    static let pollInterval: Duration = .milliseconds(250)
    /// How long the refresh's reads of the version and the snapshot wait for a lock, in milliseconds.
    static let lockWait = 500

    /// How long a refresh may read the registry before the snapshot in force is no longer decided on: two seconds,
    /// which covers its reads (each waiting at most ``lockWait`` for a lock) on a busy host; and how long the snapshot
    /// may go unconfirmed: 30 s, 120 polls.
    static let freshness = RegistryFreshness(reading: .seconds(2), unconfirmed: .seconds(30))

    let registry: Registry
    let state: GatewayState
    let interval: Duration
    let logger: Logger
    let now: @Sendable () -> Date
    /// Told of each state put in force whose certificate revocations differ from the last's, on a blocking thread.
    var revocationsChanged: @Sendable (GatewayState.Current) -> Void = { _ in }

    /// Refreshes the registry, and apart from it, so that neither holds up the other, keeps its books: expired
    /// documents marked, the policy's time zone recorded again.
    func run() async throws {
        state.renewAtStart()
        await withDiscardingTaskGroup { group in
            group.addTask { await keepBooks() }
            await refresh()
        }
    }

    private func refresh() async {
        var failing = false
        while !Task.isCancelledOrShuttingDown {
            // A snapshot a refresh read too long is marked unreadable where requests read it: said here, once, as a
            // failed refresh is.
            if !failing && !state.current.registryReadable {
                logger.error("a refresh read the registry past its bound, or none confirmed it in time; refusing requests (registry_unavailable)")
                failing = true
            }
            do {
                let (registry, state, logger, wasFailing, revocationsChanged) = (registry, state, logger, failing, revocationsChanged)
                try await BlockingWork.run {
                    state.beginReading(at: .now)
                    let version = try registry.version(waitingAtMost: Self.lockWait)
                    guard !state.confirmRegistry(version: version) else { return }
                    let snapshot = try registry.snapshot(waitingAtMost: Self.lockWait)
                    let revokedBefore = state.current.directory.revocations
                    state.replace(registry: snapshot)
                    let current = state.current
                    if current.directory.revocations != revokedBefore { revocationsChanged(current) }
                    Self.noteMisfiled(in: snapshot, to: logger)
                    if wasFailing { logger.notice("registry readable again") }
                }
                failing = false
            } catch {
                if !failing { logger.error("cannot read the registry; refusing requests (registry_unavailable)", metadata: ["error": "\(StoreDatabase.describe(error))"]) }
                failing = true
                state.markRegistryUnavailable()
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Once a second while the registry is readable: marks expired documents, which is bookkeeping (a decision checks a
    /// document's expiry itself), so a sweep that fails (a row locked past the sweep's lock timeout, a server whose
    /// clock says the day has not ended) is logged and tried again, and denies nothing; and, after the registry moved,
    /// at most once a minute, records the policy's time zone again if the store's is another.
    private func keepBooks() async {
        var sweepFailing = false
        var lastZoneRecord = ContinuousClock.now - Self.zoneRecordInterval
        var zoneCheckedAt = state.current.registryVersion
        while !Task.isCancelledOrShuttingDown {
            let current = state.current
            if current.registryReadable {
                if current.registryVersion != zoneCheckedAt && ContinuousClock.now - lastZoneRecord >= Self.zoneRecordInterval {
                    zoneCheckedAt = current.registryVersion
                    if await recordPolicyZoneIfChanged() { lastZoneRecord = ContinuousClock.now }
                }
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
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

extension RegistryRefresher {
    /// Tells the operator's log of each active document that is misfiled (``RegistrySnapshot/activeMisfiled``): it
    /// authorises nothing until revoked. Said at start and at each snapshot read after the registry changed.
    static func noteMisfiled(in snapshot: RegistrySnapshot, to logger: Logger) {
        for reference in snapshot.activeMisfiled {
            logger.warning(
                "an active document is misfiled (an immigration authority named as a court's, or a scope no paper has); it authorises nothing: revoke it",
                metadata: ["reference": "\(reference)", "see": "warrant-gate warrant show \(reference)"]
            )
        }
    }

    /// Records the policy's time zone again when the store's is another (something else wrote it, which moved expiry
    /// instants); true if it did. After the snapshot and apart from it, waiting at most 200 ms for a lock, to read the
    /// settings and to write them: a role that holds them locked delays neither the registry's refresh nor the next; a
    /// failure is logged, and tried at the next change.
    private func recordPolicyZoneIfChanged() async -> Bool {
        let (registry, state, logger, now) = (registry, state, logger, now)
        do {
            return try await BlockingWork.run {
                let policyZone = state.current.policies.policy.timeZone
                guard let stored = try registry.recordedTimeZone(waitingAtMost: 200), stored.identifier != policyZone.identifier else { return false }
                logger.warning("the store's recorded time zone is not the policy's; recording the policy's again", metadata: [
                    "recorded": "\(stored.identifier)", "policy": "\(policyZone.identifier)",
                ])
                try registry.inTimeZone(policyZone).recordTimeZone(at: now(), waitingAtMost: 200)
                return true
            }
        } catch {
            logger.warning("cannot check the store's recorded time zone; trying at the next change", metadata: ["error": "\(StoreDatabase.describe(error))"])
            return false
        }
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool {
        Task.isCancelled || Task.isShuttingDownGracefully
    }
}
