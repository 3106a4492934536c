import Foundation
import CohortCore
import CohortTestKit
import PlaneCore
import Testing

/// Eight nodes run ``PlaneSync`` over a simulated network (loss, duplication, reordering, partitions,
/// crashes and restarts, departures), with random writes, deletes and TTLs in a plain plane and owned
/// entries in a names-like plane. After every event: each node's entry for each key is the winner of the
/// entries it has seen for that key (or nothing, when a rule removed it), and no node holds an owned
/// entry its membership view says is dead. After the faults and a quiet period: every alive node holds
/// the same entries and digests, and no entry of a departed owner.
@Suite struct PlaneSimulationTests {
    enum Message: Sendable {
        case delta([UInt8])
        case push([UInt8])
        case pushPull([UInt8])
        case pushPullReply([UInt8])
        case pull([UInt8])
        case pullReply([UInt8])
    }

    /// The node IDs: `n0`…`n7`.
    static func id(_ index: Int) -> NodeID { NodeID("n\(index)") }

    static let owner: PlaneOwner = { entry in entry.value.flatMap { PID(String(decoding: $0, as: UTF8.self)) } }

    struct Node {
        var sync: PlaneSync
        var incarnation: UInt64
        /// Per plane, per key: the entries seen (written, received), to check each key's winner.
        var seen: [String: [[UInt8]: Set<PlaneEntry>]] = [:]
        var serial: UInt64 = 0
        var clockSkew: Int64
    }

    struct Driver {
        var network: SimulatedNetwork<Int, Message>
        var nodes: [Int: Node] = [:]
        var random: SplitMix64
        /// Membership news still travelling: (due, to, about, up-incarnation or nil for down).
        var news: [(due: ContinuousClock.Instant, to: Int, about: Int, up: UInt64?)] = []
        var departed: Set<Int> = []
        let count: Int
        var failures: [String] = []

        var millis: UInt64 { UInt64(network.elapsed.components.seconds) * 1000 + UInt64(network.elapsed.components.attoseconds / 1_000_000_000_000_000) }

        func time(of index: Int) -> PlaneTime {
            let skew = nodes[index]?.clockSkew ?? 0
            return PlaneTime(physicalMillis: UInt64(Int64(1_700_000_000_000 + millis) + skew), localMillis: millis)
        }

        func alive(_ index: Int) -> Bool { !network.isDown(index) && !departed.contains(index) }

        mutating func boot(_ index: Int, incarnation: UInt64) {
            var sync = PlaneSync(selfID: PlaneSimulationTests.id(index), incarnation: Incarnation(incarnation))
            sync.addPlane("kv", graceMillis: 2000, horizonMillis: 10_000)
            sync.addPlane("names", graceMillis: 2000, owner: PlaneSimulationTests.owner, horizonMillis: 10_000)
            let skew = Int64.random(in: -80...80, using: &random)
            nodes[index] = Node(sync: sync, incarnation: incarnation, clockSkew: skew)
            network.restart(index)
            network.setTimer(for: index, at: network.now + .milliseconds(Int64.random(in: 1...100, using: &random)))
            // Everyone learns of it (after a while); it learns of everyone alive.
            for other in 0..<count where other != index && alive(other) {
                announce(to: other, about: index, up: incarnation)
                announce(to: index, about: other, up: nodes[other]!.incarnation)
            }
        }

        /// The owner rule, as the test states it.
        static func accepted(_ entry: PlaneEntry, plane: String, by sync: PlaneSync) -> Bool {
            guard plane == "names", let pid = PlaneSimulationTests.owner(entry) else { return true }
            if pid.node == sync.selfID { return pid.incarnation == sync.incarnation }
            return sync.members[pid.node].map { pid.incarnation >= $0 } ?? false
        }

        /// News between one pair arrives in order (gossip's incarnations order it).
        var lastNews: [Int: ContinuousClock.Instant] = [:]

        mutating func announce(to: Int, about: Int, up: UInt64?) {
            let delay = Duration.milliseconds(Int64.random(in: 10...1500, using: &random))
            let pair = to * 1000 + about
            let due = max(network.now + delay, (lastNews[pair] ?? network.now) + .milliseconds(1))
            lastNews[pair] = due
            news.append((due, to, about, up))
        }

        mutating func crash(_ index: Int, departs: Bool) {
            network.crash(index)
            if departs { departed.insert(index) }
            for other in 0..<count where other != index && alive(other) { announce(to: other, about: index, up: nil) }
        }

        // MARK: Steps

        mutating func record(_ index: Int, seen entries: [PlaneMessage.PlaneEntries]) {
            for section in entries {
                for entry in section.entries { nodes[index]!.seen[section.plane, default: [:]][entry.key, default: []].insert(entry) }
            }
        }

        mutating func receive(_ index: Int, entries bytes: [UInt8]) {
            switch try? PlaneMessage(decoding: bytes) {
            case .delta(_, let planes)?, .entries(let planes)?:
                // Only what the node's view accepts now counts as seen (a refused entry comes back by
                // anti-entropy once the view does).
                let sync = nodes[index]!.sync
                record(index, seen: planes.map { section in
                    .init(plane: section.plane, entries: section.entries.filter { Self.accepted($0, plane: section.plane, by: sync) })
                })
            default: break
            }
            let time = time(of: index)
            _ = nodes[index]!.sync.receiveEntries(bytes, at: time)
        }

        mutating func sendDeltas(_ index: Int) {
            let (messages, oversized) = nodes[index]!.sync.takeDeltas()
            let peers = (0..<count).filter { $0 != index && nodes[$0] != nil && !departed.contains($0) }
            for message in messages {
                for peer in peers.shuffled(using: &random).prefix(4) { _ = network.send(.delta(message), from: index, to: peer) }
            }
            for message in oversized {
                for peer in peers.shuffled(using: &random).prefix(2) { _ = network.sendReliably(.push(message), from: index, to: peer) }
            }
        }

        mutating func timer(_ index: Int) {
            let time = time(of: index)
            // A write now and then.
            if random.chance(0.3) {
                let key = Array("k\(Int.random(in: 0..<10, using: &random))".utf8)
                let roll = Int.random(in: 0..<10, using: &random)
                let value: [UInt8]? = roll < 3 ? nil : Array(repeating: UInt8(roll), count: roll == 9 ? 2000 : 8)
                let expiry: UInt64? = roll == 8 ? time.physicalMillis + UInt64.random(in: 0...3000, using: &random) : nil
                let (entry, _) = nodes[index]!.sync.write(plane: "kv", key: key, value: value, expiresAtMillis: expiry, at: time)
                record(index, seen: [.init(plane: "kv", entries: [entry])])
            }
            if random.chance(0.15) {
                let key = Array("name\(Int.random(in: 0..<6, using: &random))".utf8)
                nodes[index]!.serial += 1
                let pid = "\(PlaneSimulationTests.id(index).rawValue)@\(nodes[index]!.incarnation).\(nodes[index]!.serial)"
                let value: [UInt8]? = random.chance(0.3) ? nil : Array(pid.utf8)
                let (entry, change) = nodes[index]!.sync.write(plane: "names", key: key, value: value, at: time)
                if change != nil { record(index, seen: [.init(plane: "names", entries: [entry])]) }
            }
            sendDeltas(index)
            // A push/pull with a random alive peer now and then.
            if random.chance(0.2) {
                let peers = (0..<count).filter { $0 != index && nodes[$0] != nil && !departed.contains($0) }
                if let peer = peers.randomElement(using: &random) {
                    _ = network.sendReliably(.pushPull(nodes[index]!.sync.digestMessage()), from: index, to: peer)
                }
            }
            _ = nodes[index]!.sync.tick(at: time)
            network.setTimer(for: index, at: network.now + .milliseconds(Int64.random(in: 50...150, using: &random)))
        }

        mutating func deliver(_ delivery: NetworkDelivery<Int, Message>) {
            let index = delivery.to
            guard nodes[index] != nil, !departed.contains(index) else { return }
            let time = time(of: index)
            switch delivery.payload {
            case .delta(let bytes), .push(let bytes), .pullReply(let bytes):
                receive(index, entries: bytes)
            case .pushPull(let digest):
                let reply = nodes[index]!.sync.digestMessage()
                _ = network.sendReliably(.pushPullReply(reply), from: index, to: delivery.from)
                if let pull = nodes[index]!.sync.receiveDigest(digest, at: time)?.pull {
                    _ = network.sendReliably(.pull(pull), from: index, to: delivery.from)
                }
            case .pushPullReply(let digest):
                if let pull = nodes[index]!.sync.receiveDigest(digest, at: time)?.pull {
                    _ = network.sendReliably(.pull(pull), from: index, to: delivery.from)
                }
            case .pull(let request):
                if let reply = nodes[index]!.sync.answerPull(request) {
                    _ = network.sendReliably(.pullReply(reply), from: index, to: delivery.from)
                }
            }
        }

        mutating func applyNews(until limit: ContinuousClock.Instant) {
            news.sort { $0.due < $1.due }
            while let first = news.first, first.due <= limit {
                news.removeFirst()
                guard nodes[first.to] != nil, alive(first.to) else { continue }
                if let incarnation = first.up {
                    // News of a boot that has since crashed is stale: the down news follows.
                    _ = nodes[first.to]!.sync.memberUp(PlaneSimulationTests.id(first.about), incarnation: Incarnation(incarnation))
                } else {
                    let departed = PlaneSimulationTests.id(first.about)
                    _ = nodes[first.to]!.sync.memberDown(departed)
                    // What the departure removed must arrive again to count (a later boot's entries do,
                    // by anti-entropy, once the node is known alive again).
                    for (plane, keys) in nodes[first.to]!.seen {
                        for (key, entries) in keys {
                            nodes[first.to]!.seen[plane]![key] = entries.filter { PlaneSimulationTests.owner($0)?.node != departed }
                        }
                    }
                }
                check(first.to)
            }
        }

        /// Each key's entry is the winner of those seen whose owner this node holds alive (an expired
        /// value: a tombstone of its stamp), or none (collected, removed); no owned entry of a node this
        /// one holds dead.
        mutating func check(_ index: Int) {
            guard let node = nodes[index] else { return }
            func accepted(_ entry: PlaneEntry, plane: String) -> Bool { Self.accepted(entry, plane: plane, by: node.sync) }
            for (planeID, plane) in node.sync.planes {
                for (_, entry) in plane.state.entries {
                    let candidates = (node.seen[planeID]?[entry.key] ?? []).filter { accepted($0, plane: planeID) }
                    guard var best = candidates.first else {
                        failures.append("n\(index) holds \(entry) of \(planeID) it never saw (or of a dead owner)")
                        continue
                    }
                    for candidate in candidates where candidate.supersedes(best) { best = candidate }
                    // An expired value is a tombstone of its stamp once swept (or merged after it expired).
                    let expired = PlaneEntry(tombstone: best.key, stamp: best.stamp)
                    if !best.isTombstone, best.expiresAtMillis != nil, entry == expired { best = expired }
                    if entry != best { failures.append("n\(index) holds \(entry) of \(planeID), not the winner \(best) at t=\(millis)") }
                }
            }
        }
    }

    static func run(seed: UInt64) -> [String] {
        let count = 8
        var driver = Driver(
            network: SimulatedNetwork(seed: seed, conditions: LinkConditions(
                latency: .milliseconds(5), jitter: .milliseconds(20), dropRate: 0.2, duplicateRate: 0.1, reorderRate: 0.2,
                reorderDelay: .milliseconds(50)
            )),
            random: SplitMix64(seed: seed, stream: 99), count: count
        )
        for index in 0..<count { driver.network.crash(index) }
        for index in 0..<count { driver.boot(index, incarnation: 1) }
        // Faults for 20 s.
        let faultsEnd = driver.network.now + .seconds(20)
        var nextFault = driver.network.now + .seconds(2)
        while driver.network.now < faultsEnd {
            let limit = min(nextFault, driver.news.map(\.due).min() ?? nextFault)
            driver.applyNews(until: driver.network.now)
            if let event = driver.network.next(until: limit) {
                switch event {
                case .delivery(let delivery):
                    driver.deliver(delivery)
                    driver.check(delivery.to)
                case .timer(let index):
                    driver.timer(index)
                    driver.check(index)
                case .restarted(let index):
                    if !driver.departed.contains(index), driver.network.isDown(index) == false, let node = driver.nodes[index] {
                        driver.boot(index, incarnation: node.incarnation + 1)
                    }
                }
            } else if driver.network.now >= nextFault {
                nextFault = driver.network.now + .milliseconds(Int64.random(in: 1000...3000, using: &driver.random))
                fault(&driver)
            } else {
                driver.applyNews(until: driver.network.now)
            }
            if driver.failures.count > 5 { return driver.failures }
        }
        // Heal: restart every crashed node that has not departed; then quiet (anti-entropy only, no writes).
        driver.network.heal()
        for index in 0..<count where driver.network.isDown(index) && !driver.departed.contains(index) {
            driver.boot(index, incarnation: driver.nodes[index]!.incarnation + 1)
        }
        let quietEnd = driver.network.now + .seconds(40)
        var quiet = false
        while driver.network.now < quietEnd {
            let limit = min(quietEnd, driver.news.map(\.due).min() ?? quietEnd)
            driver.applyNews(until: driver.network.now)
            guard let event = driver.network.next(until: limit) else {
                driver.applyNews(until: driver.network.now)
                continue
            }
            if !quiet, driver.network.now > faultsEnd + .seconds(2) { quiet = true }
            switch event {
            case .delivery(let delivery):
                driver.deliver(delivery)
                driver.check(delivery.to)
            case .timer(let index):
                if quiet {
                    // Anti-entropy and timers only.
                    if driver.random.chance(0.3), let peer = (0..<count).filter({ $0 != index && driver.alive($0) }).randomElement(using: &driver.random) {
                        _ = driver.network.sendReliably(.pushPull(driver.nodes[index]!.sync.digestMessage()), from: index, to: peer)
                    }
                    _ = driver.nodes[index]!.sync.tick(at: driver.time(of: index))
                    driver.network.setTimer(for: index, at: driver.network.now + .milliseconds(100))
                } else {
                    driver.timer(index)
                }
                driver.check(index)
            case .restarted:
                break
            }
        }
        // Converged: identical entries and digests on every alive node, no departed owner anywhere.
        let alive = (0..<count).filter { driver.alive($0) }
        guard let first = alive.first else { return driver.failures }
        for index in alive {
            for plane in ["kv", "names"] {
                let mine = driver.nodes[index]!.sync.planes[plane]!.state, theirs = driver.nodes[first]!.sync.planes[plane]!.state
                if contents(mine) != contents(theirs) || mine.digest != theirs.digest {
                    let extra = Set(contents(mine)).symmetricDifference(contents(theirs)).map { "\($0)" }.sorted()
                    driver.failures.append("after quiet: n\(index) and n\(first) differ in \(plane): \(extra.prefix(4)) members \(driver.nodes[index]!.sync.members.count)/\(driver.nodes[first]!.sync.members.count)")
                }
            }
            for (_, entry) in driver.nodes[index]!.sync.planes["names"]!.state.entries {
                if let pid = owner(entry), let owning = Int(pid.node.rawValue.dropFirst()),
                   !driver.alive(owning) || driver.nodes[owning]!.incarnation != pid.incarnation.rawValue {
                    driver.failures.append("after quiet: n\(index) holds \(entry) of a departed owner")
                }
            }
        }
        return driver.failures
    }

    static func fault(_ driver: inout Driver) {
        let count = driver.count
        switch Int.random(in: 0..<5, using: &driver.random) {
        case 0:
            var sides = [Set<Int>(), Set<Int>()]
            for index in 0..<count { sides[Int.random(in: 0...1, using: &driver.random)].insert(index) }
            driver.network.partition(sides)
        case 1:
            driver.network.heal()
        case 2:
            // A crash; restarted (a new boot, empty) a little later.
            let candidates = (0..<count).filter { driver.alive($0) }
            guard candidates.count > 3, let victim = candidates.randomElement(using: &driver.random) else { return }
            driver.crash(victim, departs: false)
            driver.network.restart(victim, at: driver.network.now + .milliseconds(Int64.random(in: 500...3000, using: &driver.random)))
        case 3:
            // A departure, for good.
            let candidates = (0..<count).filter { driver.alive($0) }
            guard candidates.count > 5, let victim = candidates.randomElement(using: &driver.random) else { return }
            driver.crash(victim, departs: true)
        default:
            // Crashed nodes come back.
            for index in 0..<count where driver.network.isDown(index) && !driver.departed.contains(index) {
                driver.boot(index, incarnation: driver.nodes[index]!.incarnation + 1)
            }
        }
    }

    /// Three seeds run one after another on one dedicated thread (about 11 s of one core in a debug build;
    /// `PLANE_SIMULATION_SEEDS=100` runs more): a long synchronous run on the two
    /// cooperative threads would stall every test waiting on a socket or a process, and ten runs on ten
    /// threads at once would starve the daemons other tests start (see `onDedicatedThread`).
    @Test func replicasConvergeUnderFaults() async {
        let failures = await onDedicatedThread {
            let seeds = UInt64(ProcessInfo.processInfo.environment["PLANE_SIMULATION_SEEDS"] ?? "") ?? 3
            return (0..<seeds).flatMap { seed in Self.run(seed: seed).prefix(5).map { "seed \(seed): \($0)" } }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10).joined(separator: "; "))")
    }
}
