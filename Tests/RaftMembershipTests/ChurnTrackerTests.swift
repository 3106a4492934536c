import RaftMembership
import Testing

@Suite("Voter churn bursts")
struct ChurnTrackerTests {
    private let start = ContinuousClock.now

    @Test("three operations in a minute are no burst; the fourth starts one, counted once")
    func fourthOperationStartsABurst() {
        var tracker = ChurnTracker()
        let starts = (0..<6).map { tracker.record(at: start + .seconds(10 * $0)) }
        #expect(starts == [false, false, false, true, false, false])
        #expect(tracker.inBurst)
    }

    @Test("operations more than a minute apart never make a burst")
    func spreadOperations() {
        var tracker = ChurnTracker()
        let starts = (0..<10).map { tracker.record(at: start + .seconds(21 * $0)) }
        #expect(!starts.contains(true))
    }

    @Test("steady churn is one long burst; after a quiet minute a new burst counts again")
    func burstsAreCountedOncePerBurst() {
        var tracker = ChurnTracker()
        var bursts = 0
        for second in stride(from: 0, to: 300, by: 10) where tracker.record(at: start + .seconds(second)) {
            bursts += 1
        }
        #expect(bursts == 1)
        let later = start + .seconds(400)
        for second in 0..<4 where tracker.record(at: later + .seconds(second)) {
            bursts += 1
        }
        #expect(bursts == 2)
    }

    @Test("an operation exactly one window old has left the window")
    func windowIsHalfOpen() {
        var tracker = ChurnTracker(threshold: 1, window: .seconds(60))
        let starts = [0, 60, 119].map { tracker.record(at: start + .seconds($0)) }
        #expect(starts == [false, false, true], "the first has left when the second arrives; the third finds it")
    }
}
