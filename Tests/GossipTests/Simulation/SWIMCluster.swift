import CohortCore
import CohortTestKit
import Gossip
import NIOCore

/// How a simulated SWIM cluster is built.
struct SWIMClusterConfiguration: Sendable {
    /// How many nodes, named `node-0` …
    var size: Int
    /// Seeds the network and every node's random stream.
    var seed: UInt64
    /// The SWIM tuning of every node.
    var settings: SWIMSettings = .lan
    /// Every link's conditions.
    var conditions: LinkConditions = .ideal
    /// Node i starts at i × this (node 0 first).
    var startSpacing: Duration = .zero
    /// The nodes every other node joins through (`join_addrs`); a seed does not join itself.
    var seeds: [Int] = [0]
    /// When running nodes re-run join.
    var rejoin: RejoinRule = .whenAlone
    /// How often the rejoin rule is checked (`rejoin_interval`).
    var rejoinInterval: Duration = .seconds(30)
    /// LZW-compress datagrams and streams (the shell's default). Off halves the cost of the wire path in
    /// debug builds; the messages, compounds and CRC are still encoded and decoded for real.
    var compression = true
    /// Record the network's trace (for determinism checks).
    var recordsTrace = false
    /// Bytes of metadata each node announces (a cohortd joiner's `NodeMeta` is about 26; Go peers send 0).
    var metadataBytes = 0
}

/// N `SWIMInstance`s on a ``SimulatedNetwork``, driven as the `GossipService` shell drives one: timers at
/// `nextDeadline`, datagrams through the real `PacketEncoder`/`PacketDecoder`, TCP pings and push/pulls
/// through the real stream codec over reliable streams, joins and rejoins through a seed.
struct SWIMCluster {
    let configuration: SWIMClusterConfiguration
    var network: SimulatedNetwork<NodeID, SWIMTraffic>
    var nodes: [SWIMClusterNode]
    let indexByName: [NodeID: Int]
    let indexByAddress: [[UInt8]: Int]

    /// Every membership event, in order.
    var events: [ObservedEvent] = []
    /// The first departure each observer published about each subject: observer → subject → event.
    var firstDepartures: [NodeID: [NodeID: (at: Duration, reason: DepartureReason)]] = [:]
    /// When each distinct accusation first went out.
    var accusations: [Accusation: Duration] = [:]
    /// Changes in how every node sees the watched subjects.
    var stateChanges: [ObservedState] = []
    /// Subjects whose state every node's view is followed for (``watch(_:)``).
    private(set) var watched: [NodeID] = []
    private var lastSeen: [NodeID: [NodeID: MemberStateKind]] = [:]
    /// The highest awareness score of each node since ``resetPeakAwareness()``.
    var peakAwareness: [NodeID: Int] = [:]
    /// `udpUnreachable` effects: a member answered only over TCP.
    var udpUnreachable: [(observer: NodeID, target: NodeID)] = []
    /// Messages the real codecs failed to encode or decode (always a bug here: nothing corrupts bytes).
    var undecodable = 0
    /// Push/pulls the core refused to merge (always a bug here: every node speaks the same versions).
    var mergeRefusals = 0
    /// Timers that asked to run again at once (always a bug in the core's `nextDeadline`).
    var timerStalls = 0

    /// The encoder's output for membership broadcasts already sent (see `encodedMessage(_:)`).
    var encodedBroadcasts: [GossipMessage: ByteBuffer] = [:]
    let packetEncoder: PacketEncoder
    let packetDecoder = PacketDecoder()
    let streamEncoder: StreamEncoder
    let streamDecoder = StreamDecoder()

    init(_ configuration: SWIMClusterConfiguration) {
        self.configuration = configuration
        packetEncoder = PacketEncoder(compression: configuration.compression)
        streamEncoder = StreamEncoder(compression: configuration.compression)
        network = SimulatedNetwork(
            seed: configuration.seed, conditions: configuration.conditions, recordsTrace: configuration.recordsTrace
        )
        let start = network.now
        nodes = (0..<configuration.size).map { index in
            SWIMClusterNode(index: index, seed: configuration.seed, startAt: start + configuration.startSpacing * index)
        }
        indexByName = Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0.index) })
        indexByAddress = Dictionary(uniqueKeysWithValues: nodes.map { ($0.address.ip, $0.index) })
        for node in nodes {
            network.crash(node.name)  // down until it starts
            network.restart(node.name, at: node.startAt ?? start)
        }
    }

    /// Every node's name, in index order.
    var names: [NodeID] { nodes.map(\.name) }
    /// Nodes that are started and not killed.
    var running: [NodeID] { nodes.filter(\.isRunning).map(\.name) }
    /// Simulated time since the start.
    var elapsed: Duration { network.elapsed }
    /// The current simulated time.
    var now: ContinuousClock.Instant { network.now }

    /// The node called `name`.
    subscript(name: NodeID) -> SWIMClusterNode {
        nodes[indexByName[name]!]
    }

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

    /// Runs for `duration` of simulated time.
    mutating func run(for duration: Duration) {
        run(until: now + duration)
    }

    /// Runs in steps of `step` until `condition` holds or `limit` of simulated time has passed; returns
    /// the simulated time since the start at which it first held, checked at step boundaries.
    mutating func run(
        upTo limit: Duration, checkingEvery step: Duration = .milliseconds(50), until condition: (SWIMCluster) -> Bool
    ) -> Duration? {
        let end = now + limit
        while true {
            if condition(self) { return elapsed }
            guard now < end else { return nil }
            run(until: min(now + step, end))
        }
    }

    // MARK: Faults

    /// Crashes `name`: it stops ticking and receiving, for good.
    mutating func kill(_ name: NodeID) {
        nodes[indexByName[name]!].killed = true
        network.crash(name)
    }

    /// Makes `name` handle everything it receives `delay` late (zero: prompt again).
    mutating func slowDown(_ name: NodeID, by delay: Duration) {
        network.setProcessingDelay(delay, for: name)
    }

    /// Follows how every node sees `subject` in ``stateChanges``.
    mutating func watch(_ subject: NodeID) {
        watched.append(subject)
    }

    /// Forgets the awareness peaks seen so far.
    mutating func resetPeakAwareness() {
        peakAwareness = [:]
    }

    // MARK: Timers

    private mutating func fire(_ index: Int) {
        let now = network.now
        if let startAt = nodes[index].startAt, startAt <= now {
            let meta = [UInt8](repeating: 1, count: configuration.metadataBytes)
            nodes[index].start(settings: configuration.settings, now: now, meta: meta)
            join(index)
        } else if let nextJoin = nodes[index].nextJoin, nextJoin <= now {
            join(index)
        }
        if let deadline = nodes[index].instance?.nextDeadline, deadline <= now {
            perform(nodes[index].tick(now: now), by: index)
        }
        afterStep(index, timer: true)
    }

    /// Join at start, retried with backoff (500 ms doubling to 8 s) until a seed takes the connection;
    /// once joined, the rejoin rule every `rejoinInterval`.
    private mutating func join(_ index: Int) {
        let node = nodes[index]
        let seeds = configuration.seeds.filter { $0 != index }
        let targets: [Int]
        if !node.joined {
            targets = seeds
        } else {
            let view = node.aliveView
            switch configuration.rejoin {
            case .never: targets = []
            case .whenAlone: targets = view.count <= 1 ? seeds : []
            case .whenSeedMissing: targets = seeds.filter { !view.contains(nodes[$0].name) }
            }
        }
        var reached = false
        for seed in targets where pushPull(from: index, to: seed, join: true) {
            reached = true
        }
        if node.joined || reached || seeds.isEmpty {
            nodes[index].joined = true
            nodes[index].joinBackoff = .milliseconds(500)
            nodes[index].nextJoin = configuration.rejoin == .never ? nil : network.now + configuration.rejoinInterval
        } else {
            nodes[index].nextJoin = network.now + node.joinBackoff
            nodes[index].joinBackoff = min(node.joinBackoff * 2, .seconds(8))
        }
    }

    /// Re-arms `index`'s timer and records what the tests watch.
    mutating func afterStep(_ index: Int, timer: Bool) {
        let node = nodes[index]
        guard node.isRunning || node.startAt != nil else { return }
        if var deadline = node.deadline {
            // A tick may leave work due at once (its own failed probe can confirm a suspicion down to a
            // deadline already past); the shell then ticks again. Only a timer that keeps asking is a stall.
            if timer, deadline <= network.now {
                nodes[index].immediateTicks += 1
                if nodes[index].immediateTicks > 3 {
                    timerStalls += 1
                    deadline = network.now + .milliseconds(1)
                }
            } else if timer {
                nodes[index].immediateTicks = 0
            }
            network.setTimer(for: node.name, at: deadline)
        }
        guard let instance = node.instance else { return }
        peakAwareness[node.name] = max(peakAwareness[node.name] ?? 0, instance.awareness.score)
        for subject in watched {
            let state = instance.members[subject]?.state
            guard lastSeen[node.name]?[subject] != state else { continue }
            lastSeen[node.name, default: [:]][subject] = state
            stateChanges.append(ObservedState(at: elapsed, observer: node.name, subject: subject, state: state))
        }
    }
}
