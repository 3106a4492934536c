// Only the logarithms from the C library: the core does no I/O.
#if canImport(Glibc)
import func Glibc.log10
import func Glibc.log2
#elseif canImport(Darwin)
import func Darwin.log10
import func Darwin.log2
#endif

/// Tuning of the SWIM + Lifeguard core. Defaults are memberlist 0.2.2's `DefaultLANConfig`; ``wan`` and
/// ``local`` are its other presets.
public struct SWIMSettings: Hashable, Sendable {
    /// Time between probes of successive members, stretched ×(awareness+1). LAN default 1 s.
    public var probeInterval: Duration
    /// How long a direct ping waits for its ack before indirect probes start; not stretched. LAN 500 ms.
    public var probeTimeout: Duration
    /// Helpers asked to probe a silent member for us. LAN 3.
    public var indirectChecks: Int
    /// Suspicion timeout multiplier: min = mult × max(1, log10 N) × probeInterval. LAN 4.
    public var suspicionMultiplier: Int
    /// max = this × min; confirmations shrink the timer from max towards min. LAN 6.
    public var suspicionMaxTimeoutMultiplier: Int
    /// Each broadcast is sent mult × ceil(log10(N+1)) times. LAN 4.
    public var retransmitMultiplier: Int
    /// Time between gossip rounds. LAN 200 ms.
    public var gossipInterval: Duration
    /// Members gossiped to per round. LAN 3.
    public var gossipNodes: Int
    /// Dead members keep receiving gossip, and stay in the table, this long. LAN 30 s.
    public var gossipToTheDeadTime: Duration
    /// Time between periodic push/pulls, scaled up beyond 32 members; zero disables. LAN 30 s.
    public var pushPullInterval: Duration
    /// A dead member's name may come back from another address after this. Default 30 s (Cohort's
    /// `dead_node_reclaim_time`; memberlist's default 0 means never).
    public var deadNodeReclaimTime: Duration
    /// Upper bound of the awareness multiplier (the score is 0 …< this). Default 8.
    public var awarenessMaxMultiplier: Int
    /// Bytes of gossip that fit one datagram after the compound header and encryption. Default
    /// 1400 − 2 − 29 (memberlist's `UDPBufferSize` with encryption on).
    public var gossipBudgetBytes: Int

    /// Creates settings; every parameter defaults to the LAN preset.
    public init(
        probeInterval: Duration = .seconds(1), probeTimeout: Duration = .milliseconds(500), indirectChecks: Int = 3,
        suspicionMultiplier: Int = 4, suspicionMaxTimeoutMultiplier: Int = 6, retransmitMultiplier: Int = 4,
        gossipInterval: Duration = .milliseconds(200), gossipNodes: Int = 3, gossipToTheDeadTime: Duration = .seconds(30),
        pushPullInterval: Duration = .seconds(30), deadNodeReclaimTime: Duration = .seconds(30),
        awarenessMaxMultiplier: Int = 8, gossipBudgetBytes: Int = 1400 - 2 - 29
    ) {
        self.probeInterval = probeInterval
        self.probeTimeout = probeTimeout
        self.indirectChecks = indirectChecks
        self.suspicionMultiplier = suspicionMultiplier
        self.suspicionMaxTimeoutMultiplier = suspicionMaxTimeoutMultiplier
        self.retransmitMultiplier = retransmitMultiplier
        self.gossipInterval = gossipInterval
        self.gossipNodes = gossipNodes
        self.gossipToTheDeadTime = gossipToTheDeadTime
        self.pushPullInterval = pushPullInterval
        self.deadNodeReclaimTime = deadNodeReclaimTime
        self.awarenessMaxMultiplier = awarenessMaxMultiplier
        self.gossipBudgetBytes = gossipBudgetBytes
    }

    /// memberlist's `DefaultLANConfig`.
    public static let lan = SWIMSettings()

    /// memberlist's `DefaultWANConfig`.
    public static let wan = SWIMSettings(
        probeInterval: .seconds(5), probeTimeout: .seconds(3), suspicionMultiplier: 6,
        gossipInterval: .milliseconds(500), gossipNodes: 4, gossipToTheDeadTime: .seconds(60), pushPullInterval: .seconds(60)
    )

    /// memberlist's `DefaultLocalConfig`.
    public static let local = SWIMSettings(
        probeInterval: .seconds(1), probeTimeout: .milliseconds(200), indirectChecks: 1, suspicionMultiplier: 3,
        retransmitMultiplier: 2, gossipInterval: .milliseconds(100), gossipToTheDeadTime: .seconds(15),
        pushPullInterval: .seconds(15)
    )
}

/// The formulas memberlist derives from the settings and the cluster size (`util.go`).
public enum SWIMTiming {
    /// The shortest suspicion timeout: mult × max(1, log10 N) × probeInterval, with log10 N at millisecond
    /// resolution as in memberlist's `suspicionTimeout`.
    public static func suspicionMinimum(multiplier: Int, members: Int, probeInterval: Duration) -> Duration {
        let scale = max(1.0, log10(max(1.0, Double(members))))
        return probeInterval * multiplier * Int(scale * 1000) / 1000
    }

    /// How many times each broadcast is sent: mult × ceil(log10(N+1)).
    public static func retransmitLimit(multiplier: Int, members: Int) -> Int {
        multiplier * Int(log10(Double(members + 1)).rounded(.up))
    }

    /// The push/pull interval, multiplied by ceil(log2 N − log2 32) + 1 beyond 32 members.
    public static func pushPullInterval(_ interval: Duration, members: Int) -> Duration {
        guard members > 32 else { return interval }
        return interval * Int((log2(Double(members)) - 5).rounded(.up) + 1)
    }
}
