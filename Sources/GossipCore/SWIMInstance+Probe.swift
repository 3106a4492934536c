import CohortCore

/// Probing: memberlist's `probe`, `probeNode` and the ack/nack handlers.
extension SWIMInstance {
    /// The result of a TCP fallback ping the shell ran for ``SWIMEffect/tcpPing(_:to:deadline:)``.
    public mutating func tcpPingCompleted(sequenceNumber: UInt32, reachable: Bool, now: ContinuousClock.Instant) -> [SWIMEffect] {
        guard var round = probe, round.ping.sequenceNumber == sequenceNumber, round.tcp == .pending else { return [] }
        round.tcp = reachable ? .reachable : .unreachable
        probe = round
        var effects: [SWIMEffect] = []
        if now >= round.roundEnd { concludeProbe(now: now, into: &effects) }
        return effects
    }

    mutating func startProbe(now: ContinuousClock.Instant, using generator: inout some RandomNumberGenerator, into effects: inout [SWIMEffect]) {
        let interval = awareness.scale(settings.probeInterval)
        nextProbe = now + interval
        guard let name = nextProbeTarget(now: now, using: &generator), let target = members[name] else { return }
        let source = localSource
        let ping = PingMessage(
            sequenceNumber: nextSequenceNumber(), node: name.rawValue,
            sourceAddress: source.ip, sourcePort: source.port, sourceNode: localName.rawValue
        )
        probe = ProbeRound(
            target: name, targetIncarnation: target.incarnation, ping: ping,
            timeoutAt: now + settings.probeTimeout, roundEnd: now + interval
        )
        if target.state == .alive {
            send(.ping(ping), to: target.address, into: &effects)
        } else {
            // Buddy system: a suspect hears the accusation together with the probe and can refute it.
            let accusation = SuspectMessage(incarnation: target.incarnation, node: name.rawValue, from: localName.rawValue)
            effects.append(.send([.ping(ping), .suspect(accusation)], to: target.address))
        }
    }

    mutating func advanceProbe(now: ContinuousClock.Instant, using generator: inout some RandomNumberGenerator, into effects: inout [SWIMEffect]) {
        guard let round = probe else { return }
        if !round.indirectSent, now >= round.timeoutAt {
            startIndirectProbes(now: now, using: &generator, into: &effects)
        }
        guard let round = probe, now >= round.roundEnd else { return }
        // Wait for a pending TCP ping a little past the round (its deadline is the round's end).
        if round.tcp == .pending, now < round.roundEnd + settings.probeTimeout { return }
        concludeProbe(now: now, into: &effects)
    }

    /// No ack within the probe timeout: ask helpers, and try TCP.
    private mutating func startIndirectProbes(now: ContinuousClock.Instant, using generator: inout some RandomNumberGenerator, into effects: inout [SWIMEffect]) {
        guard var round = probe, let target = members[round.target] else { return }
        round.indirectSent = true
        let helpers = randomMembers(settings.indirectChecks, using: &generator) { $0.name != round.target && $0.state == .alive }
        let source = localSource
        for helper in helpers {
            let wantsNack = helper.versions.protocolMax >= 4
            if wantsNack { round.expectedNacks += 1 }
            let request = IndirectPingMessage(
                sequenceNumber: round.ping.sequenceNumber, target: target.ip, port: target.port, node: round.target.rawValue,
                wantsNack: wantsNack, sourceAddress: source.ip, sourcePort: source.port, sourceNode: localName.rawValue
            )
            send(.indirectPing(request), to: helper.address, into: &effects)
        }
        if target.versions.protocolMax >= 3 {
            round.tcp = .pending
            effects.append(.tcpPing(round.ping, to: target.address, deadline: round.roundEnd))
        }
        probe = round
    }

    /// The round ended without an ack.
    private mutating func concludeProbe(now: ContinuousClock.Instant, into effects: inout [SWIMEffect]) {
        guard let round = probe else { return }
        probe = nil
        if round.tcp == .reachable {
            awareness.apply(-1)
            effects.append(.udpUnreachable(round.target))
            effects.append(.probeCompleted(target: round.target, result: .tcpOnly))
            return
        }
        effects.append(.probeCompleted(target: round.target, result: .failed))
        // Lifeguard: missing nacks mean *we* may be the problem.
        awareness.apply(round.expectedNacks > 0 ? round.expectedNacks - min(round.nacks, round.expectedNacks) : 1)
        let accusation = SuspectMessage(incarnation: round.targetIncarnation, node: round.target.rawValue, from: localName.rawValue)
        suspect(accusation, now: now, into: &effects)
    }

    mutating func handleAck(_ ack: AckResponseMessage, now: ContinuousClock.Instant, into effects: inout [SWIMEffect]) {
        if let round = probe, round.ping.sequenceNumber == ack.sequenceNumber, now <= round.roundEnd {
            probe = nil
            awareness.apply(-1)
            effects.append(.probeCompleted(target: round.target, result: round.indirectSent ? .indirectAck : .ack))
        } else if let relay = relays.removeValue(forKey: ack.sequenceNumber) {
            send(.ackResponse(AckResponseMessage(sequenceNumber: relay.originalSequence)), to: relay.requester, into: &effects)
        }
    }

    mutating func handleNack(_ nack: NackResponseMessage) {
        guard var round = probe, round.ping.sequenceNumber == nack.sequenceNumber else { return }
        round.nacks = min(round.nacks + 1, settings.indirectChecks + 1)
        probe = round
    }

    /// Relayed probes that timed out send their nack, if asked for one.
    mutating func expireRelays(now: ContinuousClock.Instant, into effects: inout [SWIMEffect]) {
        for sequence in relays.keys.sorted() {
            guard let relay = relays[sequence], relay.expires <= now else { continue }
            relays[sequence] = nil
            if relay.wantsNack {
                send(.nackResponse(NackResponseMessage(sequenceNumber: relay.originalSequence)), to: relay.requester, into: &effects)
            }
        }
    }

    /// The next live member in the shuffled order; reshuffles (and forgets long-dead members) at the end.
    private mutating func nextProbeTarget(now: ContinuousClock.Instant, using generator: inout some RandomNumberGenerator) -> NodeID? {
        for _ in 0...(2 * probeOrder.count + 1) {
            if probeIndex >= probeOrder.count {
                resetProbeOrder(now: now, using: &generator)
                probeIndex = 0
            }
            guard probeIndex < probeOrder.count else { return nil }
            let name = probeOrder[probeIndex]
            probeIndex += 1
            if name != localName, let member = members[name], !member.isGone { return name }
        }
        return nil
    }

    private mutating func resetProbeOrder(now: ContinuousClock.Instant, using generator: inout some RandomNumberGenerator) {
        for (name, member) in members where name != localName && member.isGone && now - member.stateChange > settings.gossipToTheDeadTime {
            members[name] = nil
            suspicions[name] = nil
        }
        probeOrder = members.keys.sorted()
        probeOrder.shuffle(using: &generator)
    }
}
