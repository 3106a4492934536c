import CohortCore
import Logging
import NIOCore
import NIOSupport

/// Feeding the core (datagrams, timer ticks, finished TCP pings) and carrying out its effects.
extension GossipService {
    /// Waits until the UDP socket closes: its datagrams are taken by ``DatagramReceiver`` as they are read,
    /// so nothing arrives on the async stream but its end.
    nonisolated func watchDatagramSocket(
        _ inbound: NIOAsyncChannelInboundStream<AddressedEnvelope<ByteBuffer>>
    ) async throws -> LoopOutcome {
        for try await _ in inbound {}
        if Task.isCancelled { return .stop }
        throw GossipServiceError.bindFailed(address: settings.bindHost, reason: "the UDP socket closed")
    }

    /// Decodes one datagram and hands its messages to the core. Called by ``DatagramReceiver`` on the
    /// socket's event loop, which is the actor's executor: the core is entered there and then
    /// (`assumeIsolated`; the actor is not running while the loop reads a socket).
    nonisolated func receiveDatagram(_ envelope: AddressedEnvelope<ByteBuffer>) {
        metrics?.countBytes(envelope.data.readableBytes, "udp", "in")
        let packet: DecodedPacket
        do {
            packet = try codec.packetDecoder.decode(envelope.data)
        } catch {
            metrics?.countDropped(error.reason)
            logger.debug("dropped datagram", metadata: ["peer": "\(envelope.remoteAddress)", "reason": "\(error)"])
            return
        }
        for part in packet.droppedParts { metrics?.countDropped(part.reason) }
        guard !packet.messages.isEmpty, let ip = GossipAddressing.packedIP(envelope.remoteAddress),
              let port = envelope.remoteAddress.port, let sourcePort = UInt16(exactly: port)
        else { return }
        assumeIsolated { $0.receive(packet.messages, fromIP: ip, port: sourcePort) }
    }

    /// Sleeps until the core's next deadline and ticks it, forever. The deadline is a ``LoopTimer`` on the
    /// service's loop: a step that moves it (earlier: a queued broadcast, a new suspicion or relayed probe;
    /// later: an ack that ends the probe round before its timeout) re-arms it, and the loop wakes only when
    /// the deadline it has comes.
    nonisolated func runTimer() async -> LoopOutcome {
        let timer = await LoopTimer.make(on: executor.eventLoop) { [timerBell] in timerBell.ring() }
        await attach(timer)
        while await timerDeadline() != nil {
            await timerBell.wait()
            if Task.isCancelled { break }
            await tick()
        }
        await attach(nil)
        await timer.close()
        return .stop
    }

    /// The timer `rearmTimer()` and `timerDeadline()` arm (nil: none, the loop has ended).
    func attach(_ timer: LoopTimer?) {
        loopTimer = timer
    }

    /// Arms the timer for the core's next deadline (or the member gauges' count); nil before `run()` started
    /// the core.
    func timerDeadline() -> ContinuousClock.Instant? {
        armedDeadline = nextDeadline
        if let armedDeadline { loopTimer?.arm(at: armedDeadline) }
        return armedDeadline
    }

    /// The core's next deadline, or the member gauges' if they wait for a count (``gaugeLatency``) before
    /// it. While the node probes, a tick comes every probe interval anyway and counts them.
    private var nextDeadline: ContinuousClock.Instant? {
        guard let core = swim?.nextDeadline else { return nil }
        guard gaugesStale, let counted = gaugesCountedAt else { return core }
        return min(core, counted + Self.gaugeLatency)
    }

    /// Moves the timer when the step moved the core's next deadline, earlier or later.
    func rearmTimer() {
        guard let armed = armedDeadline, let next = nextDeadline, next != armed else { return }
        armedDeadline = next
        loopTimer?.arm(at: next)
    }

    /// Handles the messages of one datagram from `ip`:`port`.
    func receive(_ messages: [GossipMessage], fromIP ip: [UInt8], port: UInt16) {
        guard swim != nil else { return }
        gaugesStale = true
        let sender = member(atIP: ip, port: port)
        let source = MemberAddress(name: sender?.name, ip: ip, port: port, protocolMax: sender?.versions.protocolMax ?? 0)
        let now = ContinuousClock.now
        for message in messages {
            metrics?.countMessage(GossipMetrics.kind(message), "in")
            if case .alive(let announcement) = message, !belongsToOurCluster(announcement) {
                metrics?.countDropped("cluster_mismatch")
                continue
            }
            if case .user(let bytes) = message {
                if !router.route(bytes, from: sender?.name) { metrics?.countDropped("empty") }
                continue
            }
            perform(swim!.receive(message, from: source, now: now, using: &generator))
        }
    }

    /// The member at a datagram's source address, preferring one that is not gone: found through
    /// ``senders`` and checked against the table, so a datagram costs a lookup, not a walk of the whole
    /// table (O(N) per datagram, O(N²) per node in a start storm). An address not seen before, or whose
    /// member moved or died, is looked up the long way and remembered.
    func member(atIP ip: [UInt8], port: UInt16) -> Member? {
        // Reads through `swim?` rather than binding it: a bound copy of the core retains all its storage.
        let address = SenderAddress(ip: ip, port: port)
        if let name = senders[address], let member = swim?.members[name], member.ip == ip, member.port == port, !member.isGone {
            return member
        }
        var found: Member?
        for member in swim?.members.values ?? [:].values where member.ip == ip && member.port == port {
            found = member
            if !member.isGone { break }
        }
        guard let found else { return nil }
        // Addresses of members long gone would otherwise pile up (pods come back on new addresses).
        if senders.count >= 2 * (swim?.members.count ?? 0) + 16 { senders.removeAll(keepingCapacity: true) }
        senders[address] = found.name
        return found
    }

    /// Runs the core's due timers.
    func tick() {
        guard swim != nil else { return }
        let now = ContinuousClock.now
        gaugesStale = true
        let effects = swim!.tick(now: now, using: &generator)
        if effects.isEmpty { idleTicks += 1 }
        perform(effects)
        refreshMemberGauges(now: now)
    }

    /// Reports a TCP fallback ping's result to the core.
    func tcpPingCompleted(sequenceNumber: UInt32, reachable: Bool) {
        guard swim != nil else { return }
        perform(swim!.tcpPingCompleted(sequenceNumber: sequenceNumber, reachable: reachable, now: .now))
    }

    /// Carries out the core's effects, publishes the step's membership changes together, and moves the timer
    /// if the step moved the core's deadline.
    func perform(_ effects: [SWIMEffect]) {
        // Published together after the step: one wake-up per subscriber, not one per change.
        var changes: [MembershipEvent] = []
        defer {
            publish(changes)
            rearmTimer()
            publishHealth()
            noteLeaveProgress()
        }
        for effect in effects {
            switch effect {
            case .send(let messages, let address):
                send(messages, to: address)
            case .tcpPing(let ping, let address, let deadline):
                submit(.tcpPing(ping, to: address, deadline: deadline))
            case .pushPull(let address):
                submit(.pushPull(to: address))
            case .event(let event):
                changes.append(event)
            case .udpUnreachable(let node):
                metrics?.countUDPUnreachable()
                logger.warning("member answers over TCP but not over UDP: UDP may be blocked", metadata: ["peer": "\(node)"])
            case .probeCompleted(_, let result):
                metrics?.countProbe(result.rawValue)
            }
        }
    }

    /// Seals `messages` into one datagram for `address` and writes it to the socket.
    func send(_ messages: [GossipMessage], to address: MemberAddress) {
        guard let udp, !messages.isEmpty else { return }
        let packet: ByteBuffer
        let remote: SocketAddress
        do {
            packet = try codec.packetEncoder.seal(messages, peerProtocolMax: address.protocolMax)
            remote = try GossipAddressing.socketAddress(ip: address.ip, port: address.port)
        } catch {
            metrics?.countDropped("encode_failed")
            logger.debug("datagram not sealed", metadata: ["peer": "\(address.name?.rawValue ?? "?")", "error": "\(error)"])
            return
        }
        // Written here, on the socket's loop: through a queue and a writer task, each datagram cost a
        // yield and a task resumption. A socket that has not drained what NIO holds for it (its send
        // buffer full) drops the datagram, as a full queue did (UDP is lossy anyway).
        guard udp.isWritable else {
            metrics?.countDropped("queue_full")
            return
        }
        metrics?.countBytes(packet.readableBytes, "udp", "out")
        // A datagram the socket refuses is lost like one the network loses (SWIM retries by design).
        udp.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: packet), promise: nil)
        for message in messages { metrics?.countMessage(GossipMetrics.kind(message), "out") }
    }

    /// Publishes a membership change to subscribers, metrics and the log.
    func publish(_ event: MembershipEvent) {
        publish(CollectionOfOne(event))
    }

    /// Publishes one step's membership changes, in order: to subscribers as one delivery (each wakes once
    /// for the step, not once per change), and each to the metrics and the log.
    func publish(_ changes: some Collection<MembershipEvent>) {
        guard !changes.isEmpty else { return }
        let now = ContinuousClock.now
        for event in changes {
            if let lastEventAt { metrics?.observeConvergence(lastEventAt.duration(to: now)) }
            lastEventAt = now
            switch event {
            case .joined(let member):
                logger.info("member joined", metadata: ["peer": "\(member.name)", "peer.port": "\(member.port)"])
            case .left(let member, let reason):
                logger.info("member left", metadata: ["peer": "\(member.name)", "reason": "\(reason)"])
            case .updated(let member):
                logger.debug("member updated", metadata: ["peer": "\(member.name)"])
            }
        }
        events.publish(changes)
        gaugesStale = true
        refreshMemberGauges(now: now)
    }

    /// The member gauges are counted at most once per this interval: counting walks the whole table, and a
    /// start of N nodes publishes about N events on every node (it counted on each, and on every tick).
    static let gaugeInterval = Duration.seconds(1)
    /// The longest the gauges trail a change: the timer wakes for a count if no tick of the core comes first.
    static let gaugeLatency = Duration.seconds(5)

    /// Sets `gossip_members{state}` from the core's table: counts the members by state when the table may
    /// have changed since the last count (a step of the core) and the last count is ``gaugeInterval`` old.
    /// A change within the interval is counted by the next tick after it (every probe interval while the
    /// node probes), or at the latest after ``gaugeLatency`` (see ``nextDeadline``).
    func refreshMemberGauges(now: ContinuousClock.Instant = .now) {
        guard let metrics, gaugesStale else { return }
        if let counted = gaugesCountedAt, now < counted + Self.gaugeInterval { return }
        guard let swim else { return }
        var counts: [MemberStateKind: Int] = [:]
        for member in swim.members.values { counts[member.state, default: 0] += 1 }
        metrics.setMembers(counts)
        gaugeCounts += 1
        gaugesCountedAt = now
        gaugesStale = false
    }

    /// False for a Cohort node whose metadata names another cluster id; true for ours and for foreign peers.
    func belongsToOurCluster(meta: [UInt8]) -> Bool {
        guard let decoded = try? NodeMeta(decoding: meta) else { return true }
        return decoded.clusterID == settings.clusterID
    }

    /// ``belongsToOurCluster(meta:)`` for an alive announcement. Most announcements are rebroadcasts of a
    /// member already in the table with the same metadata, which passed the check when it entered (every way
    /// in — a datagram or a push/pull — is checked), so only new metadata is decoded: in a 100-node join the
    /// decoding was 2–3% of a node's CPU.
    func belongsToOurCluster(_ announcement: AliveMessage) -> Bool {
        if let known = swim?.members[NodeID(announcement.node)], known.meta == announcement.meta { return true }
        return belongsToOurCluster(meta: announcement.meta)
    }

    /// The gossip endpoints of every other alive member.
    func liveEndpoints() -> [SocketAddress] {
        guard let swim else { return [] }
        return swim.members.values.compactMap { member in
            guard member.name != settings.name, member.state == .alive else { return nil }
            return try? GossipAddressing.socketAddress(ip: member.ip, port: member.port)
        }
    }

    /// True when a member other than this node is alive (or, with `orSuspect`, suspect).
    func hasOtherLiveMember(orSuspect: Bool = false) -> Bool {
        swim?.members.values.contains { member in
            member.name != settings.name && (member.state == .alive || (orSuspect && member.state == .suspect))
        } ?? false
    }
}
