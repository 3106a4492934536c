import CohortCore
import CohortTestKit
import Gossip
import GossipCore
import RaftCore
import NIOCore
import RaftMembership

/// N real `SWIMInstance`s and the real `RaftNode`s of the Raft members on one ``SimulatedNetwork``, driven
/// as the gossip and Raft shells drive them. Unlike the tests' `SWIMCluster` it keeps no per-event history
/// (25 M membership events at 5,000 nodes): it counts traffic per node and records only what the scenario
/// follows (convergence, the deaths of chosen victims, one rumor).
struct ScaleCluster {
    let configuration: ScaleConfiguration
    var network: SimulatedNetwork<NodeID, ScaleTraffic>
    var nodes: [ScaleNode]
    let indexByName: [NodeID: Int]
    let indexByAddress: [[UInt8]: Int]
    /// The Raft configuration, chosen by the voter reconciler (``raftConfiguration(size:maxVoters:maxStandbys:)``).
    let raftMembers: Configuration

    let packetEncoder: PacketEncoder
    let packetDecoder = PacketDecoder()
    let streamEncoder: StreamEncoder
    let streamDecoder = StreamDecoder()
    let raftCodec = MessageCodec()
    /// The encoder's output for membership broadcasts already encoded once (a pure function of the message).
    var encodedBroadcasts: [GossipMessage: ByteBuffer] = [:]

    /// Failures of the real codecs or the cores' contracts (always a bug: nothing corrupts bytes here).
    var undecodable = 0
    var mergeRefusals = 0

    /// The deaths the scenario waits for: victim → observers that declared it dead, and when the first and
    /// the last did.
    var victims: [NodeID: (declaredBy: Set<Int>, first: Duration?, last: Duration)] = [:]
    /// Deaths declared of nodes that are not victims.
    var falseDeaths = 0
    /// The rumor being followed: its subject, the incarnation that carries it, and per node the hop count
    /// and time at which it arrived.
    var rumor: Rumor?

    init(_ configuration: ScaleConfiguration) {
        self.configuration = configuration
        packetEncoder = PacketEncoder(compression: configuration.compression)
        streamEncoder = StreamEncoder(compression: configuration.compression)
        network = SimulatedNetwork(seed: configuration.seed, conditions: configuration.conditions)
        var random = SplitMix64(seed: configuration.seed, stream: .max - 1)
        let start = network.now
        nodes = (0..<configuration.size).map { index in
            ScaleNode(index: index, seed: configuration.seed, startAt: start + random.duration(below: configuration.startWindow))
        }
        indexByName = Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0.index) })
        indexByAddress = Dictionary(uniqueKeysWithValues: nodes.map { ($0.address.ip, $0.index) })
        raftMembers = Self.raftConfiguration(
            names: nodes.map(\.name), maxVoters: configuration.maxVoters, maxStandbys: configuration.maxStandbys
        )
        for node in nodes {
            network.crash(node.name)  // down until it starts
            network.restart(node.name, at: node.startAt ?? start)
        }
    }

    /// The voters and standbys the reconciler aims for once the leader's gossip view holds every node: the
    /// planner's targets for a view of default servers (everyone alive, eligible, priority 100, no failure
    /// domain). Everybody else is a gossip-only client. The run keeps this configuration fixed.
    static func raftConfiguration(names: [NodeID], maxVoters: Int, maxStandbys: Int) -> Configuration {
        guard let first = names.first else { return Configuration(voters: [NodeID]()) }
        let plan = VoterPlanner.plan(ReconcileInput(
            leader: first, members: names.map { RaftMemberView(id: $0, inCluster: true) },
            configuration: Configuration(voters: [first]), caughtUp: Set(names), silent: [],
            maxVoters: maxVoters, maxStandbys: maxStandbys
        ))
        return Configuration(voters: plan.targetVoters, standbys: plan.targetStandbys)
    }

    /// Simulated time since the start.
    var elapsed: Duration { network.elapsed }
    var now: ContinuousClock.Instant { network.now }
    /// Indexes of nodes that are started and not killed.
    var running: [Int] { nodes.indices.filter { nodes[$0].isRunning } }

    /// The Raft leader, if exactly one running node believes itself leader.
    var raftLeader: Int? {
        let leaders = nodes.indices.filter { nodes[$0].isRunning && nodes[$0].raft?.state == .leader }
        return leaders.count == 1 ? leaders[0] : nil
    }

    /// Every node's traffic so far.
    var traffic: [NodeTraffic] { nodes.map(\.traffic) }

    // MARK: Running

    /// Runs until `limit`.
    mutating func run(until limit: ContinuousClock.Instant) {
        while let event = network.next(until: limit) {
            switch event {
            case .timer(let name), .restarted(let name):
                fire(indexByName[name]!)
            case .delivery(let delivery):
                deliver(delivery)
            }
        }
    }

    mutating func run(for duration: Duration) {
        run(until: now + duration)
    }

    /// Runs in steps of `step` until `condition` holds or `limit` has passed; the simulated time since the
    /// start at which it first held (checked at step boundaries), or nil.
    mutating func run(
        upTo limit: Duration, checkingEvery step: Duration, until condition: (inout ScaleCluster) -> Bool
    ) -> Duration? {
        let end = now + limit
        while true {
            if condition(&self) { return elapsed }
            guard now < end else { return nil }
            run(until: min(now + step, end))
        }
    }

    /// Crashes node `index` for good.
    mutating func kill(_ index: Int) {
        nodes[index].killed = true
        network.crash(nodes[index].name)
    }

    // MARK: Timers

    private mutating func fire(_ index: Int) {
        let now = network.now
        if let startAt = nodes[index].startAt, startAt <= now {
            start(index, now: now)
        }
        if let nextJoin = nodes[index].nextJoin, nextJoin <= now {
            join(index)
        }
        if let deadline = nodes[index].instance?.nextDeadline, deadline <= now {
            perform(nodes[index].tick(now: now), by: index)
        }
        if let tick = nodes[index].nextRaftTick, tick <= now {
            nodes[index].nextRaftTick = now + configuration.raftHeartbeat
            nodes[index].raft?.tick()
            collectRaft(index)
        }
        rearm(index)
    }

    private mutating func start(_ index: Int, now: ContinuousClock.Instant) {
        let node = nodes[index]
        nodes[index].startGossip(settings: configuration.settings, now: now)
        if raftMembers.role(of: node.name) != nil {
            var settings = RaftNodeSettings(
                electionTicks: configuration.raftElectionTicks, heartbeatTicks: 1,
                standbyHeartbeatRounds: configuration.raftStandbyHeartbeatRounds
            )
            settings.randomSeed = configuration.seed &* 1_000_003 &+ UInt64(index)
            nodes[index].raft = RaftNode(id: node.name, settings: settings, storage: .bootstrap(raftMembers))
            nodes[index].nextRaftTick = now + configuration.raftHeartbeat
        }
        nodes[index].nextJoin = now
    }

    /// memberlist's join: a push/pull with every seed (a seed skips itself); retried with backoff (500 ms
    /// doubling to 8 s) until one takes the connection. Seeds count as joined at once.
    private mutating func join(_ index: Int) {
        let seeds = (0..<min(configuration.seedCount, nodes.count)).filter { $0 != index }
        var reached = seeds.isEmpty || index < configuration.seedCount
        for seed in seeds where pushPull(from: index, to: seed, join: true) {
            reached = true
        }
        if reached {
            nodes[index].nextJoin = nil
        } else {
            nodes[index].nextJoin = network.now + nodes[index].joinBackoff
            nodes[index].joinBackoff = min(nodes[index].joinBackoff * 2, .seconds(8))
        }
    }

    /// Re-arms node `index`'s one timer at its earliest deadline.
    mutating func rearm(_ index: Int) {
        guard !nodes[index].killed, let deadline = nodes[index].deadline else { return }
        // A tick may leave work due at once; the shell then ticks again a moment later.
        network.setTimer(for: nodes[index].name, at: max(deadline, network.now + .microseconds(1)))
    }
}

/// One piece of news followed across the cluster: `subject`'s alive at `incarnation` (new metadata).
struct Rumor: Sendable {
    var subject: NodeID
    var incarnation: UInt32
    var startedAt: Duration
    /// Per node: the hops it travelled to get there (0 at the subject), when it has arrived.
    var hops: [Int?]
    var arrivedAt: [Duration?]
    var reached = 1
}
