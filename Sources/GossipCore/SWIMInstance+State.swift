import CohortCore

/// Membership state changes: memberlist's `aliveNode`, `suspectNode`, `deadNode` and `refute`.
extension SWIMInstance {
    /// Applies an alive announcement: new members join, higher incarnations win, and an alive message about
    /// ourselves that differs from what we announce is refuted.
    mutating func alive(
        _ announcement: AliveMessage, now: ContinuousClock.Instant,
        using generator: inout some RandomNumberGenerator, into effects: inout [SWIMEffect]
    ) {
        let name = NodeID(announcement.node)
        if hasLeft, name == localName { return }
        let vsn = announcement.versions
        if vsn.count >= 3, vsn[0] == 0 || vsn[1] == 0 || vsn[0] > vsn[1] { return }
        // memberlist 0.2.2 indexes Vsn[0…5] whenever it is non-empty; a short one is refused here instead.
        let versions = ProtocolVersions(vsn)
        if !vsn.isEmpty, versions == nil { return }

        let existing = members[name]
        var member = existing ?? Member(
            name: name, ip: announcement.address, port: announcement.port, meta: announcement.meta,
            versions: versions ?? ProtocolVersions(protocolMin: 0, protocolMax: 0, protocolCurrent: 0),
            incarnation: 0, state: .dead, stateChange: now
        )
        var reclaimed = false
        if let existing, existing.ip != announcement.address || existing.port != announcement.port {
            let reclaimable = settings.deadNodeReclaimTime > .zero && now - existing.stateChange > settings.deadNodeReclaimTime
            // A live name at another address is a conflict, not a move — unless it is a later boot of it.
            guard existing.state == .left || (existing.state == .dead && reclaimable)
                || isLaterBoot?(existing.meta, announcement.meta) == true
            else { return }
            reclaimed = true
        }
        let isLocal = name == localName
        if isLocal ? announcement.incarnation < member.incarnation
                   : announcement.incarnation <= member.incarnation && !reclaimed && existing != nil {
            return
        }
        suspicions[name] = nil
        if isLocal {
            if announcement.incarnation == member.incarnation, announcement.meta == member.meta,
               versions == member.versions {
                return
            }
            refute(accusedIncarnation: announcement.incarnation, into: &effects)
            return
        }
        if existing == nil {
            probeOrder.append(name)
            let offset = Int.random(in: 0..<probeOrder.count, using: &generator)
            probeOrder.swapAt(offset, probeOrder.count - 1)
        }
        broadcasts.enqueue(.alive(announcement))
        let oldState = member.state, oldMeta = member.meta
        if let versions { member.versions = versions }
        member.incarnation = announcement.incarnation
        member.meta = announcement.meta
        member.ip = announcement.address
        member.port = announcement.port
        if member.state != .alive {
            member.state = .alive
            member.stateChange = now
        }
        members[name] = member
        if existing == nil || oldState == .dead || oldState == .left {
            effects.append(.event(.joined(member)))
        } else if oldMeta != member.meta {
            effects.append(.event(.updated(member)))
        }
    }

    /// Applies a suspicion: starts the suspect's timer, or counts an independent confirmation of it.
    mutating func suspect(_ accusation: SuspectMessage, now: ContinuousClock.Instant, into effects: inout [SWIMEffect]) {
        let name = NodeID(accusation.node)
        guard var member = members[name], accusation.incarnation >= member.incarnation else { return }
        if var suspicion = suspicions[name] {
            if suspicion.confirm(from: NodeID(accusation.from)) {
                suspicions[name] = suspicion
                broadcasts.enqueue(.suspect(accusation))
            }
            return
        }
        guard member.state == .alive else { return }
        if name == localName {
            refute(accusedIncarnation: accusation.incarnation, into: &effects)
            return
        }
        broadcasts.enqueue(.suspect(accusation))
        member.incarnation = accusation.incarnation
        member.state = .suspect
        member.stateChange = now
        members[name] = member

        let count = members.count
        let wanted = count - 2 < settings.suspicionMultiplier - 2 ? 0 : settings.suspicionMultiplier - 2
        let minimum = SWIMTiming.suspicionMinimum(
            multiplier: settings.suspicionMultiplier, members: count, probeInterval: settings.probeInterval
        )
        suspicions[name] = Suspicion(
            accuser: NodeID(accusation.from), wantedConfirmations: wanted,
            minimum: minimum, maximum: minimum * settings.suspicionMaxTimeoutMultiplier, start: now
        )
    }

    /// Applies a death or a leave (`from == node`).
    mutating func dead(_ death: DeadMessage, now: ContinuousClock.Instant, into effects: inout [SWIMEffect]) {
        let name = NodeID(death.node)
        guard var member = members[name], death.incarnation >= member.incarnation else { return }
        suspicions[name] = nil
        if member.isGone { return }
        if name == localName, !hasLeft {
            refute(accusedIncarnation: death.incarnation, into: &effects)
            return
        }
        broadcasts.enqueue(.dead(death))
        member.incarnation = death.incarnation
        member.state = death.isLeave ? .left : .dead
        member.stateChange = now
        members[name] = member
        effects.append(.event(.left(member, reason: death.isLeave ? .left : .dead)))
    }

    /// Suspects whose timer ran out without a refutation are declared dead.
    mutating func expireSuspicions(now: ContinuousClock.Instant, into effects: inout [SWIMEffect]) {
        for name in suspicions.keys.sorted() {
            guard let suspicion = suspicions[name], suspicion.deadline <= now else { continue }
            suspicions[name] = nil
            guard let member = members[name], member.state == .suspect, member.stateChange == suspicion.start else { continue }
            dead(DeadMessage(incarnation: member.incarnation, node: name.rawValue, from: localName.rawValue), now: now, into: &effects)
        }
    }

    /// Someone says we are suspect or dead: outbid their incarnation and announce that we are alive.
    mutating func refute(accusedIncarnation: UInt32, into effects: inout [SWIMEffect]) {
        guard var local = members[localName] else { return }
        var incarnation = local.incarnation &+ 1
        if accusedIncarnation >= incarnation { incarnation = accusedIncarnation &+ 1 }
        local.incarnation = incarnation
        members[localName] = local
        awareness.apply(1)
        broadcasts.enqueue(.alive(local.aliveMessage))
    }
}
