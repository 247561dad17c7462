import Foundation
import Testing
import WarrantGateCore
@testable import WarrantGateServer

/// When a gateway's state stops deciding on its registry snapshot: once a refresh has been reading for its bound, or
/// none has read or confirmed the registry for the longer one.
@Suite("The registry snapshot's freshness")
struct RegistryFreshnessTests {
    private static let snapshot = RegistrySnapshot(documents: [], records: [], version: 7)

    /// A state deciding on the snapshot (version 7), unreadable after a refresh has read for `staleAfter`, or none
    /// has confirmed it for `unconfirmedAfter`.
    private static func state(staleAfter: Duration?, unconfirmedAfter: Duration = .seconds(3600)) throws -> GatewayState {
        let policies = PolicySet(
            policy: try PolicyParser.load(path: Repository.path("policies/denver.yaml")), directory: AgencyDirectory(agencies: [], authorities: [])
        )
        return GatewayState(
            policies: policies, registry: snapshot, bounds: staleAfter.map { RegistryFreshness(reading: $0, unconfirmed: unconfirmedAfter) }
        )
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
    @Test("a refresh done within the bound, or one not begun within the longer bound, leaves the snapshot in force")
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

    /// A refresher that never ran again (stopped, or its thread pool wedged) kept the snapshot in force for good, with
    /// any revocation since unseen.
    @Test("a snapshot no refresh confirms within the longer bound is unreadable until one reads the registry again")
    func unconfirmedGoesStale() throws {
        // A confirmation counts from when its refresh began reading.
        let state = try Self.state(staleAfter: .seconds(3600), unconfirmedAfter: .seconds(30))
        #expect(state.current.registryReadable)
        state.beginReading(at: .now - .seconds(20))
        #expect(state.confirmRegistry(version: 7))
        #expect(state.current.registryReadable, "confirmed by a refresh that began 20 s ago")
        state.beginReading(at: .now - .seconds(40))
        #expect(state.confirmRegistry(version: 7))
        #expect(!state.current.registryReadable, "confirmed by a refresh that began 40 s ago, and none since")
        #expect(throws: RegistryUnavailable.self) { try state.current.registry.facts(subject: "2017-000123") }
        #expect(!state.confirmRegistry(version: 7), "a registry marked unreadable needs a new snapshot")
        state.replace(registry: Self.snapshot)
        #expect(state.current.registryReadable)
        // A snapshot read by a refresh that began too long ago is no fresher.
        state.beginReading(at: .now - .seconds(40))
        state.replace(registry: Self.snapshot)
        #expect(!state.current.registryReadable)
        // A refresher starting after a slow start-up counts the snapshot read at start as current.
        state.replace(registry: Self.snapshot)
        #expect(state.current.registryReadable)
        state.beginReading(at: .now - .seconds(40))
        #expect(state.confirmRegistry(version: 7))
        state.renewAtStart()
        #expect(state.current.registryReadable)
    }

    @Test("a state no refresher keeps never goes stale")
    func unboundedStaysReadable() throws {
        let state = try Self.state(staleAfter: nil)
        state.beginReading(at: .now - .seconds(3600))
        #expect(state.current.registryReadable)
    }
}
