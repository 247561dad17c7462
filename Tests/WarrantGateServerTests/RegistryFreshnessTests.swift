import Foundation
import Testing
import WarrantGateCore
@testable import WarrantGateServer

/// When a gateway's state stops deciding on its registry snapshot: once no refresh has confirmed it for the bound.
@Suite("The registry snapshot's freshness")
struct RegistryFreshnessTests {
    private static let snapshot = RegistrySnapshot(documents: [], records: [], version: 7)

    /// A state whose snapshot (version 7) was read `age` ago, unreadable after `staleAfter`.
    private static func state(readAgo age: Duration, staleAfter: Duration?) throws -> GatewayState {
        let policies = PolicySet(
            policy: try PolicyParser.load(path: Repository.path("policies/denver.yaml")), directory: AgencyDirectory(agencies: [], authorities: [])
        )
        return GatewayState(policies: policies, registry: snapshot, readAt: .now - age, staleAfter: staleAfter)
    }

    @Test("a snapshot no refresh confirmed within the bound is unreadable: its registry refuses, and a confirmation no longer revives it")
    func unconfirmedGoesStale() throws {
        let state = try Self.state(readAgo: .seconds(60), staleAfter: .seconds(30))
        #expect(!state.current.registryReadable)
        #expect(throws: RegistryUnavailable.self) { try state.current.registry.facts(subject: "2017-000123") }
        #expect(!state.confirmRegistry(version: 7, readAt: .now), "a registry marked unreadable needs a new snapshot")
        state.replace(registry: Self.snapshot, readAt: .now)
        #expect(state.current.registryReadable)
    }

    @Test("a refresh that finds the version unchanged confirms the snapshot as of its start; another version does not")
    func unchangedVersionConfirms() throws {
        let state = try Self.state(readAgo: .seconds(60), staleAfter: .seconds(30))
        #expect(!state.confirmRegistry(version: 8, readAt: .now))
        #expect(state.confirmRegistry(version: 7, readAt: .now))
        #expect(state.current.registryReadable)
        #expect(state.current.registryVersion == 7)
    }

    @Test("a state no refresher keeps never goes stale")
    func unboundedStaysReadable() throws {
        #expect(try Self.state(readAgo: .seconds(3600), staleAfter: nil).current.registryReadable)
    }
}
