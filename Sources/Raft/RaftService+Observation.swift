import CohortCore
import RaftCore

/// What the node, its health checks and the voter reconciler watch: status changes, leader contact,
/// replication progress, and where proposals go when no leader is known.
extension RaftService {
    /// The status now, then every change of state, term, leader, role, voters or standbys (commit and
    /// applied indexes alone do not count as a change). Only the newest unread status is kept. The stream
    /// ends when the service stops.
    public func statusUpdates() -> AsyncStream<RaftStatus> {
        let (stream, continuation) = AsyncStream.makeStream(of: RaftStatus.self, bufferingPolicy: .bufferingNewest(1))
        continuation.yield(status)
        guard phase != .stopped else {
            continuation.finish()
            return stream
        }
        let id = nextStatusWatcher
        nextStatusWatcher += 1
        statusWatchers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            Task { await self.removeStatusWatcher(id) }
        }
        return stream
    }

    private func removeStatusWatcher(_ id: Int) {
        statusWatchers[id] = nil
    }

    /// Tells the watchers when the status changed in a way they care about.
    func publishStatus() {
        var current = status
        // Indexes move with every write; watchers only care about who is who.
        current.commitIndex = 0
        current.appliedIndex = 0
        current.lastLogIndex = 0
        guard current != publishedStatus else { return }
        publishedStatus = current
        let full = status
        for watcher in statusWatchers.values { watcher.yield(full) }
    }

    /// Notes that the leader of the current term was heard from.
    func noteContact(from peer: NodeID) {
        if peer == node.leader { leaderContact.withLock { $0 = .now } }
    }

    /// Whether this node is the leader. Callable from any thread; from a ``RaftStateMachine/apply(_:)`` it
    /// says whether the node applying the entry leads at that moment (the leader publishes what it applies).
    public nonisolated var isLeader: Bool {
        leading.load(ordering: .relaxed)
    }

    /// When this node last heard from the leader of its term (a leader: when it last ticked as leader);
    /// nil if never since it started. Callable from any thread, for health checks.
    public nonisolated var lastLeaderContactInstant: ContinuousClock.Instant? {
        leaderContact.withLock { $0 }
    }

    /// True once the node holds any Raft state: it founded a group, or a leader added it (it has a term or
    /// log entries). A node with state never bootstraps.
    public var hasState: Bool {
        node.term > 0 || node.lastIndex > 0 || node.log.snapshot.index > 0 || !node.configuration.isEmpty
    }

    /// On the leader: how far each voter and standby has replicated and when it was last heard from, for
    /// the voter reconciler. Nil on any other node.
    public var replication: ReplicationView? {
        guard phase == .running, node.state == .leader else { return nil }
        let tick = settings.tickInterval
        let heartbeat = tick * settings.raft.heartbeatTicks
        let configuration = node.configuration
        let peers = Dictionary(uniqueKeysWithValues: node.progress.map { peer, progress in
            let interval = configuration.isStandby(peer) ? heartbeat * settings.raft.standbyHeartbeatRounds : heartbeat
            // A blank replica (new, or back with lost data) is not caught up until the leader admitted it.
            return (peer, ReplicationView.Peer(match: progress.isBlank ? 0 : progress.match, sinceContact: tick * progress.ticksSinceContact, heartbeatInterval: interval))
        })
        return ReplicationView(
            lastIndex: node.lastIndex, heartbeatInterval: tick * settings.raft.heartbeatTicks,
            electionTimeout: tick * settings.raft.electionTicks, peers: peers
        )
    }

    /// Sets where a proposal goes when this node knows no leader: Raft members, best first (a client node
    /// forwards to the first; the member forwards on to its leader). Called by the node with the
    /// deterministic ranking of the gossip view.
    public func setForwardingCandidates(_ candidates: @escaping @Sendable () -> [NodeID]) {
        forwardingCandidates = candidates
    }
}

/// A leader's view of replication to its peers.
public struct ReplicationView: Sendable, Hashable {
    /// One peer's progress.
    public struct Peer: Sendable, Hashable {
        /// The highest index known replicated on the peer.
        public var match: LogIndex
        /// How long since the leader last heard from it (tick resolution).
        public var sinceContact: Duration
        /// How often the leader heartbeats it, when not the view's ``ReplicationView/heartbeatInterval``
        /// (standbys hear fewer heartbeats).
        public var heartbeatInterval: Duration?

        /// One peer's progress.
        public init(match: LogIndex, sinceContact: Duration, heartbeatInterval: Duration? = nil) {
            self.match = match
            self.sinceContact = sinceContact
            self.heartbeatInterval = heartbeatInterval
        }
    }

    /// A view with every field given.
    public init(lastIndex: LogIndex, heartbeatInterval: Duration, electionTimeout: Duration, peers: [NodeID: Peer]) {
        self.lastIndex = lastIndex
        self.heartbeatInterval = heartbeatInterval
        self.electionTimeout = electionTimeout
        self.peers = peers
    }

    /// The leader's last log index.
    public var lastIndex: LogIndex
    /// The leader's heartbeat period.
    public var heartbeatInterval: Duration
    /// The base election timeout.
    public var electionTimeout: Duration
    /// Progress of every other voter and standby.
    public var peers: [NodeID: Peer]

    /// Peers within `maxLag` entries of the leader's log and heard from in the last `heartbeats` heartbeat
    /// periods (SPEC: 250 entries, 2 heartbeats): the standbys safe to promote. A peer that never
    /// acknowledged an entry (`match` 0, e.g. just added, or unreachable since this leader took over) is
    /// never caught up, however short the log.
    public func caughtUp(maxLag: LogIndex = 250, heartbeats: Int = 2) -> Set<NodeID> {
        Set(peers.filter { _, peer in
            peer.match > 0 && peer.match + maxLag >= lastIndex
                && peer.sinceContact <= (peer.heartbeatInterval ?? heartbeatInterval) * heartbeats
        }.keys)
    }

    /// Peers the leader has not heard from within an election timeout (or, for a peer heartbeated less
    /// often, two of its heartbeat periods if that is longer): heartbeat-silent.
    public func silent() -> Set<NodeID> {
        Set(peers.filter { _, peer in
            peer.sinceContact > max(electionTimeout, (peer.heartbeatInterval ?? heartbeatInterval) * 2)
        }.keys)
    }
}
