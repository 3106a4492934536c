import CohortCore
import CohortTestKit

/// The scale run: a mass start, a quiet wait, an idle window, one rumor, and 1 % of the nodes crashing at
/// once. Each phase has a simulated-time limit, so a run always ends.
struct ScaleScenario: Sendable {
    var configuration: ScaleConfiguration
    var convergenceLimit: Duration = .seconds(900)
    var quietLimit: Duration = .seconds(900)
    /// The idle window; nil: the scaled push/pull interval, at least 60 s (so push/pulls are in it).
    var idleWindow: Duration?
    var rumorLimit: Duration = .seconds(120)
    var detectionLimit: Duration = .seconds(600)
    /// Stop after the idle window (the test of the leader's rate needs nothing more).
    var stopsAfterIdle = false
    /// Asked at every check: true ends the run where it is, with what it measured so far (a wall-clock
    /// budget for the command).
    var shouldStop: @Sendable () -> Bool = { false }

    init(_ configuration: ScaleConfiguration) {
        self.configuration = configuration
    }

    /// Runs every phase; `progress` hears a line per phase.
    func run(progress: (String) -> Void = { _ in }) -> ScaleResult {
        var cluster = ScaleCluster(configuration)
        let model = ScaleModel(configuration: configuration, size: configuration.size)
        let size = configuration.size
        var result = ScaleResult(
            size: size, seed: configuration.seed, compression: configuration.compression,
            raftVoters: cluster.raftMembers.voters.map(\.rawValue), raftStandbys: cluster.raftMembers.standbys.map(\.rawValue),
            convergence: .init(startWindowSeconds: seconds(configuration.startWindow), datagrams: 0, streams: 0, gossipMessages: 0, gossipBytes: 0, datagramsUntilQuiet: 0),
            undecodable: 0, mergeRefusals: 0, falseDeaths: 0
        )
        defer { progress("done at \(cluster.elapsed) simulated") }

        // 1. Mass start: until every node sees all N alive. Nodes that got there are not scanned again.
        var pending = Array(0..<size)
        var nextReport = Duration.seconds(10)
        let convergedAt = cluster.run(upTo: convergenceLimit, checkingEvery: .milliseconds(250)) { cluster in
            pending.removeAll { cluster.nodes[$0].isRunning && cluster.nodes[$0].seesAllAlive(size) }
            if cluster.elapsed >= nextReport {
                nextReport += .seconds(10)
                progress("N=\(size): at \(cluster.elapsed) \(size - pending.count) nodes see all alive")
            }
            return pending.isEmpty || shouldStop()
        }.flatMap { pending.isEmpty ? $0 : nil }
        result.convergence.convergedNodes = size - pending.count
        result.simulatedSeconds = seconds(cluster.elapsed)
        let atConvergence = total(cluster.traffic)
        result.convergence.convergedAtSeconds = convergedAt.map(seconds)
        result.convergence.datagrams = atConvergence.datagrams
        result.convergence.streams = atConvergence.streams
        result.convergence.gossipMessages = atConvergence.gossipMessages
        result.convergence.gossipBytes = atConvergence.gossipBytes
        progress("N=\(size): converged at \(convergedAt.map { "\($0)" } ?? "never"), \(atConvergence.datagrams) datagrams")
        guard convergedAt != nil, !shouldStop() else { return finish(result, cluster) }

        // 2. Until the broadcast queues drained and Raft has a leader.
        let quietAt = runUntilQuiet(&cluster, limit: quietLimit)
        result.convergence.quietAtSeconds = quietAt.map(seconds)
        result.convergence.datagramsUntilQuiet = total(cluster.traffic).datagrams
        progress("N=\(size): quiet at \(quietAt.map { "\($0)" } ?? "never"), leader \(cluster.raftLeader.map { "node-\($0)" } ?? "none")")
        guard quietAt != nil, !shouldStop(), let leader = cluster.raftLeader else { return finish(result, cluster) }

        // 3. The idle window.
        let window = idleWindow ?? max(.seconds(60), model.pushPullInterval)
        let before = cluster.traffic
        cluster.run(for: window)
        let after = cluster.traffic
        let span = seconds(window)
        let sent = zip(after, before).map { $0 - $1 }
        let nodePackets = sent.map { Double($0.gossipPackets) / span }
        result.idle = .init(
            windowSeconds: span, leader: cluster.nodes[leader].name.rawValue,
            leaderGossipPacketsPerSecond: Double(sent[leader].gossipPackets) / span,
            leaderGossipBytesPerSecond: Double(sent[leader].gossipBytes) / span,
            leaderRaftMessagesPerSecond: Double(sent[leader].raftMessages) / span,
            leaderRaftBytesPerSecond: Double(sent[leader].raftBytes) / span,
            nodeGossipPacketsPerSecondMean: nodePackets.reduce(0, +) / Double(size),
            nodeGossipPacketsPerSecondMax: nodePackets.max() ?? 0,
            nodeGossipBytesPerSecondMean: Double(sent.reduce(0) { $0 + $1.gossipBytes }) / Double(size) / span,
            modelRaftLeaderMessagesPerSecond: model.raftLeaderMessagesPerSecond(
                voters: cluster.raftMembers.voters.count, standbys: cluster.raftMembers.standbys.count
            ),
            modelNodeGossipPacketsPerSecond: model.nodeGossipPacketsPerSecond
        )
        progress("N=\(size): idle leader raft \(result.idle!.leaderRaftMessagesPerSecond)/s gossip \(result.idle!.leaderGossipPacketsPerSecond)/s")
        if stopsAfterIdle || shouldStop() || cluster.raftLeader != leader { return finish(result, cluster) }

        // 4. One rumor from a random gossip-only node.
        var random = SplitMix64(seed: configuration.seed, stream: .max - 2)
        let clients = (0..<size).filter { cluster.raftMembers.role(of: cluster.nodes[$0].name) == nil && $0 >= configuration.seedCount }
        if let origin = clients.isEmpty ? nil : clients[Int(random.next() % UInt64(clients.count))] {
            cluster.startRumor(at: origin)
            let reachedAt = cluster.run(upTo: rumorLimit, checkingEvery: .milliseconds(50)) { $0.rumor!.reached >= size || shouldStop() }
                .flatMap { cluster.rumor!.reached >= size ? $0 : nil }
            let rumor = cluster.rumor!
            let hops = rumor.hops.compactMap { $0 }
            let toAll = reachedAt.map { $0 - rumor.startedAt }
            result.dissemination = .init(
                origin: rumor.subject.rawValue, reached: rumor.reached, running: size,
                secondsToAll: toAll.map(seconds), gossipRounds: toAll.map { seconds($0) / seconds(configuration.settings.gossipInterval) },
                maxHops: hops.max() ?? 0, meanHops: Double(hops.reduce(0, +)) / Double(max(1, hops.count)),
                modelRounds: model.disseminationRounds
            )
            cluster.rumor = nil
            progress("N=\(size): rumor reached all after \(toAll.map { "\($0)" } ?? "never"), max hops \(hops.max() ?? 0)")
            _ = runUntilQuiet(&cluster, limit: .seconds(120))
        }

        // 5. 1 % of the nodes (gossip-only clients) crash at once.
        let count = max(1, size / 100)
        var candidates = clients
        candidates.shuffle(using: &random)
        let crashed = Array(candidates.prefix(count))
        let crash = cluster.elapsed
        for index in crashed {
            cluster.victims[cluster.nodes[index].name] = ([], nil, .zero)
            cluster.kill(index)
        }
        let survivors = cluster.running.count
        _ = cluster.run(upTo: detectionLimit, checkingEvery: .milliseconds(100)) { cluster in
            return cluster.victims.values.allSatisfy { $0.declaredBy.count == survivors } || shouldStop()
        }
        let lasts = cluster.victims.values.filter { $0.declaredBy.count == survivors }.map { seconds($0.last - crash) }.sorted()
        let everywhere = lasts.count == crashed.count
        result.detection = .init(
            crashed: crashed.map { cluster.nodes[$0].name.rawValue }, survivors: survivors,
            firstSeconds: cluster.victims.values.compactMap(\.first).min().map { seconds($0 - crash) },
            medianSeconds: everywhere ? lasts[lasts.count / 2] : nil, lastSeconds: everywhere ? lasts.last : nil,
            modelSeconds: seconds(model.crashToDead), modelSuspicionMinimumSeconds: seconds(model.suspicionMinimum),
            modelSuspicionMaximumSeconds: seconds(model.suspicionMaximum)
        )
        progress("N=\(size): \(count) crashed, dead everywhere after \(lasts.last.map { "\($0) s" } ?? "never")")
        return finish(result, cluster)
    }

    /// Runs until a whole second passes in which nobody sends a broadcast and Raft has one leader.
    private func runUntilQuiet(_ cluster: inout ScaleCluster, limit: Duration) -> Duration? {
        var last = -1  // the first check only takes the count
        return cluster.run(upTo: limit, checkingEvery: .seconds(1)) { cluster in
            let now = total(cluster.traffic).broadcasts
            defer { last = now }
            return (now == last && cluster.raftLeader != nil) || shouldStop()
        }.flatMap { shouldStop() ? nil : $0 }
    }

    private func finish(_ result: ScaleResult, _ cluster: ScaleCluster) -> ScaleResult {
        var result = result
        result.simulatedSeconds = seconds(cluster.elapsed)
        result.stoppedEarly = shouldStop()
        result.undecodable = cluster.undecodable
        result.mergeRefusals = cluster.mergeRefusals
        result.falseDeaths = cluster.falseDeaths
        return result
    }
}

/// Everything `traffic` counts, summed over nodes.
func total(_ traffic: [NodeTraffic]) -> NodeTraffic {
    traffic.reduce(NodeTraffic(), +)
}
