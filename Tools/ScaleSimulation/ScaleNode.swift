import CohortCore
import CohortTestKit
import GossipCore
import RaftCore

/// One simulated node: its SWIM core (once started), its Raft core when it is a Raft member, its own
/// random stream, and the shell-side state the driver keeps for it.
struct ScaleNode {
    let index: Int
    let name: NodeID
    let address: MemberAddress
    /// Nil until the node starts.
    var instance: SWIMInstance?
    var generator: SplitMix64
    /// When the node starts, while it has not.
    var startAt: ContinuousClock.Instant?
    /// The next join attempt, while no seed has taken one.
    var nextJoin: ContinuousClock.Instant?
    /// The pause before the next join attempt.
    var joinBackoff: Duration = .milliseconds(500)
    /// TCP fallback pings waiting for their ack: sequence number → deadline.
    var pendingTCPPings: [UInt32: ContinuousClock.Instant] = [:]
    /// Crashed by the scenario: it neither runs nor receives.
    var killed = false
    /// The Raft core, for the voters and standbys only.
    var raft: RaftNode?
    /// The Raft shell's next tick.
    var nextRaftTick: ContinuousClock.Instant?
    /// What this node sent so far.
    var traffic = NodeTraffic()

    init(index: Int, seed: UInt64, startAt: ContinuousClock.Instant) {
        self.index = index
        self.name = NodeID("node-\(index)")
        // 10.x.y.z: room for 62,500 nodes.
        let ip: [UInt8] = [10, UInt8(index / 62_500), UInt8((index / 250) % 250), UInt8(index % 250 + 1)]
        self.address = MemberAddress(name: name, ip: ip, port: 7946, protocolMax: ProtocolVersions.cohort.protocolMax)
        self.generator = SplitMix64(seed: seed, stream: UInt64(index))
        self.startAt = startAt
    }

    /// Started and not killed.
    var isRunning: Bool { instance != nil && !killed }

    /// The earliest thing this node has to do.
    var deadline: ContinuousClock.Instant? {
        [startAt, nextJoin, instance?.nextDeadline, nextRaftTick].compactMap { $0 }.min()
    }

    /// Whether this node sees all `size` members alive, itself included. The mass start asks every pending
    /// node four times a simulated second: a table short of members answers without a scan, and a scan
    /// stops at the first member not alive (counting every table was a sixth of the CPU at N = 1,000).
    func seesAllAlive(_ size: Int) -> Bool {
        guard let members = instance?.members, members.count == size else { return false }
        return members.values.allSatisfy { $0.state == .alive }
    }
}

/// The SWIM core's entry points with the node's own random stream (one mutating access to the node).
extension ScaleNode {
    mutating func startGossip(settings: SWIMSettings, now: ContinuousClock.Instant) {
        startAt = nil
        instance = SWIMInstance(settings: settings, name: name, ip: address.ip, port: address.port, now: now, using: &generator)
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
}
