/// How a simulated link treats what is sent over it.
///
/// Datagrams get every impairment; streams (TCP-like, see ``SimulatedNetwork/sendReliably(_:from:to:)``)
/// only get latency and jitter, arrive once and in order, and fail only when the link is cut.
public struct LinkConditions: Hashable, Sendable {
    /// One-way delay before jitter. Default 1 ms.
    public var latency: Duration
    /// An extra delay drawn uniformly from `0 ..< jitter` per message; enough jitter reorders datagrams.
    /// Default zero.
    public var jitter: Duration
    /// Probability that a datagram is lost, 0…1. Default 0.
    public var dropRate: Double
    /// Probability that a datagram that was not lost arrives twice (the copy gets its own jitter), 0…1.
    /// Default 0.
    public var duplicateRate: Double
    /// Probability that a datagram is held back by ``reorderDelay``, so later ones overtake it, 0…1.
    /// Default 0.
    public var reorderRate: Double
    /// How long a reordered datagram is held back. Default 10 ms.
    public var reorderDelay: Duration

    /// Creates conditions; the defaults are a perfect 1 ms link.
    public init(
        latency: Duration = .milliseconds(1), jitter: Duration = .zero, dropRate: Double = 0,
        duplicateRate: Double = 0, reorderRate: Double = 0, reorderDelay: Duration = .milliseconds(10)
    ) {
        precondition(latency >= .zero && jitter >= .zero && reorderDelay >= .zero, "delays must not be negative")
        precondition((0...1).contains(dropRate), "dropRate must lie in 0…1")
        precondition((0...1).contains(duplicateRate), "duplicateRate must lie in 0…1")
        precondition((0...1).contains(reorderRate), "reorderRate must lie in 0…1")
        self.latency = latency
        self.jitter = jitter
        self.dropRate = dropRate
        self.duplicateRate = duplicateRate
        self.reorderRate = reorderRate
        self.reorderDelay = reorderDelay
    }

    /// A perfect link: 1 ms, no jitter, nothing lost, duplicated or reordered.
    public static let ideal = LinkConditions()

    /// A healthy data-centre LAN: 0.5–1.5 ms, 0.1 % loss, a few duplicates and reorders.
    public static let lan = LinkConditions(
        latency: .microseconds(500), jitter: .milliseconds(1), dropRate: 0.001,
        duplicateRate: 0.001, reorderRate: 0.01, reorderDelay: .milliseconds(5)
    )

    /// A lossy, jittery network: 5–25 ms, 5 % loss, 1 % duplicates, 5 % reordered by 30 ms.
    public static let lossy = LinkConditions(
        latency: .milliseconds(5), jitter: .milliseconds(20), dropRate: 0.05,
        duplicateRate: 0.01, reorderRate: 0.05, reorderDelay: .milliseconds(30)
    )
}
