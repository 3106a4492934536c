import CohortCore

/// Why a push/pull could not be merged.
public enum SWIMMergeError: Error, Hashable, Sendable {
    /// A member speaks a protocol or delegate version outside the range every alive member understands
    /// (memberlist's `verifyProtocol`); nothing was merged.
    case incompatibleVersion(node: String)
}

/// Gossip rounds, push/pull and leaving.
extension SWIMInstance {
    /// Sends queued broadcasts to up to `gossipNodes` random members: alive, suspect, or recently dead.
    mutating func gossip(now: ContinuousClock.Instant, using generator: inout some RandomNumberGenerator, into effects: inout [SWIMEffect]) {
        let targets = randomMembers(settings.gossipNodes, using: &generator) { member in
            switch member.state {
            case .alive, .suspect: true
            case .dead: now - member.stateChange <= settings.gossipToTheDeadTime
            case .left: false
            }
        }
        for target in targets {
            let messages = broadcasts.take(
                budget: settings.gossipBudgetBytes, overhead: CompoundMessage.partOverhead, transmitLimit: transmitLimit
            )
            guard !messages.isEmpty else { return }
            effects.append(.send(messages, to: target.address))
        }
    }

    /// Our side of a push/pull: every member we know, and the delegate's state.
    public func localState(join: Bool, userState: [UInt8] = []) -> PushPullMessage {
        let nodes = members.values.sorted { $0.name < $1.name }.map { member in
            PushNodeState(
                name: member.name.rawValue, address: member.ip, port: member.port, meta: member.meta,
                incarnation: member.incarnation, state: member.state, versions: member.versions.bytes
            )
        }
        return PushPullMessage(join: join, nodes: nodes, userState: userState)
    }

    /// Merges a remote push/pull: alive records go through the alive rules, left records become leaves,
    /// and dead or suspect records become *our* suspicion (a remote death is not trusted outright).
    public mutating func mergeRemoteState(
        _ remote: PushPullMessage, now: ContinuousClock.Instant, using generator: inout some RandomNumberGenerator
    ) throws(SWIMMergeError) -> [SWIMEffect] {
        try verifyProtocol(remote.nodes)
        var effects: [SWIMEffect] = []
        for node in remote.nodes {
            switch node.state {
            case .alive:
                let announcement = AliveMessage(
                    incarnation: node.incarnation, node: node.name, address: node.address, port: node.port,
                    meta: node.meta, versions: node.versions
                )
                alive(announcement, now: now, using: &generator, into: &effects)
            case .left:
                dead(DeadMessage(incarnation: node.incarnation, node: node.name, from: node.name), now: now, into: &effects)
            case .dead, .suspect:
                let accusation = SuspectMessage(incarnation: node.incarnation, node: node.name, from: localName.rawValue)
                suspect(accusation, now: now, into: &effects)
            }
        }
        return effects
    }

    /// Leaves gracefully: announces our own death (`from == node`), which others record as a leave. The
    /// shell should keep gossiping for a while so the announcement spreads.
    public mutating func leave(now: ContinuousClock.Instant) -> [SWIMEffect] {
        guard !hasLeft, let local = members[localName] else { return [] }
        hasLeft = true
        var effects: [SWIMEffect] = []
        dead(DeadMessage(incarnation: local.incarnation, node: localName.rawValue, from: localName.rawValue), now: now, into: &effects)
        return effects
    }

    /// memberlist's `verifyProtocol`: every member's current versions must lie in the range all alive
    /// members (ours and theirs) understand.
    private func verifyProtocol(_ remote: [PushNodeState]) throws(SWIMMergeError) {
        var (protocolLow, protocolHigh) = (UInt8.min, UInt8.max)
        var (delegateLow, delegateHigh) = (UInt8.min, UInt8.max)
        let alive = remote.filter { $0.state == .alive }.compactMap { ProtocolVersions($0.versions) }
            + members.values.filter { $0.state == .alive }.map(\.versions)
        for versions in alive {
            protocolLow = max(protocolLow, versions.protocolMin)
            protocolHigh = min(protocolHigh, versions.protocolMax)
            delegateLow = max(delegateLow, versions.delegateMin)
            delegateHigh = min(delegateHigh, versions.delegateMax)
        }
        let everyone = remote.map { ($0.name, ProtocolVersions($0.versions)) }
            + members.values.map { ($0.name.rawValue, Optional($0.versions)) }
        for (name, versions) in everyone {
            let protocolCurrent = versions?.protocolCurrent ?? 0, delegateCurrent = versions?.delegateCurrent ?? 0
            guard protocolCurrent >= protocolLow, protocolCurrent <= protocolHigh,
                  delegateCurrent >= delegateLow, delegateCurrent <= delegateHigh
            else { throw .incompatibleVersion(node: name) }
        }
    }
}
