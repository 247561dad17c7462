import Testing
@testable import WarrantGateServer

@Suite("A checkpoint signing that stands still")
struct SigningStallTests {
    @Test("the signed size standing still with entries waiting is a stall once the limit passes, said once per limit")
    func stall() {
        let start = ContinuousClock.now
        var stall = SigningStall(signedSize: 10)
        let s1 = stall.stalled(signed: 10, size: 20, after: .seconds(30), now: start + .seconds(10))
        #expect(!s1)
        let s2 = stall.stalled(signed: 10, size: 25, after: .seconds(30), now: start + .seconds(31))
        #expect(s2)
        let s3 = stall.stalled(signed: 10, size: 30, after: .seconds(30), now: start + .seconds(40))
        #expect(!s3, "said once per limit")
        let s4 = stall.stalled(signed: 10, size: 30, after: .seconds(30), now: start + .seconds(62))
        #expect(s4)
        // Progress, or nothing waiting, starts the wait over.
        let s5 = stall.stalled(signed: 30, size: 40, after: .seconds(30), now: start + .seconds(63))
        #expect(!s5)
        let s6 = stall.stalled(signed: 30, size: 40, after: .seconds(30), now: start + .seconds(90))
        #expect(!s6)
        let s7 = stall.stalled(signed: 40, size: 40, after: .seconds(30), now: start + .seconds(200))
        #expect(!s7)
        let s8 = stall.stalled(signed: 40, size: 50, after: .seconds(30), now: start + .seconds(220))
        #expect(!s8)
        // A quiet log between two askings (no signing attempt for longer than the limit) is no stall: its wait starts
        // over at the next asking, whichever gateway is signing meanwhile.
        let s9 = stall.stalled(signed: 40, size: 60, after: .seconds(30), now: start + .seconds(300))
        #expect(!s9)
        let s10 = stall.stalled(signed: 40, size: 60, after: .seconds(30), now: start + .seconds(320))
        #expect(!s10)
    }
}
