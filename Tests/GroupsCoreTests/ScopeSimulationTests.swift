import CohortCore
import CohortTestKit
import GroupsCore
import Testing

/// Many nodes' scope cores over a simulated network and gossip, with a seeded schedule: random joins,
/// leaves and exits everywhere, while messages are lost, duplicated and reordered, the network splits and
/// heals, and nodes restart. When the faults stop, every node's copy of every other node's memberships
/// must equal that node's own, and every node must see the same members in every group.
struct ScopeSimulation {
    struct InFlight {
        var at: UInt64
        var order: UInt64
        var from: String
        var to: String
        var boot: UInt64
        var message: GroupMessage
    }

    let names: [String]
    var cores: [String: ScopeCore] = [:]
    var boots: [String: UInt64] = [:]
    /// Each node's gossip view: the peers it considers up, with the boot it knows.
    var views: [String: [String: UInt64]] = [:]
    var alive: [String: [PID]] = [:]
    var nextSerial: [String: UInt64] = [:]
    var inFlight: [InFlight] = []
    var order: UInt64 = 0
    /// Gossip changes due later: (time, observer, peer, boot or nil for down).
    var gossip: [(UInt64, String, String, UInt64?)] = []
    var cut: Set<[String]> = []
    var rng: SplitMix64
    var now: UInt64 = 0
    var loss = 0.0
    var duplication = 0.0
    /// Whether messages between a pair keep their order (the mesh's relay class) or race (a lossy datagram network).
    var fifo: Bool
    let settings: ScopeSettings
    static let groups = ["a", "b", "c", "d", "e", "f"]

    init(nodes: Int, seed: UInt64, fifo: Bool, settings: ScopeSettings) {
        names = (1...nodes).map { "n\($0)" }
        rng = SplitMix64(seed: seed)
        self.fifo = fifo
        self.settings = settings
        for name in names { boot(name, 1) }
        for name in names { for peer in names where peer != name { see(name, peer, boot: 1) } }
    }

    mutating func boot(_ name: String, _ number: UInt64) {
        cores[name] = ScopeCore(node: NodeID(name), incarnation: Incarnation(number), settings: settings)
        boots[name] = number
        alive[name] = []
        nextSerial[name] = 1
        views[name] = [:]
    }

    mutating func see(_ observer: String, _ peer: String, boot: UInt64?) {
        if let boot {
            views[observer]![peer] = boot
            cores[observer]!.nodeUp(NodeID(peer), incarnation: Incarnation(boot), now: now)
        } else {
            views[observer]![peer] = nil
            cores[observer]!.nodeDown(NodeID(peer))
        }
        collect(observer)
    }

    mutating func collect(_ name: String) {
        let output = cores[name]!.takeOutput()
        var lastAt: [String: UInt64] = [:]
        for (to, message) in output.sends {
            let peer = to.rawValue
            if cut.contains([name, peer].sorted()) || rng.chance(loss) { continue }
            let copies = rng.chance(duplication) ? 2 : 1
            for _ in 0..<copies {
                var at = now + 1 + rng.next() % 30
                if fifo { at = max(at, lastAt[peer] ?? 0, inFlight.filter { $0.from == name && $0.to == peer }.map(\.at).max() ?? 0) }
                lastAt[peer] = at
                order += 1
                inFlight.append(InFlight(at: at, order: order, from: name, to: peer, boot: boots[name]!, message: message))
            }
        }
    }

    mutating func randomOperation() {
        let name = names[Int(rng.next() % UInt64(names.count))]
        let group = Self.groups[Int(rng.next() % UInt64(Self.groups.count))]
        switch rng.next() % 10 {
        case 0...4:
            var pids = alive[name]!
            if pids.isEmpty || rng.chance(0.4) {
                let serial = nextSerial[name]!
                nextSerial[name] = serial + 1
                let pid = PID(node: NodeID(name), incarnation: Incarnation(boots[name]!), serial: serial)
                alive[name]!.append(pid)
                pids = [pid]
            }
            let pid = pids[Int(rng.next() % UInt64(pids.count))]
            try! cores[name]!.join(group, rng.chance(0.2) ? [pid, pid] : [pid])
        case 5...7:
            let members = cores[name]!.localMembers(of: group)
            if let pid = members.randomElement(using: &rng) { cores[name]!.leave(group, [pid]) }
        default:
            if let index = alive[name]!.indices.randomElement(using: &rng) {
                cores[name]!.processExited(alive[name]!.remove(at: index))
            }
        }
        if rng.chance(0.5) { cores[name]!.flush() }
        collect(name)
    }

    mutating func randomFault() {
        switch rng.next() % 3 {
        case 0 where cut.isEmpty:
            // Split the nodes in two; gossip on each side declares the other side down a little later.
            let side = Set(names.filter { _ in rng.chance(0.5) })
            for a in side { for b in names where !side.contains(b) { cut.insert([a, b].sorted()) } }
            for pair in cut {
                gossip.append((now + 300, pair[0], pair[1], nil))
                gossip.append((now + 300, pair[1], pair[0], nil))
            }
        case 1 where !cut.isEmpty:
            heal()
        default:
            // A node restarts: it loses its processes; its peers learn the new boot (some see it go down first).
            let name = names[Int(rng.next() % UInt64(names.count))]
            let number = boots[name]! + 1
            boot(name, number)
            for peer in names where peer != name && !cut.contains([name, peer].sorted()) {
                if rng.chance(0.5) { gossip.append((now + 100, peer, name, nil)) }
                gossip.append((now + 200 + rng.next() % 200, peer, name, number))
                gossip.append((now + 50, name, peer, boots[peer]!))
            }
        }
    }

    mutating func heal() {
        let healed = cut
        cut = []
        for pair in healed {
            gossip.append((now + 300, pair[0], pair[1], boots[pair[1]]!))
            gossip.append((now + 300, pair[1], pair[0], boots[pair[0]]!))
        }
    }

    /// Runs `milliseconds` of simulated time in 10 ms steps; `chaos` adds operations and faults.
    mutating func run(_ milliseconds: UInt64, chaos: Bool) {
        let end = now + milliseconds
        while now < end {
            now += 10
            // Gossip changes that fell due (for a boot that is still current).
            let due = gossip.filter { $0.0 <= now }
            gossip.removeAll { $0.0 <= now }
            for (_, observer, peer, bootNumber) in due {
                if let bootNumber, bootNumber != boots[peer] { continue }
                if bootNumber != nil, cut.contains([observer, peer].sorted()) { continue }
                see(observer, peer, boot: bootNumber)
            }
            // Messages that arrived.
            let arrived = inFlight.filter { $0.at <= now }.sorted { ($0.at, $0.order) < ($1.at, $1.order) }
            inFlight.removeAll { $0.at <= now }
            for message in arrived {
                // A message of an earlier boot of the receiver, or across a cut, is lost.
                if cut.contains([message.from, message.to].sorted()) { continue }
                cores[message.to]!.receive(message.message, from: NodeID(message.from), incarnation: Incarnation(message.boot), now: now)
                collect(message.to)
            }
            if now % 100 == 0 {
                for name in names {
                    cores[name]!.tick(now: now, random: rng.next())
                    collect(name)
                }
            }
            if chaos {
                if rng.chance(0.3) { randomOperation() }
                if rng.chance(0.002) { randomFault() }
            }
        }
    }

    /// Stops the faults: heals, makes the network perfect, and brings every gossip view up to date.
    mutating func calm() {
        heal()
        loss = 0
        duplication = 0
        run(1_000, chaos: false)
        for name in names { for peer in names where peer != name && views[name]![peer] != boots[peer] { see(name, peer, boot: boots[peer]!) } }
    }

    var isConverged: Bool {
        for name in names {
            for peer in names where peer != name {
                let own = cores[peer]!.local
                let copy = cores[name]!.views[NodeID(peer)]
                if own.count == 0 { if let copy, copy.members.count != 0 { return false } } else if copy?.members != own { return false }
            }
        }
        let reference = Self.groups.map { cores[names[0]]!.members(of: $0) }
        return names.allSatisfy { name in Self.groups.map { cores[name]!.members(of: $0) } == reference }
    }
}

/// Serialized, one dedicated thread at a time: the suite runs on two cores beside CPU-heavy simulations of
/// other subsystems and daemon tests with deadlines.
@Suite(.serialized) struct ScopeSimulationTests {
    static let lossySettings = ScopeSettings(syncInterval: 200, antiEntropyInterval: 1_000, maxRetries: 2, beatInterval: nil, breakerOpenFor: 2_000)

    // The simulations run on dedicated threads: minutes of CPU on the cooperative pool would starve the
    // suite's other tests (daemon tests waiting on deadlines) running in parallel.
    @Test func lossyReorderingNetworkWithSplitsAndRestartsConverges() async {
        let failures = await onDedicatedThread { Self.lossyRun() }
        #expect(failures.isEmpty, "seeds that did not converge: \(failures)")
    }

    static func lossyRun() -> [UInt64] {
        var failures: [UInt64] = []
        for seed in UInt64(0)..<80 {
            var sim = ScopeSimulation(nodes: 5, seed: seed, fifo: false, settings: Self.lossySettings)
            sim.loss = 0.05
            sim.duplication = 0.02
            sim.run(20_000, chaos: true)
            sim.calm()
            // Anti-entropy picks one random peer a second: give it time to reach every pair.
            for _ in 0..<60 where !sim.isConverged { sim.run(1_000, chaos: false) }
            if !sim.isConverged { failures.append(seed) }
        }
        return failures
    }

    @Test func overAReliableFIFOChannelTheHandshakeAndUpdatesAloneConverge() async {
        let failures = await onDedicatedThread { Self.fifoRun() }
        #expect(failures.isEmpty, "seeds that did not converge: \(failures)")
    }

    static func fifoRun() -> [UInt64] {
        let settings = ScopeSettings(syncInterval: 200, antiEntropyInterval: nil, maxRetries: 2, beatInterval: nil, breakerOpenFor: 2_000)
        var failures: [UInt64] = []
        for seed in UInt64(0)..<40 {
            var sim = ScopeSimulation(nodes: 5, seed: seed, fifo: true, settings: settings)
            sim.run(10_000, chaos: true)
            sim.calm()
            sim.run(3_000, chaos: false)
            if !sim.isConverged { failures.append(seed) }
        }
        return failures
    }
}

