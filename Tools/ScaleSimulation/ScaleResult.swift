/// What one scale run measured, with the model beside each figure (seconds are simulated time).
struct ScaleResult: Sendable, Codable {
    struct Convergence: Sendable, Codable {
        /// Every node started within this window.
        var startWindowSeconds: Double
        /// From the first start until every node sees all N alive (checked every 250 ms); nil if never.
        var convergedAtSeconds: Double?
        /// Nodes that saw all N alive (all of them once converged).
        var convergedNodes = 0
        /// What the whole cluster sent until then.
        var datagrams: Int
        var streams: Int
        var gossipMessages: Int
        var gossipBytes: Int
        /// Until the broadcast queues drained (no broadcast sent for a whole second).
        var quietAtSeconds: Double?
        var datagramsUntilQuiet: Int
    }

    struct Idle: Sendable, Codable {
        var windowSeconds: Double
        var leader: String
        var leaderGossipPacketsPerSecond: Double
        var leaderGossipBytesPerSecond: Double
        var leaderRaftMessagesPerSecond: Double
        var leaderRaftBytesPerSecond: Double
        /// Over every node.
        var nodeGossipPacketsPerSecondMean: Double
        var nodeGossipPacketsPerSecondMax: Double
        var nodeGossipBytesPerSecondMean: Double
        var modelRaftLeaderMessagesPerSecond: Double
        var modelNodeGossipPacketsPerSecond: Double
    }

    struct Dissemination: Sendable, Codable {
        var origin: String
        /// Nodes reached, of `running`.
        var reached: Int
        var running: Int
        /// From the announcement until the last node had it (checked every 50 ms).
        var secondsToAll: Double?
        /// ``secondsToAll`` in gossip intervals.
        var gossipRounds: Double?
        /// Hops of the longest path the news travelled, and the mean over nodes.
        var maxHops: Int
        var meanHops: Double
        var modelRounds: Double
    }

    struct Detection: Sendable, Codable {
        var crashed: [String]
        var survivors: Int
        /// From the crash: the first survivor to declare a crashed node dead, the median of the crashed
        /// nodes' last declarations, and the last (every survivor has declared every crashed node dead).
        var firstSeconds: Double?
        var medianSeconds: Double?
        var lastSeconds: Double?
        var modelSeconds: Double
        var modelSuspicionMinimumSeconds: Double
        var modelSuspicionMaximumSeconds: Double
    }

    var size: Int
    var seed: UInt64
    var compression: Bool
    var raftVoters: [String]
    var raftStandbys: [String]
    var convergence: Convergence
    var idle: Idle?
    var dissemination: Dissemination?
    var detection: Detection?
    /// Contract failures (always 0 in a sound run) and deaths declared of nodes that had not crashed.
    var undecodable: Int
    var mergeRefusals: Int
    var falseDeaths: Int
    /// Simulated time at the end, and whether the wall-clock budget cut the run short.
    var simulatedSeconds: Double = 0
    var stoppedEarly = false
    /// Filled in by the command: real time and the process's peak resident memory.
    var wallSeconds: Double = 0
    var peakRSSMegabytes: Double = 0
}
