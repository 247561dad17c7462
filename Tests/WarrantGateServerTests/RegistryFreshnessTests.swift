import Foundation
import Testing
import WarrantGateCore
@testable import WarrantGateServer

/// When a gateway's state stops deciding on its registry snapshot: once a refresh has been reading for the bound.
@Suite("The registry snapshot's freshness")
struct RegistryFreshnessTests {
    private static let snapshot = RegistrySnapshot(documents: [], records: [], version: 7)

    /// A state deciding on the snapshot (version 7), unreadable after a refresh has read for `staleAfter`.
    private static func state(staleAfter: Duration?) throws -> GatewayState {
        let policies = PolicySet(
            policy: try PolicyParser.load(path: Repository.path("policies/denver.yaml")), directory: AgencyDirectory(agencies: [], authorities: [])
        )
        return GatewayState(policies: policies, registry: snapshot, staleAfter: staleAfter)
    }

    @Test("a refresh reading past the bound makes the snapshot unreadable: its registry refuses, and a confirmation no longer revives it")
    func stuckRefreshGoesStale() throws {
        let state = try Self.state(staleAfter: .seconds(30))
        state.beginReading(at: .now - .seconds(60))
        #expect(!state.current.registryReadable)
        #expect(throws: RegistryUnavailable.self) { try state.current.registry.facts(subject: "2017-000123") }
        #expect(!state.confirmRegistry(version: 7), "a registry marked unreadable needs a new snapshot")
        state.replace(registry: Self.snapshot)
        #expect(state.current.registryReadable)
    }

    /// A review: a busy host ran the refresher late, and every request was refused though nothing had changed.
    @Test("a refresh done within the bound, or one not begun however long ago the last was, leaves the snapshot in force")
    func idleOrQuickStaysReadable() throws {
        let state = try Self.state(staleAfter: .seconds(30))
        #expect(state.current.registryReadable, "no refresh reading")
        state.beginReading(at: .now - .seconds(60))
        #expect(!state.confirmRegistry(version: 8))
        state.replace(registry: Self.snapshot)
        state.beginReading(at: .now)
        #expect(state.confirmRegistry(version: 7))
        #expect(state.current.registryReadable && state.current.registryVersion == 7)
    }

    @Test("a state no refresher keeps never goes stale")
    func unboundedStaysReadable() throws {
        let state = try Self.state(staleAfter: nil)
        state.beginReading(at: .now - .seconds(3600))
        #expect(state.current.registryReadable)
    }
}
