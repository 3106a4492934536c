import CohortCore
import CohortTestKit
import Gossip
import NIOCore

/// What travels between simulated SWIM nodes: memberlist's bytes, as the shell would put them on UDP or
/// TCP. Streams carry one request or reply each, encoded and decoded by the real stream codec.
enum SWIMTraffic: Sendable {
    /// A UDP datagram from `PacketEncoder.seal`.
    case datagram(ByteBuffer)
    /// A TCP fallback ping (`StreamMessage.ping`).
    case tcpPing(ByteBuffer)
    /// The answer to a TCP ping (`StreamMessage.ackResponse`).
    case tcpAck(ByteBuffer)
    /// The initiator's side of a push/pull (`StreamMessage.pushPull`).
    case pushPull(ByteBuffer)
    /// The responder's side of a push/pull.
    case pushPullReply(ByteBuffer)
}

/// When a node that is already running re-runs join (an emulation of the shell's rejoin loop).
enum RejoinRule: Hashable, Sendable {
    /// Never: only the join at start.
    case never
    /// When it sees no other live member: the shell's `rejoin_interval` rule.
    case whenAlone
    /// When any of its seeds is not alive in its view: heals partitions whose sides both have members.
    case whenSeedMissing
}

/// One simulated node: its SWIM core (once started), its own random stream, and the shell-side state the
/// driver keeps for it (join retries, TCP pings in flight).
struct SWIMClusterNode {
    let index: Int
    let name: NodeID
    let address: MemberAddress
    /// Nil until the node starts.
    var instance: SWIMInstance?
    var generator: SplitMix64
    /// When the node starts, while it has not.
    var startAt: ContinuousClock.Instant?
    /// The next join attempt or rejoin check.
    var nextJoin: ContinuousClock.Instant?
    /// True once a join reached a seed (or the node is the only seed).
    var joined = false
    /// The pause before the next join attempt while no seed could be reached.
    var joinBackoff: Duration = .milliseconds(500)
    /// TCP fallback pings waiting for their ack: sequence number → deadline.
    var pendingTCPPings: [UInt32: ContinuousClock.Instant] = [:]
    /// Timer firings in a row that left work due at the same instant.
    var immediateTicks = 0
    /// Crashed by the test: it neither runs nor receives, and is left out of views.
    var killed = false

    init(index: Int, seed: UInt64, startAt: ContinuousClock.Instant) {
        self.index = index
        self.name = Self.name(index)
        self.address = MemberAddress(name: name, ip: Self.ip(index), port: 7946, protocolMax: ProtocolVersions.cohort.protocolMax)
        self.generator = SplitMix64(seed: seed, stream: UInt64(index))
        self.startAt = startAt
    }

    static func name(_ index: Int) -> NodeID { NodeID("node-\(index)") }
    static func ip(_ index: Int) -> [UInt8] { [10, 0, UInt8(index / 250), UInt8(index % 250 + 1)] }

    /// Running: started and not killed.
    var isRunning: Bool { instance != nil && !killed }

    /// The earliest thing this node has to do.
    var deadline: ContinuousClock.Instant? {
        [startAt, nextJoin, instance?.nextDeadline].compactMap { $0 }.min()
    }

    mutating func start(settings: SWIMSettings, now: ContinuousClock.Instant, meta: [UInt8] = []) {
        startAt = nil
        instance = SWIMInstance(
            settings: settings, name: name, ip: address.ip, port: address.port, meta: meta, now: now, using: &generator
        )
    }

    mutating func tick(now: ContinuousClock.Instant) -> [SWIMEffect] {
        instance?.tick(now: now, using: &generator) ?? []
    }

    mutating func receive(_ message: GossipMessage, from source: MemberAddress, now: ContinuousClock.Instant) -> [SWIMEffect] {
        instance?.receive(message, from: source, now: now, using: &generator) ?? []
    }

    mutating func merge(_ remote: PushPullMessage, now: ContinuousClock.Instant) throws(SWIMMergeError) -> [SWIMEffect] {
        try instance?.mergeRemoteState(remote, now: now, using: &generator) ?? []
    }

    /// Names this node sees alive, itself included.
    var aliveView: Set<NodeID> {
        guard let instance else { return [] }
        return Set(instance.members.values.filter { $0.state == .alive }.map(\.name))
    }
}

/// A membership event as one node published it.
struct ObservedEvent: Hashable, Sendable {
    /// Simulated time since the cluster started.
    var at: Duration
    var observer: NodeID
    var event: MembershipEvent
}

/// A suspicion as it first went out on the wire: `accuser` suspects `accused` at `incarnation`.
struct Accusation: Hashable, Sendable {
    var accuser: NodeID
    var accused: NodeID
    var incarnation: UInt32
}

/// A change in how `observer` sees a watched `subject`.
struct ObservedState: Sendable {
    var at: Duration
    var observer: NodeID
    var subject: NodeID
    var state: MemberStateKind?
}
