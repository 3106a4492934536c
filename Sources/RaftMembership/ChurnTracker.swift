/// Counts bursts: more than `threshold` (3) operations inside `window` (60s); one burst counted per burst.
///
/// Feeds `raft_voter_churn_burst_total`. A burst starts with the operation that brings the count inside
/// the window above the threshold, and lasts while each later operation still finds more than `threshold`
/// operations in the window (itself included): steady churn is one long burst. Only the last
/// `threshold + 1` instants are kept. Instants must not go backwards.
public struct ChurnTracker: Sendable {
    /// Operations allowed inside the window before it is a burst.
    public let threshold: Int
    /// The sliding window.
    public let window: Duration

    /// The latest operations, oldest first (at most `threshold + 1`).
    private var recent: [ContinuousClock.Instant] = []
    /// True while the current burst lasts.
    public private(set) var inBurst = false

    /// A tracker with no history; a negative `threshold` counts as 0.
    public init(threshold: Int = 3, window: Duration = .seconds(60)) {
        self.threshold = max(threshold, 0)
        self.window = window
    }

    /// Records one operation; returns true when this operation starts a new burst (count it once).
    public mutating func record(at now: ContinuousClock.Instant) -> Bool {
        recent.append(now)
        recent.removeAll { now - $0 >= window }
        if recent.count > threshold + 1 { recent.removeFirst(recent.count - threshold - 1) }
        guard recent.count > threshold else {
            inBurst = false
            return false
        }
        defer { inBurst = true }
        return !inBurst
    }
}
