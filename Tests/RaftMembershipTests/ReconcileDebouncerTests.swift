import RaftMembership
import Testing

@Suite("Reconcile debouncer")
struct ReconcileDebouncerTests {
    private let start = ContinuousClock.now
    private let debounce = Duration.seconds(1)

    @Test("nothing pending without a signal")
    func idle() {
        let debouncer = ReconcileDebouncer(debounce: debounce)
        #expect(debouncer.deadline == nil && !debouncer.isDue(at: start + .seconds(100)))
    }

    @Test("a signal runs one debounce later; a later signal pushes the run back (trailing)")
    func trailing() {
        var debouncer = ReconcileDebouncer(debounce: debounce)
        debouncer.signal(at: start)
        #expect(debouncer.deadline == start + debounce)
        debouncer.signal(at: start + .milliseconds(500))
        #expect(debouncer.deadline == start + .milliseconds(1500))
        #expect(!debouncer.isDue(at: start + .milliseconds(1499)) && debouncer.isDue(at: start + .milliseconds(1500)))
    }

    @Test("a steady trickle of signals cannot postpone the run beyond 5x debounce after the first")
    func capped() {
        var debouncer = ReconcileDebouncer(debounce: debounce)
        for step in 0..<20 {
            debouncer.signal(at: start + .milliseconds(500 * step))
        }
        #expect(debouncer.deadline == start + .seconds(5))
        var tighter = ReconcileDebouncer(debounce: debounce, capMultiplier: 2)
        tighter.signal(at: start)
        tighter.signal(at: start + .milliseconds(1900))
        #expect(tighter.deadline == start + .seconds(2))
    }

    @Test("fired clears; the next signal starts a new round with a new cap")
    func firedStartsANewRound() {
        var debouncer = ReconcileDebouncer(debounce: debounce)
        debouncer.signal(at: start)
        debouncer.fired()
        #expect(debouncer.deadline == nil)
        let later = start + .seconds(30)
        debouncer.signal(at: later)
        #expect(debouncer.deadline == later + debounce)
        for step in 1...10 { debouncer.signal(at: later + .milliseconds(900 * step)) }
        #expect(debouncer.deadline == later + .seconds(5))
    }

    @Test("a signal older than the latest one does not pull the deadline earlier")
    func outOfOrderSignal() {
        var debouncer = ReconcileDebouncer(debounce: debounce)
        debouncer.signal(at: start + .seconds(2))
        debouncer.signal(at: start + .seconds(1))
        #expect(debouncer.deadline == start + .seconds(3))
    }
}
