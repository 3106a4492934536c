import CohortCore

/// What a node is doing in the current term.
public enum RaftNodeState: Hashable, Sendable, CustomStringConvertible {
    /// Following a leader (or waiting for one).
    case follower
    /// Asking whether it could win an election, without changing its term.
    case preCandidate
    /// Campaigning in its term.
    case candidate
    /// Leading its term.
    case leader

    public var description: String {
        switch self {
        case .follower: "follower"
        case .preCandidate: "preCandidate"
        case .candidate: "candidate"
        case .leader: "leader"
        }
    }
}

/// The Raft core of one node: a value with no I/O, no clock and no randomness of its own.
///
/// Drive it with ``tick()``, ``step(_:)``, ``propose(_:)``, ``proposeConfigurationChange(_:)``,
/// ``readIndex(context:)`` and ``transferLeadership(to:)``; collect effects with ``ready()`` whenever
/// ``hasReady`` is true, carry them out (see ``Ready``), then call ``advance()``. Call ``ready()`` again
/// only after ``advance()``; stepping in between is fine.
public struct RaftNode: Sendable {
    /// This node.
    public let id: NodeID
    /// The tuning.
    public let settings: RaftNodeSettings
    /// What the node is doing.
    public internal(set) var state: RaftNodeState = .follower
    /// The current term.
    public internal(set) var term: Term
    /// Whom the node voted for in ``term``.
    public internal(set) var vote: NodeID?
    /// The leader of ``term`` when known.
    public internal(set) var leader: NodeID?
    /// The log.
    public internal(set) var log: RaftLog
    /// The leadership transfer in progress (leader only).
    public internal(set) var transferee: NodeID?
    /// True while this node is a **blank replica**: it started from empty storage — a new server, or one
    /// whose data directory was lost and that came back under the same name — and no leader has admitted
    /// it yet. A blank replica may have forgotten votes it cast and entries it acknowledged in an earlier
    /// life, so it never grants a vote, never campaigns, and marks its answers so that a leader counts it
    /// towards no commit, lease or read until it has caught up and been admitted (``MessageKind/admit(through:)``).
    /// Durable, as part of the hard state.
    public internal(set) var isBlank: Bool
    /// True once a peer with a log at least as up to date told this node that its configuration no longer
    /// lists it (``MessageKind/outsideConfiguration(lastLog:)``): it was removed while cut off and never
    /// received the entry. It no longer campaigns and acts as a node outside the configuration, until a
    /// leader contacts it again (leaders only contact members).
    public internal(set) var isKnownRemoved = false

    /// Leader only: replication state of every member (including the leader itself).
    var progressByPeer: [NodeID: PeerProgress] = [:]
    /// Leader only: the index of the first entry of its term (its no-op).
    var termStartIndex: LogIndex = 0
    /// Candidate and pre-candidate: answers received, by voter.
    var votes: [NodeID: Bool] = [:]
    var electionElapsed = 0
    var heartbeatElapsed = 0
    /// Heartbeat rounds since standbys were last included.
    var standbyRoundsElapsed = 0
    var randomizedElectionTimeout: Int
    var jitter: ElectionJitter

    /// Leader only: admissions of blank replicas waiting for a quorum to confirm a heartbeat round.
    var admissions: [NodeID: PendingAdmission] = [:]

    /// ReadIndex state (leader only, except `readSequence` which only grows).
    var readSequence: UInt64 = 0
    var readAcks: [NodeID: UInt64] = [:]
    var pendingReads: [PendingRead] = []
    var readsAwaitingCommit: [PendingRead] = []
    /// Follower only: reads forwarded and not answered yet, with the leader each went to.
    var forwardedReads: [ReadContext: NodeID] = [:]

    /// Effects gathered for the next ``Ready``.
    var outbox: [OutgoingMessage] = []
    var readStates: [ReadState] = []
    var droppedReads: [ReadContext] = []
    /// The hard state last handed out (and, after ``advance()``, durable).
    var lastHandedOutHardState: HardState
    /// The soft state last handed out.
    var lastHandedOutSoftState = SoftState(leader: nil, state: .follower)
    /// The hard state known to be durable.
    var persistedHardState: HardState
    /// What the ``Ready`` handed out and not yet acknowledged covered.
    var inFlight: InFlightReady?

    struct PendingRead: Sendable {
        var context: ReadContext
        var requester: NodeID
        var index: LogIndex
        var sequence: UInt64
    }

    struct PendingAdmission: Sendable {
        /// The blank replica holds the log through here (the leader's last entry when the round started).
        var position: LogPosition
        /// The heartbeat round that must be confirmed by a quorum.
        var sequence: UInt64
    }

    struct InFlightReady: Sendable {
        var hardState: HardState?
        /// The positions of the entries handed out, in order.
        var entries: [LogPosition]
        var snapshot: SnapshotMetadata?
        var appliedThrough: LogIndex?
    }

    /// A core for node `id`, restored from what the shell persisted. It starts as a follower with no known
    /// leader.
    public init(id: NodeID, settings: RaftNodeSettings = RaftNodeSettings(), storage: LogStorage = .empty) {
        self.id = id
        self.settings = settings
        self.term = storage.hardState.term
        self.vote = storage.hardState.vote
        self.log = RaftLog(
            snapshot: storage.snapshot, entries: storage.entries,
            committed: storage.hardState.commit, applied: storage.applied
        )
        // A durable term of 0 means the node never took part in a group: pristine storage, or a first write
        // after a wipe whose hard state a crash tore off (entries and hard state are written together).
        self.isBlank = storage.hardState.blank || storage.hardState.term == 0
        self.jitter = ElectionJitter(seed: settings.randomSeed)
        self.randomizedElectionTimeout = settings.electionTicks
        // Term 0 reads as blank on every start, so the mark need not be written until the term moves.
        let hardState = HardState(term: storage.hardState.term, vote: storage.hardState.vote, commit: log.committed, blank: isBlank)
        self.lastHandedOutHardState = hardState
        self.persistedHardState = hardState
        resetRandomizedElectionTimeout()
    }

    // MARK: Queries

    /// The configuration in force (the latest in the log, committed or not).
    public var configuration: Configuration { log.configuration }
    /// The voters of the configuration in force.
    public var voters: [NodeID] { configuration.voters }
    /// The standbys of the configuration in force.
    public var standbys: [NodeID] { configuration.standbys }
    /// The highest committed index.
    public var commitIndex: LogIndex { log.committed }
    /// The highest index the state machine applied.
    public var appliedIndex: LogIndex { log.applied }
    /// The index of the last log entry.
    public var lastIndex: LogIndex { log.lastIndex }
    /// The current hard state.
    public var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed, blank: isBlank) }
    /// Who leads and what this node is doing now.
    public var softState: SoftState { SoftState(leader: leader, state: state) }
    /// Leader only: what it knows of each member, by node (empty on other roles).
    public var progress: [NodeID: PeerProgress] { state == .leader ? progressByPeer : [:] }
    /// True when the latest configuration entry is not committed yet (the next change must wait).
    public var hasPendingConfigurationChange: Bool { log.configurationIndex > log.committed }
    /// True when this node may campaign: a voter of its configuration, not blank, not installing a snapshot.
    public var isPromotable: Bool { !isBlank && !isKnownRemoved && configuration.isVoter(id) && log.unstableSnapshot == nil }
    /// This node's state in the configuration, as far as it knows: nil when it is outside it (never added,
    /// or told it was removed).
    public var memberRole: MemberRole? { isKnownRemoved ? nil : configuration.role(of: id) }

    /// A follower or candidate that may campaign: how many more ticks until one of them starts an election
    /// (the last of them does, unless a message resets the count first). Nil on a leader and on a node
    /// that never campaigns — its ticks only count the time since it heard a leader — so a shell may
    /// stop ticking it between messages, as long as it gives it the missed ticks before the next step.
    public var ticksUntilCampaign: Int? {
        guard state != .leader, isPromotable else { return nil }
        return max(0, randomizedElectionTimeout - electionElapsed)
    }

    // MARK: Time

    /// One logical tick: followers and candidates count towards an election; a leader heartbeats, checks
    /// its quorum and times out a leadership transfer.
    public mutating func tick() {
        if state == .leader {
            tickLeader()
        } else {
            electionElapsed += 1
            if isPromotable, electionElapsed >= randomizedElectionTimeout {
                campaign(transfer: false)
            }
        }
    }

    private mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        for peer in configuration.members where peer != id {
            progressByPeer[peer]?.ticksSinceContact += 1
            if case .snapshot = progressByPeer[peer]?.state {
                progressByPeer[peer]?.snapshotTicks += 1
                if let ticks = progressByPeer[peer]?.snapshotTicks, ticks >= settings.snapshotTimeoutTicks {
                    progressByPeer[peer]?.becomeProbe()
                }
            }
        }
        if electionElapsed >= settings.electionTicks {
            electionElapsed = 0
            if settings.checkQuorum, !quorumRecentlyActive() {
                becomeFollower(term: term, leader: nil)
                return
            }
            if transferee != nil {
                transferee = nil
                // A leader that left the voters hands over at most once per election timeout, then leaves.
                if !configuration.isVoter(id), !hasPendingConfigurationChange {
                    becomeFollower(term: term, leader: nil)
                    return
                }
            }
        }
        if heartbeatElapsed >= settings.heartbeatTicks {
            heartbeatElapsed = 0
            standbyRoundsElapsed += 1
            let standbysToo = standbyRoundsElapsed >= settings.standbyHeartbeatRounds
            if standbysToo { standbyRoundsElapsed = 0 }
            broadcastHeartbeat(toStandbys: standbysToo)
        }
        handOverIfNoLongerVoter()
    }

    /// True when a majority of voters (counting the leader itself when it votes) were heard from since the
    /// last check; resets the marks for the next round.
    private mutating func quorumRecentlyActive() -> Bool {
        var active = 0
        for voter in configuration.voters {
            if voter == id || progressByPeer[voter]?.recentActive == true { active += 1 }
        }
        for peer in configuration.members where peer != id { progressByPeer[peer]?.recentActive = false }
        return active >= configuration.quorum
    }

    // MARK: Roles

    mutating func resetRandomizedElectionTimeout() {
        randomizedElectionTimeout = settings.electionTicks + jitter.next(below: settings.electionTicks)
    }

    /// Clears everything that belongs to one term and state.
    private mutating func reset(term newTerm: Term) {
        if newTerm != term {
            term = newTerm
            vote = nil
        }
        leader = nil
        electionElapsed = 0
        heartbeatElapsed = 0
        standbyRoundsElapsed = 0
        resetRandomizedElectionTimeout()
        transferee = nil
        votes = [:]
        progressByPeer = [:]
        readAcks = [:]
        admissions = [:]
        for read in pendingReads + readsAwaitingCommit where read.requester == id {
            droppedReads.append(read.context)
        }
        pendingReads = []
        readsAwaitingCommit = []
        // A forwarded read is answered only by the leader it went to, and only while this node follows it.
        droppedReads += forwardedReads.keys.sorted()
        forwardedReads = [:]
    }

    mutating func becomeFollower(term newTerm: Term, leader newLeader: NodeID?) {
        reset(term: newTerm)
        state = .follower
        leader = newLeader
    }

    mutating func becomePreCandidate() {
        // Neither the term nor the vote changes: a pre-vote must not disturb anyone.
        let keep = (term, vote)
        reset(term: term)
        (term, vote) = keep
        state = .preCandidate
    }

    mutating func becomeCandidate() {
        reset(term: term + 1)
        vote = id
        state = .candidate
    }

    mutating func becomeLeader() {
        reset(term: term)
        state = .leader
        leader = id
        for member in configuration.members {
            progressByPeer[member] = PeerProgress(match: 0, next: log.lastIndex + 1)
        }
        progressByPeer[id] = PeerProgress(match: log.stableIndex, next: log.lastIndex + 1)
        progressByPeer[id]?.becomeReplicate()
        termStartIndex = log.lastIndex + 1
        appendAsLeader([.noop])
        broadcastAppend()
    }

    /// Queues a message; it must wait for persistence when it vouches for durable state or when this
    /// node's term, vote or blank mark is not durable yet. A blank replica marks its answers to a leader
    /// (a heartbeat's answer becomes ``AppendResponse/blankNotice``), so the leader counts them nowhere.
    mutating func send(_ kind: MessageKind, to peer: NodeID, term messageTerm: Term? = nil) {
        var kind = kind
        if isBlank {
            switch kind {
            case .appendResponse(var response):
                response.blank = true
                kind = .appendResponse(response)
            case .heartbeatResponse:
                kind = .appendResponse(.blankNotice)
            default:
                break
            }
        }
        let vouches: Bool
        switch kind {
        case .vote, .voteResponse, .appendResponse: vouches = true
        default: vouches = false
        }
        let unpersistedTerm = persistedHardState.term != term || persistedHardState.vote != vote || persistedHardState.blank != isBlank
        outbox.append(OutgoingMessage(
            message: Message(from: id, to: peer, term: messageTerm ?? term, kind: kind),
            afterPersist: vouches || unpersistedTerm
        ))
    }
}
