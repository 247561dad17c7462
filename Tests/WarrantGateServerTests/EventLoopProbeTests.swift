import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import WarrantGateServer

/// An attacker's pass stopped both data-plane loops with a handshake's path search while `/readyz`, served by the
/// admin listener's own loops, said ready.
@Suite("Readiness: the data plane's event loops")
struct EventLoopProbeTests {
    @Test("a loop that runs no task within the deadline makes the probe say no, and yes again once it runs")
    func stuckLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let probe = EventLoopProbe(group)
        #expect(probe.loops.count == 2)
        #expect(await probe.answers())
        // One loop held past the deadline, as a task that never yields would hold it, until the test lets it go: a
        // fixed hold (5 s) ran out before the 20 requests were answered on a loaded machine.
        let release = DispatchSemaphore(value: 0)
        let held = Array(group.makeIterator())[1].submit { release.wait() }
        // Requests while it is stuck say no, and hand it one task between them, not one each.
        let verdicts = await withTaskGroup(of: Bool.self) { requests in
            for _ in 0..<20 { requests.addTask { await probe.answers() } }
            return await requests.reduce(into: []) { $0.append($1) }
        }
        #expect(verdicts == Array(repeating: false, count: 20))
        #expect(probe.tasksHeld == 1)
        release.signal()
        try await held.get()
        #expect(await probe.answers())
        try await group.shutdownGracefully()
    }
}
