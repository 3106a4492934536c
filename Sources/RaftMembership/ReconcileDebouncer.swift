/// Trailing debounce capped at `cap` (5x debounce) since the first unserved signal.
///
/// Every membership change signals; the reconciler runs at ``deadline``: `debounce` after the latest
/// signal, but never later than `capMultiplier × debounce` after the first signal not yet served, so a
/// steady trickle of changes cannot postpone reconciliation forever. Pure: the caller passes instants and
/// sleeps until the deadline itself.
public struct ReconcileDebouncer: Sendable {
    /// The quiet period after the latest signal (`reconcile_debounce`).
    public let debounce: Duration
    /// The longest a signal waits, as a multiple of `debounce` (at least 1).
    public let capMultiplier: Int

    private var firstSignal: ContinuousClock.Instant?
    private var lastSignal: ContinuousClock.Instant?

    /// A debouncer with nothing pending; `capMultiplier` below 1 counts as 1.
    public init(debounce: Duration, capMultiplier: Int = 5) {
        self.debounce = max(debounce, .zero)
        self.capMultiplier = max(capMultiplier, 1)
    }

    /// Records a membership change seen at `now`.
    public mutating func signal(at now: ContinuousClock.Instant) {
        if firstSignal == nil { firstSignal = now }
        if let lastSignal, lastSignal > now { return }
        lastSignal = now
    }

    /// When to run; nil = nothing pending.
    public var deadline: ContinuousClock.Instant? {
        guard let firstSignal, let lastSignal else { return nil }
        return min(lastSignal + debounce, firstSignal + debounce * capMultiplier)
    }

    /// True when a run is pending and `now` has reached its deadline.
    public func isDue(at now: ContinuousClock.Instant) -> Bool {
        deadline.map { now >= $0 } ?? false
    }

    /// The run happened; clear. Signals arriving later start a new round.
    public mutating func fired() {
        firstSignal = nil
        lastSignal = nil
    }
}
