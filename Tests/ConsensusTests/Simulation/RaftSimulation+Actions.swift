import CohortCore
import CohortTestKit
@testable import Consensus

extension RaftSimulation {
    /// One round of faults and client actions, each by chance.
    mutating func act() {
        let running = nodes.indices.filter { nodes[$0].core != nil }
        let leaders = running.filter { nodes[$0].core?.role == .leader }

        if random.chance(0.03), nodes.count - running.count < 2, let victim = running.randomElement(using: &random) {
            crash(victim)
        }
        if configuration.leaderChurn, random.chance(0.25), nodes.count - running.count < 2, let leader = leaders.first {
            crash(leader, downtime: .milliseconds(20) + random.duration(below: .milliseconds(130)))
        }
        // Power loss of two nodes at once, the leader among them (its unsynced acknowledgements and the
        // follower's are lost together).
        if random.chance(0.01), running.count == nodes.count, let leader = leaders.first,
           let other = running.filter({ $0 != leader }).randomElement(using: &random) {
            crash(leader)
            crash(other)
        }
        if network.partitionGroups == nil {
            if random.chance(0.02) { partition() }
            if random.chance(0.03), let leader = leaders.randomElement(using: &random) { isolateLeader(leader) }
            if random.chance(0.01), let from = running.randomElement(using: &random), let to = running.randomElement(using: &random), from != to {
                network.block(from: nodes[from].id, to: nodes[to].id)
                trace.record(network.elapsed, nodes[from].id, .block(nodes[to].id))
            }
        } else if random.chance(0.1) {
            network.heal()
            trace.record(network.elapsed, nil, .heal)
        }
        if random.chance(0.5), let leader = leaders.randomElement(using: &random) {
            for _ in 0..<Int.random(in: 1...3, using: &random) { propose(at: leader) }
        }
        if random.chance(0.05), let anyone = running.randomElement(using: &random) {
            propose(at: anyone)
        }
        if random.chance(0.06), let leader = leaders.randomElement(using: &random) {
            changeConfiguration(at: leader)
        }
        if random.chance(0.02), let leader = leaders.randomElement(using: &random), let core = nodes[leader].core,
           let target = core.voters.randomElement(using: &random) {
            _ = try? nodes[leader].core?.transferLeadership(to: target)
            trace.record(network.elapsed, nodes[leader].id, .transfer(target))
            statistics.transfers += 1
            collectReady(leader)
        }
        if random.chance(0.15), let reader = running.randomElement(using: &random) {
            read(at: reader)
        }
        if random.chance(0.15), let compactor = running.randomElement(using: &random) {
            compact(compactor)
        }
    }

    private mutating func crash(_ index: Int, downtime: Duration? = nil) {
        let id = nodes[index].id
        network.crash(id)
        nodes[index].crash()
        trace.record(network.elapsed, id, .crash)
        statistics.crashes += 1
        let downtime = downtime ?? Duration.milliseconds(50) + random.duration(below: .milliseconds(350))
        network.restart(id, at: network.now + downtime)
    }

    private mutating func partition() {
        var groups: [Set<NodeID>] = [[], []]
        for node in nodes { groups[Int(random.next() % 2)].insert(node.id) }
        network.partition(groups)
        trace.record(network.elapsed, nil, .partition(groups.map { $0.sorted() }))
        statistics.partitions += 1
    }

    /// Cuts the leader off with at most one follower, so the others elect a new leader while it still
    /// believes it leads (and may have appended entries only a minority holds).
    private mutating func isolateLeader(_ leader: Int) {
        var minority: Set<NodeID> = [nodes[leader].id]
        if random.chance(0.5), let companion = nodes.indices.filter({ $0 != leader }).randomElement(using: &random) {
            minority.insert(nodes[companion].id)
        }
        let groups = [minority, Set(nodes.map(\.id)).subtracting(minority)]
        network.partition(groups)
        trace.record(network.elapsed, nodes[leader].id, .partition(groups.map { $0.sorted() }))
        statistics.partitions += 1
    }

    private mutating func propose(at index: Int) {
        guard nodes[index].core != nil else { return }
        let command = nextCommand
        do {
            try nodes[index].core?.propose(Self.bytes(of: command))
            nextCommand += 1
            statistics.proposals += 1
            trace.record(network.elapsed, nodes[index].id, .propose(command))
        } catch {
            trace.record(network.elapsed, nodes[index].id, .refused("propose: \(error)"))
        }
        collectReady(index)
    }

    private mutating func changeConfiguration(at index: Int) {
        guard let core = nodes[index].core else { return }
        let configuration = core.configuration
        var options: [ConfigurationChange] = []
        for node in nodes {
            switch configuration.role(of: node.id) {
            case nil:
                options.append(.addStandby(node.id))
            case .standby?:
                if configuration.voters.count < 5 { options.append(.promote(node.id)) }
                options.append(.remove(node.id))
            case .voter?:
                if configuration.voters.count > 2 {
                    options.append(.demote(node.id))
                    options.append(.remove(node.id))
                }
            }
        }
        guard let change = options.randomElement(using: &random) else { return }
        do {
            try nodes[index].core?.proposeConfigurationChange(change)
            statistics.configurationChanges += 1
            trace.record(network.elapsed, nodes[index].id, .change(change))
        } catch {
            trace.record(network.elapsed, nodes[index].id, .refused("\(change): \(error)"))
        }
        collectReady(index)
    }

    private mutating func read(at index: Int) {
        let context = nextReadContext
        nextReadContext += 1
        // Everything committed anywhere before the read starts must be visible to it.
        checker.readFloors[context] = checker.maxCommitted
        do {
            try nodes[index].core?.readIndex(context: context)
            trace.record(network.elapsed, nodes[index].id, .read(context))
        } catch {
            checker.readFloors[context] = nil
        }
        collectReady(index)
    }

    private mutating func compact(_ index: Int) {
        guard nodes[index].pending == nil, let core = nodes[index].core else { return }
        let applied = core.appliedIndex
        guard applied >= core.log.snapshot.index + configuration.snapshotThreshold else { return }
        nodes[index].core?.compact(through: applied)
        guard let metadata = nodes[index].core?.log.snapshot else { return }
        // The snapshot is written and fsynced before the log is truncated (a crash keeps one or the other).
        precondition(nodes[index].stateMachine.appliedIndex == applied, "the state machine is at the applied index")
        nodes[index].disk.snapshot = SimulatedSnapshot(metadata: metadata, state: nodes[index].stateMachine)
        nodes[index].disk.entries.removeAll { $0.index <= applied }
        statistics.compactions += 1
        trace.record(network.elapsed, nodes[index].id, .compact(applied))
    }
}
