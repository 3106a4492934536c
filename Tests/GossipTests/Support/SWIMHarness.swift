import CohortTestKit
import CohortCore
import Gossip

/// Drives one SWIMInstance with a manual clock and a seeded generator, collecting its effects.
struct SWIMHarness {
    static let start = ContinuousClock.now
    var instance: SWIMInstance
    var generator: SplitMix64
    var now: ContinuousClock.Instant
    var effects: [SWIMEffect] = []

    init(
        name: String = "a", settings: SWIMSettings = .lan, seed: UInt64 = 1,
        ip: [UInt8] = [10, 0, 0, 1], port: UInt16 = 7946
    ) {
        var generator = SplitMix64(seed: seed)
        now = Self.start
        instance = SWIMInstance(settings: settings, name: NodeID(name), ip: ip, port: port, now: now, using: &generator)
        self.generator = generator
    }

    /// Adds a member through an alive message, as if it had been gossiped to us.
    mutating func add(_ name: String, ip: [UInt8], incarnation: UInt32 = 1, protocolMax: UInt8 = 5, meta: [UInt8] = []) {
        let versions = ProtocolVersions(protocolMin: 1, protocolMax: protocolMax, protocolCurrent: 2).bytes
        receive(.alive(AliveMessage(incarnation: incarnation, node: name, address: ip, port: 7946, meta: meta, versions: versions)))
    }

    mutating func receive(_ message: GossipMessage, from source: MemberAddress? = nil) {
        effects += instance.receive(message, from: source, now: now, using: &generator)
    }

    /// Runs every deadline up to and including `time`.
    mutating func advance(to time: ContinuousClock.Instant) {
        while instance.nextDeadline <= time {
            now = max(now, instance.nextDeadline)
            effects += instance.tick(now: now, using: &generator)
        }
        now = max(now, time)
    }

    mutating func advance(by duration: Duration) {
        advance(to: now + duration)
    }

    /// Removes and returns the collected effects.
    mutating func drain() -> [SWIMEffect] {
        defer { effects = [] }
        return effects
    }

    /// Steps deadline by deadline until a ping to `name` goes out (within `limit`) and returns it, with
    /// ``now`` at the moment it was sent. Pings to other members are acked at once, as healthy peers would.
    mutating func nextPing(to name: String, within limit: Duration = .seconds(30)) -> PingMessage? {
        let end = now + limit
        while true {
            for effect in drain() {
                guard case .send(let messages, let address) = effect, case .ping(let ping)? = messages.first else { continue }
                if address.name == NodeID(name) { return ping }
                effects += instance.receive(.ackResponse(AckResponseMessage(sequenceNumber: ping.sequenceNumber)), from: nil, now: now, using: &generator)
            }
            guard instance.nextDeadline <= end else { return nil }
            now = max(now, instance.nextDeadline)
            effects += instance.tick(now: now, using: &generator)
        }
    }

    func state(of name: String) -> MemberStateKind? {
        instance.members[NodeID(name)]?.state
    }
}

extension [SWIMEffect] {
    /// Every message sent, with its destination's name.
    var sentMessages: [(to: NodeID?, message: GossipMessage)] {
        flatMap { effect -> [(to: NodeID?, message: GossipMessage)] in
            guard case .send(let messages, let address) = effect else { return [] }
            return messages.map { (address.name, $0) }
        }
    }

    var events: [MembershipEvent] {
        compactMap { if case .event(let event) = $0 { event } else { nil } }
    }
}
