import CohortCore

/// One node's state of one process-group scope, and the protocol that keeps it in step with the same
/// scope on every other node: Erlang's `pg`, over a reliable FIFO channel per peer.
///
/// - **Ownership.** A node spreads only its own processes' memberships. Each local change gets the next
///   sequence number; changes leave in batches (``flush()``), one `update` per peer.
/// - **Copies.** For every peer that gossip says is up, the node keeps a copy of that peer's memberships
///   and the last sequence number applied. An update that would skip a number is a gap: the copy asks
///   for a whole `sync` instead. A copy of an earlier boot of a node is dropped when a later boot speaks.
/// - **Handshake.** When a peer comes up, the node sends it a `sync` asking for one back. A sync is done
///   when the peer acknowledges it; an unanswered sync is sent again every `syncInterval`, up to
///   `maxRetries` times, then the peer's circuit breaker opens: no traffic to it until `breakerOpenFor`
///   has passed (then one more try) or it speaks again.
/// - **Anti-entropy.** Every `antiEntropyInterval` one random peer gets a `digest`: this node's
///   (seq, digest) and its copy of the peer's. Each side asks for, or sends, a sync where they differ.
/// - **Departures.** A peer that goes down takes its members with it, at once.
///
/// No I/O, no clock, no randomness of its own: the shell feeds it the time and random numbers and
/// carries out ``takeOutput()``.
public struct ScopeCore: Sendable {
    public let node: NodeID
    public let incarnation: Incarnation
    public let settings: ScopeSettings

    /// This node's own memberships.
    public private(set) var local = Members()
    /// The groups of each local process, with multiplicity (for exits and `whichGroups`).
    private var localByPID: [PID: [String: Int]] = [:]
    /// The last local change's number.
    public private(set) var seq: UInt64 = 0
    /// The last number sent to peers.
    private var flushedSeq: UInt64 = 0
    /// Local changes not yet sent.
    private var pending: [GroupOp] = []
    /// (seq, digest) of the last flushes, newest last, to check a peer's copy of this node against.
    private var history: [(seq: UInt64, hash: UInt64)] = [(0, 0)]
    /// Copies of the peers' memberships.
    public private(set) var views: [NodeID: RemoteView] = [:]
    /// The peers that gossip says are up.
    private var peers: [NodeID: Peer] = [:]
    /// For each group, the nodes (this one included) with members in it.
    private var holders: [String: Set<NodeID>] = [:]
    /// Memberships on other nodes, with multiplicity.
    public private(set) var remoteMemberCount = 0
    private var nextAntiEntropyAt: UInt64?
    /// Peers whose members were dropped when gossip said they went; asked for them again when they are
    /// back (see ``nodeUp(_:incarnation:now:)``).
    private var forgottenWithMembers: Set<NodeID> = []
    /// When a broadcast or beat last arrived from a peer.
    private var lastHeard: UInt64?
    /// Since when the scope has had remote members (nil: it has none).
    private var remoteSince: UInt64?
    private var output = ScopeOutput()
    private static let historyLimit = 64

    public init(node: NodeID, incarnation: Incarnation, settings: ScopeSettings = ScopeSettings()) {
        self.node = node
        self.incarnation = incarnation
        self.settings = settings
    }

    /// A copy of one peer's memberships.
    public struct RemoteView: Sendable, Equatable {
        public var incarnation: Incarnation
        /// The last of the peer's changes applied.
        public var seq: UInt64
        public var members = Members()
        /// When a sync was last asked for (so that a burst of gapped updates asks once).
        var requestedAt: UInt64?
    }

    struct Peer: Sendable {
        var incarnation: Incarnation
        var sync: SyncState
        /// When a broadcast or beat was last sent to it.
        var lastSent: UInt64
        /// A send to it was refused since the last sync (the mesh did not know it yet, or its queue was full).
        var lostSend = false
    }

    enum SyncState: Sendable, Equatable {
        /// A sync of this node's state through `seq` is on its way; sent `attempts` times.
        case inFlight(seq: UInt64, sentAt: UInt64, attempts: Int)
        /// The peer holds this node's state (and the updates since keep it so).
        case acked
        /// Too many unanswered syncs: nothing is sent to the peer until `until`.
        case open(until: UInt64)
    }

    // MARK: Reads

    /// Every group with members anywhere, sorted.
    public var groups: [String] { holders.keys.sorted() }
    /// How many groups have members anywhere.
    public var groupCount: Int { holders.count }

    /// Members of `group` on every node, with multiplicity, sorted.
    public func members(of group: String) -> [PID] {
        guard let nodes = holders[group] else { return [] }
        var result: [PID] = []
        for holder in nodes {
            let members = holder == node ? local : views[holder]?.members
            result += members?.membersWithMultiplicity(of: group) ?? []
        }
        return result.sorted()
    }

    /// Members of `group` on this node, with multiplicity, sorted.
    public func localMembers(of group: String) -> [PID] {
        local.membersWithMultiplicity(of: group)
    }

    /// This node's distinct members of `group` (the recipients of a broadcast here), unsorted.
    public func localRecipients(of group: String) -> Dictionary<PID, Int>.Keys? {
        local.groups[group]?.keys
    }

    /// The groups `pid` (a local process) is in, sorted, each once.
    public func groups(of pid: PID) -> [String] {
        if pid.node == node { return (localByPID[pid]?.keys).map { $0.sorted() } ?? [] }
        guard let view = views[pid.node], view.incarnation == pid.incarnation else { return [] }
        return view.members.groups.compactMap { $0.value[pid] != nil ? $0.key : nil }.sorted()
    }

    /// Where a broadcast to `group` goes: this node's distinct members and, per other node, how many
    /// distinct members it has there.
    public func broadcastTargets(of group: String) -> (local: Int, remote: [(node: NodeID, members: Int)]) {
        guard let nodes = holders[group] else { return (0, []) }
        var localCount = 0
        var remote: [(NodeID, Int)] = []
        for holder in nodes {
            if holder == node {
                localCount = local.groups[group]?.count ?? 0
            } else if let count = views[holder]?.members.groups[group]?.count {
                remote.append((holder, count))
            }
        }
        return (localCount, remote)
    }

    /// Whether local changes wait for ``flush()``.
    public var hasPending: Bool { !pending.isEmpty }

    /// Why `pg.broadcast_recent.<scope>` fails now, or nil when it passes: it fails while the scope has
    /// remote members and no broadcast (or beat) arrived for `window` ms.
    public func livenessFailure(now: UInt64, window: UInt64) -> String? {
        guard remoteMemberCount > 0, let remoteSince else { return nil }
        let since = max(lastHeard ?? 0, remoteSince)
        guard now > since, now - since > window else { return nil }
        return "no broadcast from remote members for \((now - since) / 1000)s (limit \(window / 1000)s)"
    }

    /// Whether the breaker to `peer` is open.
    public func breakerIsOpen(to peer: NodeID) -> Bool {
        if case .open = peers[peer]?.sync { return true }
        return false
    }

    // MARK: Local operations

    /// Checks a group name: 1 to ``GroupFrame/maxGroupBytes`` bytes of UTF-8.
    public static func validate(group: String) throws(GroupError) {
        let count = group.utf8.count
        guard count > 0 else { throw .invalidGroup("empty") }
        guard count <= GroupFrame.maxGroupBytes else {
            throw .invalidGroup("\(count) bytes, the limit is \(GroupFrame.maxGroupBytes)")
        }
    }

    /// Joins `pids` (this node's processes; a PID given twice joins twice) to `group`.
    public mutating func join(_ group: String, _ pids: [PID]) throws(GroupError) {
        try Self.validate(group: group)
        guard !pids.isEmpty else { throw .noMembers }
        for pid in pids where pid.node != node || pid.incarnation != incarnation { throw .notLocal(pid.description) }
        if local.groups[group] == nil, local.groups.count >= settings.maxGroups { throw .tooManyGroups(limit: settings.maxGroups) }
        for pid in pids {
            if local.add(pid, to: group) { holders[group, default: []].insert(node) }
            localByPID[pid, default: [:]][group, default: 0] += 1
        }
        record(GroupOp(.join, group: group, serials: pids.map(\.serial)))
        output.events.append(.join(group: group, pids: pids))
    }

    /// Leaves `group` once for each of `pids` that is in it; returns those that left (nothing sent when none).
    @discardableResult
    public mutating func leave(_ group: String, _ pids: [PID]) -> [PID] {
        var left: [PID] = []
        for pid in pids where pid.node == node && pid.incarnation == incarnation && local.remove(pid, from: group) == 1 {
            left.append(pid)
            decrementLocal(pid, group, by: 1)
        }
        guard !left.isEmpty else { return [] }
        if local.groups[group] == nil { dropHolder(node, of: group) }
        record(GroupOp(.leave, group: group, serials: left.map(\.serial)))
        output.events.append(.leave(group: group, pids: left))
        return left
    }

    /// A local process exited: all its memberships go (and the leaves spread).
    public mutating func processExited(_ pid: PID) {
        guard let groups = localByPID.removeValue(forKey: pid) else { return }
        for (group, times) in groups.sorted(by: { $0.key < $1.key }) {
            local.remove(pid, from: group, times: times)
            if local.groups[group] == nil { dropHolder(node, of: group) }
            let pids = Array(repeating: pid, count: times)
            record(GroupOp(.leave, group: group, serials: pids.map(\.serial)))
            output.events.append(.leave(group: group, pids: pids))
        }
    }

    private mutating func decrementLocal(_ pid: PID, _ group: String, by times: Int) {
        // In place: a process may be in very many groups.
        guard let held = localByPID[pid]?[group] else { return }
        localByPID[pid]![group] = held > times ? held - times : nil
        if localByPID[pid]!.isEmpty { localByPID[pid] = nil }
    }

    private mutating func record(_ op: GroupOp) {
        seq += 1
        // With no peer to tell, there is nothing to batch: a peer that comes up gets a sync.
        if peers.isEmpty, pending.isEmpty {
            flushedSeq = seq
        } else {
            pending.append(op)
        }
    }

    /// Sends the local changes not yet sent: one update per peer (none to a peer whose breaker is open).
    public mutating func flush() {
        guard !pending.isEmpty else { return }
        let message = GroupMessage.update(firstSeq: flushedSeq + 1, ops: pending)
        pending = []
        flushedSeq = seq
        remember(seq, local.digest)
        for (peer, state) in peers.sorted(by: { $0.key < $1.key }) {
            if case .open = state.sync {
                output.tally.skipped += 1
                continue
            }
            output.sends.append((peer, message))
        }
    }

    private mutating func remember(_ seq: UInt64, _ hash: UInt64) {
        history.append((seq, hash))
        if history.count > Self.historyLimit { history.removeFirst(history.count - Self.historyLimit) }
    }

    // MARK: Membership of nodes

    /// Gossip says `peer` is up in boot `incarnation`: a new peer (or a new boot of one) gets a sync (it
    /// sends one too, when it learns of this node: the handshake).
    public mutating func nodeUp(_ peer: NodeID, incarnation: Incarnation, now: UInt64) {
        guard peer != node else { return }
        if let known = peers[peer], known.incarnation >= incarnation { return }
        if let view = views[peer], view.incarnation < incarnation { dropView(of: peer) }
        peers[peer] = Peer(incarnation: incarnation, sync: .acked, lastSent: now)
        // A node with no members has nothing to tell: the peer's copy of it starts empty, and the next
        // update (a gap from there) or digest brings it up to date. So an idle scope opens no connection
        // to each node that comes up — a full mesh of syncs at every mass start otherwise. The exception
        // is a peer whose members this node dropped when gossip said it went: it may never have noticed,
        // so it would not resend them; the sync (with no copy of it) asks for them.
        if local.count > 0 || forgottenWithMembers.remove(peer) != nil { sendSync(to: peer, now: now) }
    }

    /// Gossip says `peer` left or died: its members vanish here at once.
    public mutating func nodeDown(_ peer: NodeID) {
        peers[peer] = nil
        if let view = views[peer], view.members.count > 0 { forgottenWithMembers.insert(peer) }
        dropView(of: peer)
    }

    private mutating func dropView(of peer: NodeID) {
        guard let view = views.removeValue(forKey: peer) else { return }
        for (group, entries) in view.members.groups.sorted(by: { $0.key < $1.key }) {
            dropHolder(peer, of: group)
            let pids = entries.sorted { $0.key < $1.key }.flatMap { Array(repeating: $0.key, count: $0.value) }
            output.events.append(.leave(group: group, pids: pids))
        }
        remoteMemberCount -= view.members.count
        if remoteMemberCount == 0 { remoteSince = nil }
    }

    private mutating func dropHolder(_ holder: NodeID, of group: String) {
        guard holders[group]?.remove(holder) != nil else { return }
        if holders[group]!.isEmpty { holders[group] = nil }
    }

    // MARK: Messages from peers

    /// A message from `peer` in its boot `incarnation`.
    public mutating func receive(_ message: GroupMessage, from peer: NodeID, incarnation: Incarnation, now: UInt64) {
        guard var state = peers[peer] else {
            output.tally.dropped[.unknownNode, default: 0] += 1
            return
        }
        if incarnation < state.incarnation {
            output.tally.dropped[.stale, default: 0] += 1
            return
        }
        if incarnation > state.incarnation {
            // Gossip has not said so yet, but the peer restarted.
            nodeUp(peer, incarnation: incarnation, now: now)
            state = peers[peer] ?? state
        }
        if case .open = state.sync {
            // It speaks again: close the breaker and bring it up to date.
            sendSync(to: peer, now: now)
        }
        switch message {
        case .update(let firstSeq, let ops):
            applyUpdate(firstSeq: firstSeq, ops: ops, from: peer, incarnation: incarnation, now: now)
        case .sync(let theirSeq, let groups, let have):
            applySync(seq: theirSeq, groups: groups, from: peer, incarnation: incarnation, now: now)
            output.sends.append((peer, .syncAck(seq: views[peer]?.seq ?? theirSeq)))
            // The peer's copy of this node is not one it had (it forgot it: gossip saw this node go and
            // come back there). Unless a sync is on its way already (resent until acknowledged), send one.
            if !copyIsCurrent(have), case .acked = peers[peer]?.sync { sendSync(to: peer, now: now) }
        case .syncRequest:
            output.tally.syncRequested += 1
            sendSync(to: peer, now: now)
        case .syncAck(let acked):
            if case .inFlight(let sent, _, _) = peers[peer]?.sync, acked >= sent {
                peers[peer]?.sync = .acked
                output.tally.syncAcked += 1
            }
        case .digest(let theirSeq, let hash, let view):
            if let copy = views[peer], copy.incarnation == incarnation, copy.seq == theirSeq, copy.members.digest == hash {
                // Our copy of the peer matches.
            } else {
                requestSync(from: peer, now: now, force: true)
            }
            if !copyIsCurrent(view) { sendSync(to: peer, now: now) }
        case .broadcast, .beat:
            lastHeard = now
        }
    }

    /// Whether a peer's copy of this node, as its digest describes it, is one this node had (the peer
    /// may be behind by the updates in flight, never different).
    private func copyIsCurrent(_ view: ViewDigest?) -> Bool {
        guard let view, view.incarnation == incarnation else { return false }
        return history.contains { $0.seq == view.seq && $0.hash == view.hash }
    }

    private mutating func applyUpdate(firstSeq: UInt64, ops: [GroupOp], from peer: NodeID, incarnation: Incarnation, now: UInt64) {
        let copySeq = views[peer]?.seq ?? 0
        let lastSeq = firstSeq + UInt64(ops.count) - 1
        guard lastSeq > copySeq else {
            output.tally.dropped[.duplicate, default: 0] += 1
            return
        }
        guard firstSeq <= copySeq + 1 else {
            output.tally.dropped[.gap, default: 0] += 1
            if views[peer] == nil { views[peer] = RemoteView(incarnation: incarnation, seq: 0) }
            requestSync(from: peer, now: now, force: false)
            return
        }
        // Moved out of the dictionary while it changes: with a second reference, the first change would
        // copy the whole copy (100,000 groups: ~1 ms per update, measured by the pg benchmark).
        var view = views.removeValue(forKey: peer) ?? RemoteView(incarnation: incarnation, seq: 0)
        defer { views[peer] = view }
        let skip = Int(copySeq + 1 - firstSeq)
        for op in ops[skip...] {
            let pids = op.serials.map { PID(node: peer, incarnation: incarnation, serial: $0) }
            switch op.kind {
            case .join:
                for pid in pids where view.members.add(pid, to: op.group) { holders[op.group, default: []].insert(peer) }
                noteRemoteMembers(+pids.count, now: now)
                output.events.append(.join(group: op.group, pids: pids))
            case .leave:
                let left = pids.filter { view.members.remove($0, from: op.group) == 1 }
                if view.members.groups[op.group] == nil { dropHolder(peer, of: op.group) }
                noteRemoteMembers(-left.count, now: now)
                if !left.isEmpty { output.events.append(.leave(group: op.group, pids: left)) }
            }
        }
        view.seq = lastSeq
    }

    private mutating func applySync(seq theirSeq: UInt64, groups: [SyncGroup], from peer: NodeID, incarnation: Incarnation, now: UInt64) {
        output.tally.syncReceived += 1
        if let copy = views[peer], copy.seq > theirSeq {
            // An older state than the copy holds (a reordered resend): applying it would undo changes.
            output.tally.dropped[.stale, default: 0] += 1
            return
        }
        let old = views[peer]?.members ?? Members()
        var members = Members()
        for entry in groups {
            for member in entry.members {
                members.add(PID(node: peer, incarnation: incarnation, serial: member.serial), to: entry.name, times: Int(member.count))
            }
        }
        // What changed, as events: leaves first, then joins, group by group.
        for (group, entries) in old.groups.sorted(by: { $0.key < $1.key }) {
            let now = members.groups[group] ?? [:]
            let left = entries.sorted { $0.key < $1.key }.flatMap { pid, count in Array(repeating: pid, count: max(0, count - (now[pid] ?? 0))) }
            if !left.isEmpty { output.events.append(.leave(group: group, pids: left)) }
            if now.isEmpty { dropHolder(peer, of: group) }
        }
        for (group, entries) in members.groups.sorted(by: { $0.key < $1.key }) {
            let before = old.groups[group] ?? [:]
            let joined = entries.sorted { $0.key < $1.key }.flatMap { pid, count in Array(repeating: pid, count: max(0, count - (before[pid] ?? 0))) }
            if !joined.isEmpty { output.events.append(.join(group: group, pids: joined)) }
            holders[group, default: []].insert(peer)
        }
        noteRemoteMembers(members.count - old.count, now: now)
        views[peer] = RemoteView(incarnation: incarnation, seq: theirSeq, members: members)
    }

    private mutating func noteRemoteMembers(_ delta: Int, now: UInt64) {
        let before = remoteMemberCount
        remoteMemberCount += delta
        if before == 0, remoteMemberCount > 0 { remoteSince = now }
        if remoteMemberCount == 0 { remoteSince = nil }
    }

    /// Asks `peer` for its whole membership; at most once per `syncInterval` unless `force`d.
    private mutating func requestSync(from peer: NodeID, now: UInt64, force: Bool) {
        if !force, let at = views[peer]?.requestedAt, now < at + settings.syncInterval { return }
        views[peer, default: RemoteView(incarnation: peers[peer]?.incarnation ?? Incarnation(0), seq: 0)].requestedAt = now
        output.sends.append((peer, .syncRequest))
    }

    /// Sends `peer` this node's whole membership (after the pending changes, so that it is current).
    private mutating func sendSync(to peer: NodeID, now: UInt64, attempts: Int = 1) {
        flush()
        if history.last?.seq != seq { remember(seq, local.digest) }
        var groups: [SyncGroup] = []
        groups.reserveCapacity(local.groups.count)
        for (name, entries) in local.groups {
            groups.append(SyncGroup(name: name, members: entries.map { SyncMember(serial: $0.key.serial, count: UInt32(clamping: $0.value)) }))
        }
        output.sends.append((peer, .sync(seq: seq, groups: groups, have: viewDigest(of: peer))))
        peers[peer]?.sync = .inFlight(seq: seq, sentAt: now, attempts: attempts)
        peers[peer]?.lostSend = false
        output.tally.syncSent += 1
    }

    /// This node's copy of `peer`'s memberships, summarised.
    private func viewDigest(of peer: NodeID) -> ViewDigest? {
        views[peer].map { ViewDigest(incarnation: $0.incarnation, seq: $0.seq, hash: $0.members.digest) }
    }

    /// A send to `peer` was dropped (its queue is full, or it is unknown to the mesh): the peer's copy
    /// of this node has a hole, so a sync follows after `syncInterval` unless one is already due (each
    /// sync sent counts as one attempt toward the breaker).
    public mutating func sendFailed(to peer: NodeID, now: UInt64) {
        guard let state = peers[peer] else { return }
        peers[peer]?.lostSend = true
        guard case .acked = state.sync else { return }
        peers[peer]?.sync = .inFlight(seq: seq, sentAt: now, attempts: 1)
    }

    /// The mesh connected to `peer`: if a send to it was refused since the last sync (typically the
    /// handshake's sync, sent before the mesh knew the peer), a sync goes now rather than at the retry.
    public mutating func connected(_ peer: NodeID, now: UInt64) {
        guard let state = peers[peer], state.lostSend else { return }
        sendSync(to: peer, now: now)
    }

    // MARK: Time

    /// Advances time to `now` (ms): flushes, retries or gives up unanswered syncs, runs anti-entropy
    /// (`random` picks the peer) and sends beats.
    public mutating func tick(now: UInt64, random: UInt64) {
        flush()
        for (peer, state) in peers.sorted(by: { $0.key < $1.key }) {
            switch state.sync {
            case .acked:
                break
            case .inFlight(_, let sentAt, let attempts):
                guard now >= sentAt + settings.syncInterval else { break }
                if attempts > settings.maxRetries {
                    peers[peer]?.sync = .open(until: now + settings.breakerOpenFor)
                    output.tally.syncFailed += 1
                } else {
                    output.tally.syncRetried += 1
                    sendSync(to: peer, now: now, attempts: attempts + 1)
                }
            case .open(let until):
                // Half open: one more try; one more failure opens it again.
                if now >= until { sendSync(to: peer, now: now, attempts: settings.maxRetries + 1) }
            }
        }
        if let interval = settings.antiEntropyInterval, hasStateToCompare {
            let due = nextAntiEntropyAt ?? now + interval
            if now >= due {
                let candidates = peers.keys.filter { !breakerIsOpen(to: $0) }.sorted()
                if !candidates.isEmpty {
                    let peer = candidates[Int(random % UInt64(candidates.count))]
                    output.sends.append((peer, .digest(seq: seq, hash: local.digest, view: viewDigest(of: peer))))
                }
                nextAntiEntropyAt = now + interval
            } else {
                nextAntiEntropyAt = due
            }
        }
        if let beat = settings.beatInterval, local.count > 0 {
            for (peer, state) in peers.sorted(by: { $0.key < $1.key }) where now >= state.lastSent + beat && !breakerIsOpen(to: peer) {
                output.sends.append((peer, .beat))
                peers[peer]?.lastSent = now
            }
        }
    }

    /// When ``tick(now:random:)`` has something to do next (a sync retry, a breaker to half-open, the next
    /// anti-entropy round, a beat), or nil when nothing is scheduled: the shell sleeps until then instead
    /// of ticking on a fixed period.
    public func nextDeadline() -> UInt64? {
        var next: UInt64?
        func consider(_ time: UInt64) { next = min(next ?? time, time) }
        for state in peers.values {
            switch state.sync {
            case .acked: break
            case .inFlight(_, let sentAt, _): consider(sentAt + settings.syncInterval)
            case .open(let until): consider(until)
            }
        }
        if settings.antiEntropyInterval != nil, !peers.isEmpty, hasStateToCompare { consider(nextAntiEntropyAt ?? 0) }
        if let beat = settings.beatInterval, local.count > 0 {
            for state in peers.values where !isOpen(state.sync) { consider(state.lastSent + beat) }
        }
        return next
    }

    /// Whether anti-entropy has anything to compare: members here, or a copy of some peer's. A scope empty
    /// everywhere exchanges no digests (and opens no connections).
    private var hasStateToCompare: Bool {
        local.count > 0 || !views.isEmpty
    }

    private func isOpen(_ state: SyncState) -> Bool {
        if case .open = state { return true }
        return false
    }

    /// Notes that a broadcast went to `peers` at `now` (they need no beat for a while).
    public mutating func noteBroadcast(to sent: [NodeID], now: UInt64) {
        for peer in sent { peers[peer]?.lastSent = now }
    }

    /// What to send and which events to publish since the last call.
    public mutating func takeOutput() -> ScopeOutput {
        defer { output = ScopeOutput() }
        return output
    }
}

/// What a ``ScopeCore`` asks its shell to do, and what it counted.
public struct ScopeOutput: Sendable {
    /// Messages to peers, in order.
    public var sends: [(NodeID, GroupMessage)] = []
    /// Changes for monitors, in order.
    public var events: [GroupEvent] = []
    public var tally = ScopeTally()

    public init() {}
}

/// Counts since the last ``ScopeCore/takeOutput()``, for the shell's metrics.
public struct ScopeTally: Sendable, Equatable {
    public var syncSent = 0
    public var syncReceived = 0
    public var syncAcked = 0
    public var syncRetried = 0
    /// Syncs given up on: the peer's breaker opened.
    public var syncFailed = 0
    public var syncRequested = 0
    /// Updates not sent because a peer's breaker is open.
    public var skipped = 0
    public var dropped: [ScopeDropReason: Int] = [:]

    public init() {}
}

/// Why a peer's message was not applied: the `reason` label of `pg_dropped_total` (with the shell's own
/// `malformed`, `unknown_scope` and `queue_full`).
public enum ScopeDropReason: String, Sendable, Hashable, CaseIterable {
    /// From a node that gossip does not report up (it may have just left).
    case unknownNode = "unknown_node"
    /// From an earlier boot of the node.
    case stale
    /// An update whose changes were all applied already.
    case duplicate
    /// An update after a lost one; a sync was asked for instead.
    case gap
}
