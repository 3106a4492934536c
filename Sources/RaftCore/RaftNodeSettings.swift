/// Tuning of one Raft core. Times are in ticks: the shell calls ``RaftNode/tick()`` at a fixed interval
/// (e.g. every 100 ms gives a 1–2 s election timeout with the defaults).
public struct RaftNodeSettings: Hashable, Sendable {
    /// Ticks without hearing from a leader before a follower campaigns; the real timeout is drawn anew in
    /// `electionTicks ..< 2 × electionTicks` each time it is reset. Also the CheckQuorum period, the
    /// leader lease and the leadership-transfer deadline. Default 10.
    public var electionTicks: Int
    /// Ticks between a leader's heartbeats; must be below `electionTicks`. Default 1.
    public var heartbeatTicks: Int
    /// Standbys get every this-many-th heartbeat round (and no read-confirmation rounds, which only voters
    /// answer for). A standby never campaigns and counts for no quorum, so the heartbeat only tells it the
    /// commit index and keeps it in contact: thinning it keeps the leader's idle cost per standby small.
    /// New entries still reach standbys at once. Default 1 (every round).
    public var standbyHeartbeatRounds: Int
    /// Most entries in one append message. Default 64.
    public var maxEntriesPerAppend: Int
    /// Most bytes of entries in one append message (one entry is sent even if larger). Default 1 MiB.
    public var maxBytesPerAppend: Int
    /// Appends in flight to one follower in the replicate state (shallow pipelining). Default 2.
    public var maxInflightAppends: Int
    /// Run a pre-vote before a real election so a node that cannot win never bumps the term. Default true.
    public var preVote: Bool
    /// A leader that has not heard from a majority of voters within `electionTicks` steps down, and
    /// followers ignore vote requests while they have heard from a leader in that time. Default true.
    public var checkQuorum: Bool
    /// Ticks a leader waits for a follower to acknowledge a snapshot before probing it again (the
    /// transfer may have been lost). Default 50.
    public var snapshotTimeoutTicks: Int
    /// Seeds the core's own generator for randomised election timeouts; give every node its own.
    /// Default 0.
    public var randomSeed: UInt64

    /// Creates settings; see each property for its default.
    public init(
        electionTicks: Int = 10, heartbeatTicks: Int = 1, maxEntriesPerAppend: Int = 64,
        maxBytesPerAppend: Int = 1 << 20, maxInflightAppends: Int = 2, preVote: Bool = true,
        checkQuorum: Bool = true, snapshotTimeoutTicks: Int = 50, randomSeed: UInt64 = 0,
        standbyHeartbeatRounds: Int = 1
    ) {
        precondition(electionTicks > heartbeatTicks && heartbeatTicks > 0, "need 0 < heartbeatTicks < electionTicks")
        precondition(maxEntriesPerAppend > 0 && maxBytesPerAppend > 0 && maxInflightAppends > 0, "limits must be positive")
        precondition(snapshotTimeoutTicks > 0, "snapshotTimeoutTicks must be positive")
        precondition(standbyHeartbeatRounds > 0, "standbyHeartbeatRounds must be positive")
        self.electionTicks = electionTicks
        self.heartbeatTicks = heartbeatTicks
        self.maxEntriesPerAppend = maxEntriesPerAppend
        self.maxBytesPerAppend = maxBytesPerAppend
        self.maxInflightAppends = maxInflightAppends
        self.preVote = preVote
        self.checkQuorum = checkQuorum
        self.snapshotTimeoutTicks = snapshotTimeoutTicks
        self.randomSeed = randomSeed
        self.standbyHeartbeatRounds = standbyHeartbeatRounds
    }
}

/// The core's own deterministic generator (SplitMix64), seeded from ``RaftNodeSettings/randomSeed``: the only
/// randomness the core uses, for election timeouts.
struct ElectionJitter: Hashable, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed ^ 0xA076_1D64_78BD_642F }

    /// A value in `0 ..< bound` (bound > 0).
    mutating func next(below bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        value ^= value >> 31
        return Int(value % UInt64(bound))
    }
}
