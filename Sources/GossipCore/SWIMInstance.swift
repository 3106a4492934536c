import CohortCore

/// The SWIM + Lifeguard failure detector and membership, as memberlist 0.2.2 runs it, as a value type.
///
/// It does no I/O and reads no clock: every handler takes `now` (and a random generator where memberlist
/// picks at random) and returns ``SWIMEffect``s for the shell to carry out. The shell calls ``tick(now:using:)``
/// at ``nextDeadline`` and feeds it received messages, TCP ping results and push/pull replies.
///
/// What it implements: round-robin probing of a shuffled member list, one probe per `probeInterval ×
/// (awareness+1)`; indirect probes with nacks and a TCP fallback ping; the buddy system (a suspect hears the
/// accusation with the ping); Lifeguard awareness; suspicion timers that shrink with independent
/// confirmations; refutation by incarnation; gossip with retransmit limits; push/pull merging; leave.
public struct SWIMInstance: Sendable {
    /// The tuning in force.
    public let settings: SWIMSettings
    /// This node's name.
    public let localName: NodeID
    /// Every member known, including this node and dead members not yet forgotten.
    public internal(set) var members: [NodeID: Member]
    /// Lifeguard's local health score.
    public internal(set) var awareness: Awareness
    /// True once ``leave(now:)`` was called.
    public internal(set) var hasLeft = false
    /// Whether an announcement's metadata shows a later boot of the node known by that name (Cohort's node
    /// metadata carries its boot ID; the shell judges). Such an announcement from another address is that
    /// node restarted there (a container or pod with a new IP) and is believed at once, where memberlist's
    /// rule — a name at a new address only once the old one left, or died `deadNodeReclaimTime` ago —
    /// kept it out for 30 s or more whenever it came back before its departure was known everywhere.
    /// Peers whose metadata says nothing of boots (Go memberlist) keep memberlist's rule.
    public var isLaterBoot: (@Sendable (_ known: [UInt8], _ announced: [UInt8]) -> Bool)?

    /// Every member's name, this node's included, in the shuffled order probes walk; ``randomMembers(_:using:where:)``
    /// samples it too, so whatever adds a member to ``members`` or forgets one keeps this list in step.
    var probeOrder: [NodeID] = []
    var probeIndex = 0
    var sequenceNumber: UInt32 = 0
    var suspicions: [NodeID: Suspicion] = [:]
    var probe: ProbeRound?
    var relays: [UInt32: Relay] = [:]
    var broadcasts = BroadcastQueue()
    var nextProbe: ContinuousClock.Instant
    var nextGossip: ContinuousClock.Instant
    var nextPushPull: ContinuousClock.Instant

    /// A probe in flight.
    struct ProbeRound: Hashable, Sendable {
        var target: NodeID
        var targetIncarnation: UInt32
        var ping: PingMessage
        var timeoutAt: ContinuousClock.Instant
        var roundEnd: ContinuousClock.Instant
        var indirectSent = false
        var expectedNacks = 0
        var nacks = 0
        var tcp = TCPFallback.none
    }

    /// The TCP fallback ping of a probe.
    enum TCPFallback: Hashable, Sendable {
        case none, pending, reachable, unreachable
    }

    /// An indirect ping we run for someone else.
    struct Relay: Hashable, Sendable {
        var originalSequence: UInt32
        var requester: MemberAddress
        var wantsNack: Bool
        var expires: ContinuousClock.Instant
    }

    /// Starts a node that knows only itself, alive at incarnation 1. Timers start at random offsets within
    /// their interval, as memberlist staggers them.
    public init(
        settings: SWIMSettings = .lan,
        name: NodeID, ip: [UInt8], port: UInt16, meta: [UInt8] = [],
        now: ContinuousClock.Instant, using generator: inout some RandomNumberGenerator
    ) {
        self.settings = settings
        self.localName = name
        let local = Member(name: name, ip: ip, port: port, meta: meta, incarnation: 1, state: .alive, stateChange: now)
        members = [name: local]
        probeOrder = [name]
        awareness = Awareness(maxMultiplier: settings.awarenessMaxMultiplier)
        nextProbe = now + Self.stagger(settings.probeInterval, &generator)
        nextGossip = now + Self.stagger(settings.gossipInterval, &generator)
        nextPushPull = now + Self.stagger(settings.pushPullInterval, &generator)
        broadcasts.enqueue(.alive(local.aliveMessage))
    }

    /// This node as the others see it (it is never forgotten, so the fallback is unreachable).
    public var localMember: Member {
        members[localName] ?? Member(name: localName, ip: [], port: 0, incarnation: 0, state: .left, stateChange: nextProbe)
    }

    /// When ``tick(now:using:)`` next has work to do.
    ///
    /// A gossip round with an empty broadcast queue sends nothing, so the gossip interval counts only while
    /// something is queued: an idle node wakes for its probes, not five times a second. Whatever queues a
    /// broadcast (a received message, ``broadcast(user:)``, ``updateLocalMeta(_:)``, a merge) can make this
    /// earlier, and an ack that ends the probe round makes it later: the shell re-reads it after every step
    /// (the gossip service moves its timer either way).
    public var nextDeadline: ContinuousClock.Instant {
        // Read after every step the shell takes: one pass over the timers, no arrays.
        var earliest: ContinuousClock.Instant
        if let probe {
            if !probe.indirectSent {
                earliest = probe.timeoutAt
            } else {
                earliest = probe.tcp == .pending ? probe.roundEnd + settings.probeTimeout : probe.roundEnd
            }
        } else {
            earliest = nextProbe
        }
        if broadcasts.count > 0 { earliest = min(earliest, nextGossip) }
        if settings.pushPullInterval > .zero { earliest = min(earliest, nextPushPull) }
        for suspicion in suspicions.values { earliest = min(earliest, suspicion.deadline) }
        for relay in relays.values { earliest = min(earliest, relay.expires) }
        return earliest
    }

    /// Runs every timer that is due: suspicion timeouts, relayed-probe timeouts (nacks), the probe's
    /// phases, the next probe, gossip and push/pull.
    public mutating func tick(now: ContinuousClock.Instant, using generator: inout some RandomNumberGenerator) -> [SWIMEffect] {
        var effects: [SWIMEffect] = []
        expireSuspicions(now: now, into: &effects)
        expireRelays(now: now, into: &effects)
        advanceProbe(now: now, using: &generator, into: &effects)
        if probe == nil, now >= nextProbe {
            startProbe(now: now, using: &generator, into: &effects)
        }
        if now >= nextGossip {
            nextGossip = now + settings.gossipInterval
            gossip(now: now, using: &generator, into: &effects)
        }
        if settings.pushPullInterval > .zero, now >= nextPushPull {
            nextPushPull = now + SWIMTiming.pushPullInterval(settings.pushPullInterval, members: members.count)
            if let peer = randomMembers(1, using: &generator, where: { $0.state == .alive }).first {
                effects.append(.pushPull(to: peer.address))
            }
        }
        return effects
    }

    /// Queues a user message for gossip (memberlist's delegate broadcasts).
    public mutating func broadcast(user payload: [UInt8]) {
        broadcasts.enqueue(user: payload)
    }

    /// Announces new metadata for this node with a higher incarnation.
    public mutating func updateLocalMeta(_ meta: [UInt8]) {
        guard var local = members[localName] else { return }
        local.meta = meta
        local.incarnation &+= 1
        members[localName] = local
        broadcasts.enqueue(.alive(local.aliveMessage))
    }

    // MARK: Helpers shared by the extensions

    mutating func nextSequenceNumber() -> UInt32 {
        sequenceNumber &+= 1
        return sequenceNumber
    }

    /// Up to `count` distinct members other than this node, chosen at random among those `eligible`
    /// (memberlist's `kRandomNodes`).
    ///
    /// Draws positions in ``probeOrder``, which lists every member, until `count` eligible members are found,
    /// as memberlist draws offsets into its node list; when eligible members are scarce and the draws keep
    /// missing, it chooses the rest among the remaining eligible members in one pass. Every eligible member
    /// is equally likely, the result depends only on the table and the generator (simulations replay by
    /// seed), and a call costs O(`count`) in a table of mostly eligible members, not a sort of the table.
    func randomMembers(
        _ count: Int, using generator: inout some RandomNumberGenerator, where eligible: (Member) -> Bool
    ) -> [Member] {
        // probeOrder lists every member; should a change to the table have missed it, the table decides.
        let names = probeOrder.count == members.count ? probeOrder : members.keys.sorted()
        guard count > 0, names.count > 1 else { return [] }
        var chosen: [Member] = []
        chosen.reserveCapacity(count)
        func isCandidate(_ name: NodeID) -> Member? {
            guard name != localName, !chosen.contains(where: { $0.name == name }),
                  let member = members[name], eligible(member)
            else { return nil }
            return member
        }
        for _ in 0..<(4 * count + 4) where chosen.count < count {
            if let member = isCandidate(names[Int.random(in: 0..<names.count, using: &generator)]) {
                chosen.append(member)
            }
        }
        guard chosen.count < count else { return chosen }
        var rest = names.compactMap(isCandidate)
        while chosen.count < count, !rest.isEmpty {
            let pick = Int.random(in: 0..<rest.count, using: &generator)
            rest.swapAt(pick, rest.count - 1)
            chosen.append(rest.removeLast())
        }
        return chosen
    }

    /// Sends `message` to `address` with as many queued broadcasts as fit (memberlist's `sendMsg`).
    mutating func send(_ message: GossipMessage, to address: MemberAddress, into effects: inout [SWIMEffect]) {
        let budget = settings.gossipBudgetBytes - message.encodedLength
        let extra = broadcasts.take(budget: budget, overhead: CompoundMessage.partOverhead, transmitLimit: transmitLimit)
        effects.append(.send([message] + extra, to: address))
    }

    var transmitLimit: Int {
        SWIMTiming.retransmitLimit(multiplier: settings.retransmitMultiplier, members: members.count)
    }

    var localSource: (ip: [UInt8], port: UInt16) {
        let local = localMember
        return (local.ip, local.port)
    }

    private static func stagger(_ interval: Duration, _ generator: inout some RandomNumberGenerator) -> Duration {
        guard interval > .zero else { return .zero }
        let nanoseconds = interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: 0..<max(1, nanoseconds), using: &generator))
    }
}
