import CohortCore
import CohortTestKit
@testable import RaftCore
@testable import RaftPersistence

extension RaftSimulation {
    /// One round of faults and client actions, each by chance.
    mutating func act() {
        let running = nodes.indices.filter { nodes[$0].core != nil }
        // A paused process takes no client calls.
        let active = running.filter { !nodes[$0].isPaused(at: network.now) }
        let leaders = active.filter { nodes[$0].core?.state == .leader }

        if random.chance(0.03), nodes.count - running.count < 2, let victim = running.randomElement(using: &random) {
            crash(victim)
        }
        // A node loses its data directory: it comes back empty, under its name. One at a time, and only
        // once every earlier one was admitted again (two blank voters of three can lose a committed entry
        // whatever the protocol does).
        // A voter only where the rest can still make a quorum (a two-voter group that loses one has none).
        // And not while a configuration change is in flight: a blank voter cannot help commit it, and the
        // group could be left with no voter able to win (the reconciler changes nothing while a voter
        // catches up).
        wiped = wiped.filter { id in nodes[indexByID[id]!].core?.isBlank != false }
        if configuration.faults.contains(.wipes), random.chance(0.004), running.count == nodes.count, wiped.isEmpty,
           running.allSatisfy({ nodes[$0].core?.isBlank == false && nodes[$0].core?.hasPendingConfigurationChange == false }),
           let victim = running.randomElement(using: &random),
           let latest = running.compactMap({ nodes[$0].core?.configuration }).max(by: { $0.voters.count > $1.voters.count }),
           !latest.isVoter(nodes[victim].id) || latest.voters.count >= 3 {
            crash(victim, wipe: true)
        }
        if configuration.faults.contains(.pauses), random.chance(0.02), let paused = running.randomElement(using: &random),
           !nodes[paused].isPaused(at: network.now) {
            let electionTimeout = configuration.tickInterval * configuration.settings.electionTicks
            nodes[paused].pausedUntil = network.now + electionTimeout / 2 + random.duration(below: electionTimeout * 5 / 2)
            trace.record(network.elapsed, nodes[paused].id, .pause)
            statistics.pauses += 1
        }
        restoreDelayedLinks(all: false)
        if configuration.faults.contains(.delayedLinks), random.chance(0.02),
           let from = running.randomElement(using: &random), let to = running.randomElement(using: &random), from != to {
            delayLink(from: nodes[from].id, to: nodes[to].id)
        }
        if configuration.leaderChurn, random.chance(0.25), nodes.count - running.count < 2, let leader = leaders.first {
            crash(leader, downtime: .milliseconds(20) + random.duration(below: .milliseconds(130)))
        }
        // Power loss of two nodes at once, the leader among them (its unsynced acknowledgements and the
        // follower's are lost together).
        if random.chance(0.01), running.count == nodes.count, let leader = leaders.first,
           let other = running.filter({ $0 != leader }).randomElement(using: &random) {
            crash(leader, powerLoss: true)
            crash(other, powerLoss: true)
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
        if random.chance(0.05), let anyone = active.randomElement(using: &random) {
            propose(at: anyone)
        }
        if random.chance(0.06), wiped.isEmpty, let leader = leaders.randomElement(using: &random) {
            changeConfiguration(at: leader)
        }
        if random.chance(0.02), let leader = leaders.randomElement(using: &random), let core = nodes[leader].core,
           let target = core.voters.randomElement(using: &random) {
            _ = try? nodes[leader].core?.transferLeadership(to: target)
            trace.record(network.elapsed, nodes[leader].id, .transfer(target))
            statistics.transfers += 1
            collectReady(leader)
        }
        if random.chance(0.15), let reader = active.randomElement(using: &random) {
            read(at: reader)
        }
        if random.chance(0.15), let compactor = running.randomElement(using: &random) {
            compact(compactor)
        }
    }

    /// The node's process dies: by a kill (what it wrote stays in the page cache, synced or not) or a power
    /// loss (what was not fsynced is lost, torn or kept in any order), maybe partway through writing its
    /// pending ready; or its data directory is lost altogether (`wipe`).
    private mutating func crash(_ index: Int, downtime: Duration? = nil, powerLoss: Bool? = nil, wipe: Bool = false) {
        let id = nodes[index].id
        let disk = nodes[index].disk
        if configuration.faults.contains(.partialWrites), let pending = nodes[index].pending, random.chance(0.5) {
            // Dies during the write: some of its file operations happened, the rest never will.
            disk.crash(afterOperations: Int(random.next() % 10))
            let ready = pending.ready
            let snapshot = ready.snapshot.flatMap { nodes[index].receivedSnapshots[$0.index] }?.stored
            _ = try? nodes[index].storage.persist(snapshot: snapshot, entries: ready.entries, hardState: ready.hardState)
            statistics.partialWrites += 1
        }
        network.crash(id)
        nodes[index].crash()
        if wipe {
            wiped.insert(id)
            nodes[index].disk = CrashingFileSystem()
            statistics.wipes += 1
            trace.record(network.elapsed, id, .wipe)
        } else if powerLoss ?? (configuration.faults.contains(.partialWrites) && random.chance(0.5)) {
            disk.powerLoss(using: &random)
            statistics.powerLosses += 1
            trace.record(network.elapsed, id, .crash)
        } else {
            disk.restartProcess()
            trace.record(network.elapsed, id, .crash)
        }
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
                if configuration.voters.count < 7 { options.append(.promote(node.id)) }
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

    /// The node snapshots its state machine at its applied index, as the shell does: only while no write
    /// is pending and once that index is durable in the log.
    private mutating func compact(_ index: Int) {
        guard nodes[index].pending == nil, !nodes[index].isPaused(at: network.now), let core = nodes[index].core else { return }
        let applied = core.appliedIndex
        guard applied >= core.log.latestSnapshot.index + configuration.snapshotThreshold, core.compactableIndex == applied else { return }
        let trailing = configuration.trailingLogs
        nodes[index].core?.compact(through: applied, keepingTrailing: trailing)
        guard let metadata = nodes[index].core?.log.latestSnapshot else { return }
        precondition(nodes[index].stateMachine.appliedIndex == applied, "the state machine is at the applied index")
        let snapshot = SimulatedSnapshot(metadata: metadata, state: nodes[index].stateMachine).stored
        do {
            try nodes[index].storage.saveSnapshot(snapshot)
        } catch {
            checker.fail("\(nodes[index].id)'s storage failed to save a snapshot: \(error)")
            return
        }
        nodes[index].currentSnapshot = snapshot
        nodes[index].storedTerms = nodes[index].storedTerms.filter { $0.key > applied }
        statistics.compactions += 1
        trace.record(network.elapsed, nodes[index].id, .compact(applied))
    }

    /// Messages from `from` to `to` take one to three election timeouts for a while, then arrive late,
    /// behind what was sent after them.
    private mutating func delayLink(from: NodeID, to: NodeID) {
        let electionTimeout = configuration.tickInterval * configuration.settings.electionTicks
        var slowed = network.conditions(from: from, to: to)
        slowed.latency = electionTimeout + random.duration(below: electionTimeout * 2)
        network.setConditions(slowed, from: from, to: to)
        delayedLinks.append((from, to, network.now + electionTimeout + random.duration(below: electionTimeout)))
        trace.record(network.elapsed, from, .delay(to))
        statistics.delayedLinks += 1
    }
}
