import CohortTestKit
import CohortCore
import Gossip
import NIOCore

/// N SWIM cores on a simulated network with a manual clock. Every datagram goes through the real
/// PacketEncoder (compression, CRC) and PacketDecoder, so the cores talk memberlist's wire format.
struct SimulatedCluster {
    struct Datagram {
        var deliverAt: ContinuousClock.Instant
        var order: Int
        var from: NodeID
        var to: NodeID
        var bytes: ByteBuffer
    }

    let settings: SWIMSettings
    var nodes: [NodeID: SWIMInstance] = [:]
    var generators: [NodeID: SplitMix64] = [:]
    var now = SWIMHarness.start
    var inFlight: [Datagram] = []
    var sent = 0
    /// Crashed nodes: they neither run nor receive.
    var down: Set<NodeID> = []
    /// Nodes cut off from everyone (both directions), but still running.
    var partitioned: Set<NodeID> = []
    var events: [(at: ContinuousClock.Instant, observer: NodeID, event: MembershipEvent)] = []
    var udpUnreachable: [(observer: NodeID, target: NodeID)] = []
    /// How every probe ended, as the cores reported it.
    var probeResults: [(observer: NodeID, target: NodeID, result: ProbeResult)] = []
    let latency: Duration = .milliseconds(1)
    let encoder = PacketEncoder(compression: true)
    let decoder = PacketDecoder()

    static func name(_ index: Int) -> NodeID { NodeID("node-\(index)") }
    static func ip(_ index: Int) -> [UInt8] { [10, 0, 0, UInt8(index + 1)] }

    /// Starts `count` nodes; nodes 1… join node 0 with a push/pull, as memberlist's Join does.
    init(count: Int, settings: SWIMSettings = SWIMSettings(pushPullInterval: .seconds(30)), seed: UInt64 = 1) {
        self.settings = settings
        for index in 0..<count {
            var generator = SplitMix64(seed: seed &* 1000 &+ UInt64(index))
            let name = Self.name(index)
            nodes[name] = SWIMInstance(settings: settings, name: name, ip: Self.ip(index), port: 7946, now: now, using: &generator)
            generators[name] = generator
        }
        for index in 1..<count { pushPull(from: Self.name(index), to: Self.name(0), join: true) }
    }

    func index(of ip: [UInt8]) -> NodeID? {
        nodes.keys.first { nodes[$0]?.localMember.ip == ip }
    }

    func isReachable(_ from: NodeID, _ to: NodeID) -> Bool {
        !down.contains(to) && !down.contains(from) && !partitioned.contains(to) && !partitioned.contains(from)
    }

    /// Runs the cluster until `time`.
    mutating func run(until time: ContinuousClock.Instant) {
        while true {
            let live = nodes.keys.filter { !down.contains($0) }.sorted()
            let nextTick = live.map { ($0, nodes[$0]!.nextDeadline) }.min { $0.1 < $1.1 }
            let nextPacket = inFlight.indices.min { (inFlight[$0].deliverAt, inFlight[$0].order) < (inFlight[$1].deliverAt, inFlight[$1].order) }
            let packetTime = nextPacket.map { inFlight[$0].deliverAt }
            if let packetTime, packetTime <= time, packetTime <= (nextTick?.1 ?? packetTime) {
                now = max(now, packetTime)
                deliver(inFlight.remove(at: nextPacket!))
            } else if let (name, deadline) = nextTick, deadline <= time {
                now = max(now, deadline)
                var generator = generators[name]!
                let effects = nodes[name]!.tick(now: now, using: &generator)
                generators[name] = generator
                perform(effects, by: name)
            } else {
                break
            }
        }
        now = time
    }

    mutating func run(for duration: Duration) {
        run(until: now + duration)
    }

    private mutating func deliver(_ datagram: Datagram) {
        guard isReachable(datagram.from, datagram.to), var node = nodes[datagram.to],
              let decoded = try? decoder.decode(datagram.bytes) else { return }
        var generator = generators[datagram.to]!
        let source = nodes[datagram.from].map { MemberAddress(name: datagram.from, ip: $0.localMember.ip, port: 7946, protocolMax: 5) }
        var effects: [SWIMEffect] = []
        for message in decoded.messages {
            effects += node.receive(message, from: source, now: now, using: &generator)
        }
        nodes[datagram.to] = node
        generators[datagram.to] = generator
        perform(effects, by: datagram.to)
    }

    private mutating func perform(_ effects: [SWIMEffect], by actor: NodeID) {
        for effect in effects {
            switch effect {
            case .send(let messages, let address):
                guard let target = index(of: address.ip), let packet = try? encoder.seal(messages, peerProtocolMax: address.protocolMax) else {
                    continue
                }
                sent += 1
                inFlight.append(Datagram(deliverAt: now + latency, order: sent, from: actor, to: target, bytes: packet))
            case .tcpPing(let ping, let address, _):
                guard let target = index(of: address.ip) else { continue }
                let more = nodes[actor]!.tcpPingCompleted(
                    sequenceNumber: ping.sequenceNumber, reachable: isReachable(actor, target), now: now
                )
                perform(more, by: actor)
            case .pushPull(let address):
                if let target = index(of: address.ip) { pushPull(from: actor, to: target, join: false) }
            case .event(let event):
                events.append((now, actor, event))
            case .udpUnreachable(let target):
                udpUnreachable.append((actor, target))
            case .probeCompleted(let target, let result):
                probeResults.append((actor, target, result))
            }
        }
    }

    /// A TCP push/pull between two nodes: each merges the other's state.
    mutating func pushPull(from initiator: NodeID, to responder: NodeID, join: Bool) {
        guard isReachable(initiator, responder) else { return }
        let offer = nodes[initiator]!.localState(join: join)
        let answer = nodes[responder]!.localState(join: join)
        for (name, state) in [(responder, offer), (initiator, answer)] {
            var generator = generators[name]!
            let effects = (try? nodes[name]!.mergeRemoteState(state, now: now, using: &generator)) ?? []
            generators[name] = generator
            perform(effects, by: name)
        }
    }

    /// How `observer` sees `subject`.
    func state(of subject: NodeID, seenBy observer: NodeID) -> MemberStateKind? {
        nodes[observer]?.members[subject]?.state
    }

    /// When `observer` first recorded `subject` as departed, and why.
    func departure(of subject: NodeID, seenBy observer: NodeID) -> (at: ContinuousClock.Instant, reason: DepartureReason)? {
        for entry in events where entry.observer == observer {
            if case .left(let member, let reason) = entry.event, member.name == subject { return (entry.at, reason) }
        }
        return nil
    }
}
