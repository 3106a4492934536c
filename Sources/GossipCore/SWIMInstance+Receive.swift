import CohortCore

/// Received datagram messages: memberlist's `handleCommand` and the ping / indirect ping handlers.
extension SWIMInstance {
    /// Handles one decoded message. `source` is the datagram's sender, used when the message names no
    /// reply address. User messages are not the core's business and are ignored.
    public mutating func receive(
        _ message: GossipMessage,
        from source: MemberAddress?,
        now: ContinuousClock.Instant,
        using generator: inout some RandomNumberGenerator
    ) -> [SWIMEffect] {
        var effects: [SWIMEffect] = []
        switch message {
        case .ping(let ping):
            handlePing(ping, from: source, into: &effects)
        case .indirectPing(let request):
            handleIndirectPing(request, from: source, now: now, into: &effects)
        case .ackResponse(let ack):
            handleAck(ack, now: now, into: &effects)
        case .nackResponse(let nack):
            handleNack(nack)
        case .suspect(let accusation):
            suspect(accusation, now: now, into: &effects)
        case .alive(let announcement):
            alive(announcement, now: now, using: &generator, into: &effects)
        case .dead(let death):
            dead(death, now: now, into: &effects)
        case .user:
            break
        }
        return effects
    }

    /// Answers a ping addressed to us (or to no one in particular).
    private mutating func handlePing(_ ping: PingMessage, from source: MemberAddress?, into effects: inout [SWIMEffect]) {
        guard ping.node.isEmpty || ping.node == localName.rawValue else { return }
        guard let replyTo = replyAddress(ping.sourceAddress, ping.sourcePort, ping.sourceNode, fallback: source) else { return }
        send(.ackResponse(AckResponseMessage(sequenceNumber: ping.sequenceNumber)), to: replyTo, into: &effects)
    }

    /// Probes a target for someone else; the ack is relayed and, if asked, a nack follows a silence.
    private mutating func handleIndirectPing(
        _ request: IndirectPingMessage, from source: MemberAddress?, now: ContinuousClock.Instant, into effects: inout [SWIMEffect]
    ) {
        guard let requester = replyAddress(request.sourceAddress, request.sourcePort, request.sourceNode, fallback: source) else {
            return
        }
        let local = localSource
        let ping = PingMessage(
            sequenceNumber: nextSequenceNumber(), node: request.node,
            sourceAddress: local.ip, sourcePort: local.port, sourceNode: localName.rawValue
        )
        relays[ping.sequenceNumber] = Relay(
            originalSequence: request.sequenceNumber, requester: requester, wantsNack: request.wantsNack,
            expires: now + settings.probeTimeout
        )
        let targetName = NodeID(request.node)
        let target = MemberAddress(
            name: request.node.isEmpty ? nil : targetName, ip: request.target,
            port: request.port == 0 ? local.port : request.port,
            protocolMax: members[targetName]?.versions.protocolMax ?? 0
        )
        send(.ping(ping), to: target, into: &effects)
    }

    /// The address a reply goes to: the one the message names, else the datagram's sender.
    private func replyAddress(_ ip: [UInt8], _ port: UInt16, _ name: String, fallback: MemberAddress?) -> MemberAddress? {
        guard !ip.isEmpty, port > 0 else { return fallback }
        let node = name.isEmpty ? nil : NodeID(name)
        return MemberAddress(name: node, ip: ip, port: port, protocolMax: node.flatMap { members[$0]?.versions.protocolMax } ?? 0)
    }
}
