import Dispatch
import NIOCore
import NIOPosix
import Testing
@testable import WarrantGateServer

@Suite("A request's tasks stay on its connection's event loop")
struct EventLoopTaskExecutorTests {
    @Test("with the loop's task executor preferred, a task runs on that loop: in a child task, in nonisolated calls and after a resume from another thread")
    func staysOnLoop() async {
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
            let observed = await withTaskExecutorPreference(EventLoopTaskExecutor.of(loop)) {
                async let child = Self.isOn(loop)
                var seen = [loop.inEventLoop, await child]
                // Resumed from a foreign thread, as the decision log's writer resumes its callers.
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global().async { continuation.resume() }
                }
                seen.append(loop.inEventLoop)
                seen.append(await Self.isOn(loop))
                return seen
            }
            #expect(observed == [true, true, true, true])
        }
    }

    @Test("without the preference the same task does not run on the loop (the test can tell)")
    func controlCase() async {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        #expect(await Self.isOn(loop) == false)
    }

    private static func isOn(_ loop: any EventLoop) async -> Bool {
        await Task.yield()
        return loop.inEventLoop
    }
}
