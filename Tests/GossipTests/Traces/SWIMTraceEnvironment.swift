import CohortCore
import CohortTestKit
import Gossip
@testable import GossipCore

/// SWIM cores in memory on a manual clock, driven by the commands of a trace file (see `testdata/*.txt`).
///
/// Time moves only with `advance`: every node's timer fires at its `nextDeadline` (nodes due at the same
/// instant in name order), and whatever it sends arrives at once, in the order sent, through the real
/// packet encoder and decoder — unless a `drop` rule or a stopped receiver loses it. A TCP fallback ping
/// is answered at once when both directions of the link work and the target runs, and otherwise fails
/// at its deadline (after the timers due at that instant). Push/pull is off, so only probes and gossip
/// travel. Times print relative to the end of the `cluster` warm-up.
///
/// Commands:
/// - `cluster a,b,c,d [seed=1] [probe-interval=1s] [probe-timeout=500ms] [indirect=3] [suspicion-mult=4]
///   [suspicion-max=6]` — nodes that know each other (alive, incarnation 1), run until their gossip has
///   settled; LAN settings otherwise. Node *i* draws from `SplitMix64(seed:stream: i)`.
/// - `advance 500ms [quiet]` — run the clock; prints every datagram and every change in a node's view
///   (member states, suspicions, awareness); `quiet` prints only the changes.
/// - `stop c` — c crashes: it neither ticks nor receives. `drop a→c`, `drop c→*`, `drop *→e` — lose
///   datagrams and TCP pings on those links; `heal` — lose nothing any more (stopped nodes stay stopped).
/// - `members a` — a's view: awareness, and every member's state, incarnation and suspicion.
struct SWIMTraceEnvironment: TraceEnvironment {
    /// The nodes, by name.
    var nodes: [NodeID: SWIMTraceNode] = [:]
    /// Every node's name, sorted.
    var names: [NodeID] = []
    /// Names by IP address, to route datagrams.
    var nameByIP: [[UInt8]: NodeID] = [:]
    /// Rules that lose traffic.
    var dropRules: Set<SWIMTraceDropRule> = []
    /// The manual clock.
    var now = ContinuousClock.now
    /// Time zero of the output.
    var origin = ContinuousClock.now
    /// Datagrams sent and not yet handed to their receiver (they arrive at the instant they are sent).
    var inFlight: [SWIMTraceDatagram] = []
    /// TCP fallback pings nothing answers, reported as failed at their deadline.
    var unansweredTCPPings: [SWIMTraceTCPPing] = []
    /// False while `advance … quiet` runs: datagrams and TCP pings are not printed.
    var printsTraffic = true
    /// Seals every datagram, compressed as the shell sends it.
    let encoder = PacketEncoder(compression: true)
    /// Opens every datagram before it is handed over.
    let decoder = PacketDecoder()

    mutating func run(_ command: TraceCommand) throws(TraceError) -> [String] {
        if command.name != "cluster", nodes.isEmpty {
            throw TraceError("`\(command)`: start the file with a `cluster` command")
        }
        switch command.name {
        case "cluster": return try cluster(command)
        case "advance":
            let duration = try SWIMTraceFormat.duration(command.word(0, "a duration such as 500ms or 2s"))
            return try advance(by: duration, quiet: command.words.dropFirst().contains("quiet"))
        case "stop":
            let name = try node(command.word(0, "a node name"))
            nodes[name]!.isStopped = true
            return []
        case "drop": return try drop(command)
        case "heal":
            dropRules = []
            return []
        case "members":
            let name = try node(command.word(0, "a node name"))
            return SWIMTraceFormat.members(of: nodes[name]!.instance, origin: origin)
        default:
            throw TraceError("unknown command `\(command.name)` (see SWIMTraceEnvironment for the list)")
        }
    }

    private mutating func cluster(_ command: TraceCommand) throws(TraceError) -> [String] {
        var settings = SWIMSettings(pushPullInterval: .zero)
        if let text = command.options["probe-interval"] { settings.probeInterval = try SWIMTraceFormat.duration(text) }
        if let text = command.options["probe-timeout"] { settings.probeTimeout = try SWIMTraceFormat.duration(text) }
        settings.indirectChecks = try command.number("indirect", default: settings.indirectChecks)
        settings.suspicionMultiplier = try command.number("suspicion-mult", default: settings.suspicionMultiplier)
        settings.suspicionMaxTimeoutMultiplier = try command.number(
            "suspicion-max", default: settings.suspicionMaxTimeoutMultiplier
        )
        let seed = UInt64(try command.number("seed", default: 1))
        names = try command.word(0, "the node names, e.g. a,b,c").split(separator: ",").map { NodeID(String($0)) }.sorted()
        nodes = [:]
        nameByIP = [:]
        dropRules = []
        inFlight = []
        unansweredTCPPings = []
        let start = ContinuousClock.now
        now = start
        origin = start
        for (index, name) in names.enumerated() {
            let node = SWIMTraceNode(name: name, index: index, seed: seed, settings: settings, now: now)
            nodes[name] = node
            nameByIP[node.address.ip] = name
        }
        // Everyone hears of everyone, as after a join; then gossip runs until every queue is empty.
        for name in names {
            for other in names where other != name {
                let announcement = nodes[other]!.aliveAnnouncement
                _ = step(name) { instance, generator, now in
                    instance.receive(.alive(announcement), from: nil, now: now, using: &generator)
                }
            }
        }
        var settled = false
        for _ in 0..<600 where !settled {
            _ = try advance(by: .milliseconds(100), quiet: true)
            settled = names.allSatisfy { nodes[$0]!.instance.pendingBroadcasts == 0 && nodes[$0]!.instance.probe == nil }
        }
        guard settled else { throw TraceError("`\(command)`: gossip did not settle within 60 s") }
        origin = now
        return names.map { name in
            let instance = nodes[name]!.instance
            let known = instance.members.keys.sorted().map(\.rawValue).joined(separator: ",")
            return "\(name): knows \(known); next probe at \(SWIMTraceFormat.time(instance.nextProbe, since: origin))"
        }
    }

    private mutating func drop(_ command: TraceCommand) throws(TraceError) -> [String] {
        let text = try command.word(0, "a link such as a→c, c→* or *→e").replacing("->", with: "→")
        let ends = text.split(separator: "→", omittingEmptySubsequences: false).map(String.init)
        guard ends.count == 2 else { throw TraceError("`\(command)`: write the link as a→c, c→* or *→e") }
        let from = ends[0] == "*" ? nil : try node(ends[0]), to = ends[1] == "*" ? nil : try node(ends[1])
        dropRules.insert(SWIMTraceDropRule(from: from, to: to))
        return []
    }

    /// The node called `text`, or an error.
    private func node(_ text: String) throws(TraceError) -> NodeID {
        let name = NodeID(text)
        guard nodes[name] != nil else { throw TraceError("no node \(text)") }
        return name
    }
}

/// One simulated node: its core, its own random stream, and whether it crashed.
struct SWIMTraceNode: Sendable {
    /// The node's core.
    var instance: SWIMInstance
    /// The node's random stream (probe order shuffles, helper and gossip target choices).
    var generator: SplitMix64
    /// Where the node listens.
    let address: MemberAddress
    /// A stopped node neither ticks nor receives.
    var isStopped = false

    /// Node `name`, the `index`-th, at 10.0.0.(index+1):7946.
    init(name: NodeID, index: Int, seed: UInt64, settings: SWIMSettings, now: ContinuousClock.Instant) {
        address = MemberAddress(
            name: name, ip: [10, 0, 0, UInt8(index + 1)], port: 7946, protocolMax: ProtocolVersions.cohort.protocolMax
        )
        generator = SplitMix64(seed: seed, stream: UInt64(index))
        instance = SWIMInstance(settings: settings, name: name, ip: address.ip, port: address.port, now: now, using: &generator)
    }

    /// This node's first alive announcement, as a join would spread it.
    var aliveAnnouncement: AliveMessage {
        AliveMessage(
            incarnation: 1, node: instance.localName.rawValue, address: address.ip, port: address.port,
            meta: [], versions: ProtocolVersions.cohort.bytes
        )
    }
}

/// Traffic from `from` (any sender when nil) to `to` (any receiver when nil) is lost.
struct SWIMTraceDropRule: Hashable, Sendable {
    /// The sender the rule applies to, or nil for every sender.
    var from: NodeID?
    /// The receiver the rule applies to, or nil for every receiver.
    var to: NodeID?

    /// True when the rule loses traffic from `sender` to `receiver`.
    func matches(from sender: NodeID, to receiver: NodeID) -> Bool {
        (from == nil || from == sender) && (to == nil || to == receiver)
    }
}

/// A datagram on its way, already through the encoder and decoder.
struct SWIMTraceDatagram: Sendable {
    /// The sender.
    var from: NodeID
    /// The receiver.
    var to: NodeID
    /// The messages the receiver decoded.
    var messages: [GossipMessage]
}

/// A TCP fallback ping that nothing answers.
struct SWIMTraceTCPPing: Sendable {
    /// The node that probes.
    var prober: NodeID
    /// The node probed.
    var target: NodeID
    /// The probe's sequence number.
    var sequenceNumber: UInt32
    /// When the prober's shell gives up on it.
    var deadline: ContinuousClock.Instant
}
