import CohortCore
import CohortTestKit
@testable import RaftCore
@testable import RaftPersistence

/// How one simulated run is shaped.
struct RaftSimulationConfiguration: Sendable {
    var seed: UInt64
    var voters: Int
    var standbys: Int
    /// Simulated time with faults (loss, duplicates, reordering, partitions, crashes, changes).
    var chaos: Duration = .milliseconds(1000)
    /// Time after healing within which a leader must commit a fresh proposal.
    var livenessBound: Duration = .seconds(5)
    var tickInterval: Duration = .milliseconds(10)
    /// How often the driver draws a fault or client action.
    var actionInterval: Duration = .milliseconds(20)
    var settings = RaftNodeSettings(electionTicks: 10, heartbeatTicks: 3, maxEntriesPerAppend: 4, maxInflightAppends: 2, snapshotTimeoutTicks: 30)
    var conditions = LinkConditions(
        latency: .milliseconds(1), jitter: .milliseconds(4), dropRate: 0.05,
        duplicateRate: 0.02, reorderRate: 0.05, reorderDelay: .milliseconds(8)
    )
    /// Compact a node's log once it has applied this many entries past its snapshot (by chance).
    var snapshotThreshold: LogIndex = 6
    /// Entries a compaction keeps behind the snapshot (`trailing_logs`).
    var trailingLogs: LogIndex = 0
    /// Send every message through the binary codec (else as values: the codec costs a sixth of a run).
    var usesCodec = true
    /// Crash the leader often (about every 80 ms), so logs diverge across many short terms (the
    /// "Figure 8, unreliable" schedule).
    var leaderChurn = false
    /// The faults beyond the network's: slow fsyncs that hold a node's outgoing messages, crashes partway
    /// through a write, power losses, process pauses, links that delay messages past an election timeout,
    /// corrupted messages and wiped disks.
    var faults = RaftSimulationFaults.all

    /// Five voters and a standby, one entry per append, and a leader that crashes every ~80 ms and comes
    /// back soon: many short terms whose uncommitted tails diverge, where committing an old-term entry by
    /// counting replicas (Figure 8) would lose a committed entry.
    static func leaderChurn(_ seed: UInt64) -> RaftSimulationConfiguration {
        var configuration = RaftSimulationConfiguration(seed: seed, voters: 5, standbys: 1)
        configuration.settings.maxEntriesPerAppend = 1
        configuration.leaderChurn = true
        configuration.usesCodec = false
        // Crashes partway through writes and power losses, nothing that slows the churn down.
        configuration.faults = [.partialWrites]
        return configuration
    }

    /// Seeds vary the shape: 3, 5 or (one seed in five) 7 voters with 1 or 2 standbys, 1–4 entries per
    /// append, and one seed in eight without CheckQuorum (so a deposed leader lingers and ReadIndex must
    /// protect itself) and one in eight without PreVote (so terms churn); compactions keep 0, 2 or 8
    /// trailing entries (so lagging peers get entries the snapshot covers, or the newest snapshot).
    static func forSeed(_ seed: UInt64) -> RaftSimulationConfiguration {
        let voters = seed % 5 == 4 ? 7 : (seed % 2 == 0 ? 3 : 5)
        var configuration = RaftSimulationConfiguration(seed: seed, voters: voters, standbys: seed % 4 < 2 ? 1 : 2)
        configuration.usesCodec = seed % 4 == 0
        configuration.settings.maxEntriesPerAppend = 1 + Int((seed / 4) % 4)
        configuration.settings.checkQuorum = seed % 8 != 3
        configuration.settings.preVote = seed % 8 != 5
        configuration.trailingLogs = [0, 2, 8][Int((seed / 16) % 3)]
        return configuration
    }
}

/// Which faults beyond the network's a run injects (all of them unless a test narrows it).
struct RaftSimulationFaults: OptionSet, Sendable {
    let rawValue: Int
    /// Fsyncs that take from nothing to three election timeouts; the node's ready (and the messages that
    /// wait for it) is held meanwhile.
    static let slowDisks = RaftSimulationFaults(rawValue: 1 << 0)
    /// A crash during a write leaves part of it on disk; crashes are process kills or power losses (which
    /// lose what was not fsynced, commit-only records included, in any order).
    static let partialWrites = RaftSimulationFaults(rawValue: 1 << 1)
    /// A process stops for up to three election timeouts, then reads everything that arrived meanwhile.
    static let pauses = RaftSimulationFaults(rawValue: 1 << 2)
    /// A link delays its messages past an election timeout, then delivers them late.
    static let delayedLinks = RaftSimulationFaults(rawValue: 1 << 3)
    /// Bytes of a message are garbled in flight (with the codec).
    static let corruption = RaftSimulationFaults(rawValue: 1 << 4)
    /// A node loses its data directory and comes back under its name with an empty disk.
    static let wipes = RaftSimulationFaults(rawValue: 1 << 5)

    static let all: RaftSimulationFaults = [.slowDisks, .partialWrites, .pauses, .delayedLinks, .corruption, .wipes]
}

/// N Raft cores on a ``SimulatedNetwork``, driven as a shell would drive them, each over the real
/// ``FileRaftStorage`` on a disk that forgets what was not fsynced, with a checker that validates the safety
/// invariants after every event.
struct RaftSimulation {
    let configuration: RaftSimulationConfiguration
    var network: SimulatedNetwork<NodeID, SimulatedPayload>
    var nodes: [RaftSimulationNode]
    var checker = RaftSafetyChecker()
    var trace = RaftSimulationTrace()
    var random: SplitMix64
    let codec = MessageCodec()
    let indexByID: [NodeID: Int]

    var nextCommand: UInt64 = 1
    var nextReadContext: ReadContext = 1
    /// Nodes whose disk was wiped and that are not admitted again yet (no configuration change meanwhile).
    var wiped: Set<NodeID> = []
    /// Links slowed past an election timeout, and when each is restored.
    var delayedLinks: [(from: NodeID, to: NodeID, until: ContinuousClock.Instant)] = []
    var statistics = RaftSimulationStatistics()

    init(_ configuration: RaftSimulationConfiguration) {
        self.configuration = configuration
        network = SimulatedNetwork(seed: configuration.seed, conditions: configuration.conditions)
        random = SplitMix64(seed: configuration.seed, stream: 1)
        let ids = (0..<(configuration.voters + configuration.standbys)).map { NodeID("n\($0)") }
        let founding = Configuration(voters: ids.prefix(configuration.voters), standbys: ids.dropFirst(configuration.voters))
        let bootstrap = LogStorage.bootstrap(founding)
        nodes = ids.enumerated().map { RaftSimulationNode(id: $1, index: $0, disk: CrashingFileSystem()) }
        indexByID = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        let start = network.now
        for index in nodes.indices {
            do {
                // Every founder writes the founding state, as `RaftService.bootstrap` does.
                _ = try nodes[index].storage.load()
                try nodes[index].storage.persist(snapshot: nil, entries: bootstrap.entries, hardState: bootstrap.hardState)
                try nodes[index].boot(settings: configuration.settings, seed: configuration.seed)
            } catch {
                checker.fail("\(nodes[index].id) could not be founded: \(error)")
            }
            network.setTimer(for: nodes[index].id, at: start + random.duration(below: configuration.tickInterval))
        }
    }

    // MARK: Running

    /// Runs the chaos phase, heals everything, then requires liveness. Returns the first violation, with
    /// the tail of the trace.
    mutating func run() -> String? {
        guard let failure = runPhases() else { return nil }
        return "seed \(configuration.seed) (\(configuration.voters) voters, \(configuration.standbys) standbys) at \(network.elapsed): \(failure)\n"
            + "replay: RAFT_SIM_SEED=\(configuration.seed) swift test --skip-build --filter ConsensusTests\n" + trace.tail()
    }

    private mutating func runPhases() -> String? {
        let chaosEnd = network.now + configuration.chaos
        var nextAction = network.now + configuration.actionInterval
        while network.now < chaosEnd {
            let limit = min(nextAction, chaosEnd)
            while let event = network.next(until: limit) {
                handle(event)
                if let failure = checker.failure { return failure }
            }
            if network.now >= nextAction {
                act()
                nextAction = network.now + configuration.actionInterval
                if let failure = checker.failure { return failure }
            }
        }
        return heal()
    }

    /// Heals the network, restarts every crashed node, and waits for a leader to commit a new command.
    private mutating func heal() -> String? {
        network.heal()
        network.conditions = .ideal
        restoreDelayedLinks(all: true)
        trace.record(network.elapsed, nil, .heal)
        for index in nodes.indices where nodes[index].core == nil { restart(index) }
        for index in nodes.indices where nodes[index].pausedUntil != nil { nodes[index].pausedUntil = network.now }
        let deadline = network.now + configuration.livenessBound
        var command: UInt64?
        var nextAttempt = network.now
        while network.now < deadline {
            while let event = network.next(until: min(deadline, nextAttempt)) {
                handle(event)
                if let failure = checker.failure { return failure }
            }
            nextAttempt = network.now + configuration.tickInterval
            if let command, nodes.contains(where: { $0.stateMachine.commands.last == command && $0.core?.state == .leader }) {
                statistics.livenessTime = network.elapsed - configuration.chaos
                return checker.finalCheck(nodes)
            }
            if command == nil || nodes.allSatisfy({ $0.core?.state != .leader }) || random.chance(0.05) {
                for index in nodes.indices where nodes[index].core?.state == .leader {
                    let id = nextCommand
                    if (try? nodes[index].core?.propose(Self.bytes(of: id))) != nil {
                        nextCommand += 1
                        command = id
                        trace.record(network.elapsed, nodes[index].id, .propose(id))
                        collectReady(index)
                    }
                }
            }
        }
        let summary = nodes.map { node in
            guard let core = node.core else { return "\(node.id): down" }
            return "\(node.id): \(core.state) t\(core.term) leader \(core.leader?.rawValue ?? "-") commit \(core.commitIndex) applied \(node.stateMachine.appliedIndex)\(core.isBlank ? " blank" : "") \(core.configuration)"
        }.joined(separator: "\n")
        return "no leader committed a proposal within \(configuration.livenessBound) after healing:\n\(summary)"
    }

    private mutating func handle(_ event: SimulationEvent<NodeID, SimulatedPayload>) {
        switch event {
        case .timer(let id):
            let index = indexByID[id]!
            if let until = nodes[index].pausedUntil {
                guard network.now >= until else {
                    network.setTimer(for: id, at: until)
                    return
                }
                resume(index)
            }
            // An fsync completes at the first tick after it returned.
            completePending(index)
            trace.record(network.elapsed, id, .tick)
            nodes[index].core?.tick()
            network.setTimer(for: id, at: network.now + configuration.tickInterval)
            collectReady(index)
        case .restarted(let id):
            restart(indexByID[id]!)
        case .delivery(let delivery):
            let index = indexByID[delivery.to]!
            guard nodes[index].core != nil else { return }
            // The fsync of the pending ready is still running: messages are stepped meanwhile, and a crash
            // before the node's next tick loses it.
            let message: Message
            if let value = delivery.payload.message {
                message = value
            } else {
                var bytes = delivery.payload.bytes
                let corrupted = configuration.faults.contains(.corruption) && random.chance(0.003)
                if corrupted { garble(&bytes) }
                do {
                    message = try codec.decode(bytes)
                } catch {
                    if corrupted {
                        statistics.corruptionsDropped += 1
                        return
                    }
                    checker.fail("undecodable message from \(delivery.from): \(error)")
                    return
                }
                // A garbled message that still decodes to something else is the transport's to catch (the
                // mesh authenticates every frame with the cluster key): dropped here too.
                if corrupted, message != (try? codec.decode(delivery.payload.bytes)) {
                    statistics.corruptionsDropped += 1
                    return
                }
            }
            if case .snapshot(let metadata) = message.kind, let snapshot = delivery.payload.snapshot {
                nodes[index].receivedSnapshots[metadata.index] = snapshot
            }
            if nodes[index].isPaused(at: network.now) {
                nodes[index].inbox.append(message)
                return
            }
            trace.record(network.elapsed, delivery.to, .deliver(message))
            nodes[index].core?.step(message)
            collectReady(index)
        }
    }

    // MARK: The shell

    /// Takes the node's ready (if any): sends what may leave at once, keeps the rest until its write
    /// completes — at once, or (slow disks) up to three election timeouts later.
    mutating func collectReady(_ index: Int) {
        guard nodes[index].core != nil else { return }
        if nodes[index].core!.hasReady {
            let ready = nodes[index].core!.ready()
            // Entries already stored with the same index and term are durable and may have been
            // acknowledged: handing them out again would have the storage cut and rewrite them.
            if let first = ready.entries.first, ready.snapshot == nil, nodes[index].storedTerms[first.index] == first.term {
                checker.fail("\(nodes[index].id) hands out \(first.position) again although it is stored (the rewrite window)")
            }
            nodes[index].pending = PendingReady(ready: ready, completesAt: network.now + writeDuration(for: ready))
            for outgoing in ready.messages where !outgoing.afterPersist { transmit(outgoing.message, from: index) }
            checkReadStates(ready, at: index)
        }
        checker.check(&nodes[index])
    }

    /// How long a ready's write takes: nothing to write is at once; otherwise mostly by the next tick,
    /// sometimes a few ticks, now and then up to three election timeouts (a slow disk holding everything
    /// that waits for it, a leader's heartbeats included).
    private mutating func writeDuration(for ready: Ready) -> Duration {
        guard configuration.faults.contains(.slowDisks), ready.hardState != nil || !ready.entries.isEmpty || ready.snapshot != nil else { return .zero }
        let electionTimeout = configuration.tickInterval * configuration.settings.electionTicks
        switch random.next() % 100 {
        case 0..<70: return .zero
        case 70..<95: return random.duration(below: configuration.tickInterval * 4)
        default:
            statistics.slowWrites += 1
            return random.duration(below: electionTimeout * 3)
        }
    }

    /// The pending ready's write returned (at the node's first tick after it is due): persist it through
    /// the storage, send what waited for it, install and apply, advance.
    mutating func completePending(_ index: Int) {
        guard let pending = nodes[index].pending, pending.completesAt <= network.now else { return }
        let ready = pending.ready
        nodes[index].pending = nil
        var installed: SimulatedSnapshot?
        if let metadata = ready.snapshot {
            guard let data = nodes[index].receivedSnapshots[metadata.index], data.metadata == metadata else {
                checker.fail("\(nodes[index].id) must install a snapshot it never received: \(metadata)")
                return
            }
            installed = data
            // A newer snapshot may have arrived while this one was being written: keep it.
            nodes[index].receivedSnapshots = nodes[index].receivedSnapshots.filter { $0.key > metadata.index }
        }
        do {
            try nodes[index].storage.persist(snapshot: installed?.stored, entries: ready.entries, hardState: ready.hardState)
        } catch {
            checker.fail("\(nodes[index].id)'s storage failed: \(error)")
            return
        }
        if installed != nil { nodes[index].storedTerms = [:] }
        if let first = ready.entries.first {
            nodes[index].storedTerms = nodes[index].storedTerms.filter { $0.key < first.index }
            for entry in ready.entries { nodes[index].storedTerms[entry.index] = entry.term }
        }
        for outgoing in ready.messages where outgoing.afterPersist { transmit(outgoing.message, from: index) }
        if let installed {
            nodes[index].currentSnapshot = installed.stored
            nodes[index].stateMachine = installed.state
            checker.checkInstalledSnapshot(nodes[index].id, state: nodes[index].stateMachine, metadata: installed.metadata)
        }
        for entry in ready.committedEntries {
            checker.apply(entry, on: &nodes[index])
        }
        nodes[index].core?.advance()
        statistics.readies += 1
    }

    private mutating func transmit(_ message: Message, from index: Int) {
        var payload = configuration.usesCodec
            ? SimulatedPayload(bytes: codec.encode(message), message: nil, snapshot: nil)
            : SimulatedPayload(bytes: [], message: message, snapshot: nil)
        if case .snapshot(let metadata) = message.kind {
            guard let stored = nodes[index].currentSnapshot, stored.metadata == metadata,
                  let state = SimulatedStateMachine(decoding: stored.data) else {
                checker.fail("\(message.from) sends a snapshot it does not have: \(metadata) vs \(nodes[index].currentSnapshot?.metadata as Any)")
                return
            }
            payload.snapshot = SimulatedSnapshot(metadata: metadata, state: state)
            statistics.snapshotsSent += 1
        }
        network.send(payload, from: message.from, to: message.to)
    }

    mutating func restart(_ index: Int) {
        network.restart(nodes[index].id)
        do {
            try nodes[index].boot(settings: configuration.settings, seed: configuration.seed)
        } catch {
            checker.fail("\(nodes[index].id) refused to start from its disk: \(error)")
            return
        }
        trace.record(network.elapsed, nodes[index].id, .restart)
        network.setTimer(for: nodes[index].id, at: network.now + configuration.tickInterval)
        statistics.restarts += 1
    }

    /// A paused process resumes: it reads, in order, what arrived meanwhile.
    private mutating func resume(_ index: Int) {
        nodes[index].pausedUntil = nil
        let inbox = nodes[index].inbox
        nodes[index].inbox = []
        for message in inbox {
            guard nodes[index].core != nil else { return }
            trace.record(network.elapsed, nodes[index].id, .deliver(message))
            nodes[index].core?.step(message)
            collectReady(index)
            if checker.failure != nil { return }
        }
    }

    /// Restores delayed links whose time is up (every one when `all`).
    mutating func restoreDelayedLinks(all: Bool) {
        delayedLinks.removeAll { link in
            guard all || link.until <= network.now else { return false }
            network.setConditions(nil, from: link.from, to: link.to)
            return true
        }
    }

    /// Garbles a message in flight: a few flipped bits, or a cut.
    private mutating func garble(_ bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        if random.chance(0.3) {
            bytes.removeLast(Int(random.next() % UInt64(bytes.count)) + 1)
        } else {
            for _ in 0...(random.next() % 3) {
                bytes[Int(random.next() % UInt64(bytes.count))] ^= UInt8(1 << (random.next() % 8))
            }
        }
    }

    // MARK: Linearizable reads

    private mutating func checkReadStates(_ ready: Ready, at index: Int) {
        for state in ready.readStates {
            // A forwarded read may be answered twice (the network duplicates): each answer must be fresh.
            guard let floor = checker.readFloors[state.context] else {
                checker.fail("\(nodes[index].id) answered read \(state.context) that it never asked")
                continue
            }
            if state.index < floor {
                checker.fail("read \(state.context) at \(nodes[index].id) got index \(state.index) but \(floor) was committed before it started (stale read)")
            }
            statistics.reads += 1
        }
    }

    static func bytes(of command: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: command >> (8 * UInt64($0))) }
    }
}

/// Counters of one run, to see that the chaos did happen.
struct RaftSimulationStatistics: Sendable {
    var slowWrites = 0
    var partialWrites = 0
    var powerLosses = 0
    var pauses = 0
    var delayedLinks = 0
    var corruptionsDropped = 0
    var wipes = 0
    var readies = 0
    var restarts = 0
    var crashes = 0
    var partitions = 0
    var proposals = 0
    var configurationChanges = 0
    var transfers = 0
    var compactions = 0
    var snapshotsSent = 0
    var reads = 0
    var livenessTime: Duration = .zero
}
