import Testing
@testable import WarrantGateServer

@Suite("A checkpoint signing that stands still")
struct SigningStallTests {
    @Test("the signed size standing still with entries waiting is a stall once the limit passes, said once per limit")
    func stall() {
        let start = ContinuousClock.now
        var stall = SigningStall(signedSize: 10)
        // (signed size, log size, seconds after the start, a stall?)
        let askings: [(signed: UInt64, size: UInt64, at: Int64, stalled: Bool, why: String)] = [
            (10, 20, 10, false, "within the limit"),
            (10, 25, 31, true, "past the limit"),
            (10, 30, 40, false, "said once per limit"),
            (10, 30, 62, true, "past the limit again"),
            // Progress, or nothing waiting, starts the wait over.
            (30, 40, 63, false, "progress"),
            (30, 40, 90, false, "within the limit of the progress"),
            (40, 40, 200, false, "nothing waiting"),
            (40, 50, 220, false, "within the limit of nothing waiting"),
            // A quiet log between two askings (no signing attempt for longer than the limit) is no stall: its wait
            // starts over at the next asking, whichever gateway is signing meanwhile.
            (40, 60, 300, false, "after a quiet stretch"),
            (40, 60, 320, false, "within the limit of the quiet stretch's end"),
        ]
        for asking in askings {
            let stalled = stall.stalled(signed: asking.signed, size: asking.size, after: .seconds(30), now: start + .seconds(asking.at))
            #expect(stalled == asking.stalled, "\(asking.at) s: \(asking.why)")
        }
    }
}
