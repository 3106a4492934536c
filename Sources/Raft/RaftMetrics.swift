import RaftCore
import Observability
import Prometheus

/// The Raft shell's Prometheus metrics, built once with HELP texts; every labelled counter exists at zero.
final class RaftMetrics: Sendable {
    /// Why an incoming or outgoing Raft message was dropped: the `reason` label.
    enum DropReason: String, CaseIterable {
        /// The bytes did not decode.
        case malformed
        /// The message names another sender than the connection's peer, or another destination.
        case misaddressed
        /// The inbox was full.
        case inboxFull = "inbox_full"
        /// The mesh refused to queue it.
        case sendFailed = "send_failed"
    }

    static let kinds = [
        "pre_vote", "pre_vote_response", "vote", "vote_response", "append", "append_response", "heartbeat",
        "heartbeat_response", "snapshot", "timeout_now", "read_index", "read_index_response", "admit", "outside_configuration", "forward",
    ]

    private let state: Gauge
    private let rpcIn: [String: Counter]
    private let rpcOut: [String: Counter]
    private let dropped: [DropReason: Counter]
    let term: Gauge
    let commitIndex: Gauge
    let appliedIndex: Gauge
    let lastLogIndex: Gauge
    let logMemoryBytes: Gauge
    let voters: Gauge
    let nonVoters: Gauge
    let leaderChanges: Counter
    let snapshotsTaken: Counter
    let snapshotsInstalled: Counter
    /// Outgoing snapshot transfers by outcome: the `result` label.
    enum TransferResult: String, CaseIterable {
        case delivered, failed
    }
    private let transfers: [TransferResult: Counter]
    let snapshotTransfersResumed: Counter
    let snapshotBytesSent: Counter
    let fsync: DurationHistogram
    private let roundTrips: [RPCTimer.Kind: DurationHistogram]
    let forwardDuration: DurationHistogram

    init(registry: PrometheusCollectorRegistry) {
        state = registry.gauge(
            "raft_state", help: "The Raft state: 0 = follower, 1 = candidate, 2 = leader; -1 while Raft is not running."
        )
        func perKind(_ direction: String) -> [String: Counter] {
            Dictionary(uniqueKeysWithValues: Self.kinds.map { kind in
                (kind, registry.counter(
                    "raft_rpc_total", labels: [("type", kind), ("direction", direction)],
                    help: "Raft messages sent and received, by type (core message kinds, and forward for forwarded proposals) and direction."
                ))
            })
        }
        rpcIn = perKind("in")
        rpcOut = perKind("out")
        dropped = Dictionary(uniqueKeysWithValues: DropReason.allCases.map { reason in
            (reason, registry.counter(
                "raft_dropped_messages_total", labels: [("reason", reason.rawValue)],
                help: "Raft messages dropped, by reason (malformed, misaddressed, inbox_full, send_failed)."
            ))
        })
        term = registry.gauge("raft_term", help: "The current Raft term.")
        commitIndex = registry.gauge("raft_commit_index", help: "The highest Raft log index known committed.")
        appliedIndex = registry.gauge("raft_applied_index", help: "The highest Raft log index applied to the state machine.")
        lastLogIndex = registry.gauge("raft_last_log_index", help: "The index of the last Raft log entry.")
        logMemoryBytes = registry.gauge(
            "raft_log_memory_bytes", help: "Bytes of Raft log entries held in memory (the rest are read back from the log files when needed)."
        )
        voters = registry.gauge("raft_voters", help: "Voters in the Raft configuration in force.")
        nonVoters = registry.gauge("raft_non_voters", help: "Standbys (non-voters) in the Raft configuration in force.")
        leaderChanges = registry.counter("raft_leader_changes_total", help: "Times this node saw a new Raft leader.")
        snapshotsTaken = registry.counter("raft_snapshots_taken_total", help: "Snapshots of the state machine taken to compact the log.")
        snapshotsInstalled = registry.counter(
            "raft_snapshots_installed_total", help: "Snapshots received from a leader and installed."
        )
        transfers = Dictionary(uniqueKeysWithValues: TransferResult.allCases.map { result in
            (result, registry.counter(
                "raft_snapshot_transfers_total", labels: [("result", result.rawValue)],
                help: "Snapshots streamed to followers, by result (delivered: the follower has it whole and checked; failed: interrupted, resumed by the next attempt)."
            ))
        })
        snapshotTransfersResumed = registry.counter(
            "raft_snapshot_transfers_resumed_total",
            help: "Snapshot transfers that continued where an interrupted one had left the follower, instead of from the start."
        )
        snapshotBytesSent = registry.counter(
            "raft_snapshot_sent_bytes_total", help: "Snapshot data bytes sent to followers in chunks."
        )
        let diskBuckets: [Duration] = [
            .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1),
        ]
        fsync = registry.durationHistogram(
            "raft_fsync_seconds", buckets: diskBuckets,
            help: "Time to persist one Raft ready (entries, hard state, snapshot) on the thread pool, including fsync; a commit index written on the event loop (no fsync) is not counted."
        )
        roundTrips = Dictionary(uniqueKeysWithValues: RPCTimer.Kind.allCases.map { kind in
            (kind, registry.durationHistogram(
                "raft_rpc_duration_seconds", labels: [("type", kind.rawValue)],
                buckets: [
                    .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                    .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                    .milliseconds(250), .seconds(1),
                ],
                help: "Round trip of a Raft request to a peer until its answer, by type (append, heartbeat, pre_vote, vote, read_index); forwarded proposals are raft_forward_seconds."
            ))
        })
        forwardDuration = registry.durationHistogram(
            "raft_forward_seconds",
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5)],
            help: "Time from forwarding a proposal to the leader until its answer."
        )
    }

    func setState(_ state: RaftStatus.State) {
        self.state.set(Self.value(of: state))
    }

    /// The guide's encoding of `raft_state`.
    static func value(of state: RaftStatus.State) -> Int64 {
        switch state {
        case .follower: 0
        case .candidate: 1
        case .leader: 2
        case .none: -1
        }
    }

    func countTransfer(_ result: TransferResult) { transfers[result]?.increment() }
    func countIn(_ kind: MessageKind) { rpcIn[Self.label(kind)]?.increment() }
    func countOut(_ kind: MessageKind) { rpcOut[Self.label(kind)]?.increment() }
    func countDropped(_ reason: DropReason) { dropped[reason]?.increment() }
    func recordRoundTrip(_ kind: RPCTimer.Kind, _ duration: Duration) { roundTrips[kind]?.record(duration) }
    /// A proposal forwarded to the leader (`out`) or received from a follower (`in`).
    func countForward(in inbound: Bool) { (inbound ? rpcIn : rpcOut)["forward"]?.increment() }

    static func label(_ kind: MessageKind) -> String {
        switch kind {
        case .preVote: "pre_vote"
        case .preVoteResponse: "pre_vote_response"
        case .vote: "vote"
        case .voteResponse: "vote_response"
        case .append: "append"
        case .appendResponse: "append_response"
        case .heartbeat: "heartbeat"
        case .heartbeatResponse: "heartbeat_response"
        case .snapshot: "snapshot"
        case .timeoutNow: "timeout_now"
        case .readIndex: "read_index"
        case .readIndexResponse: "read_index_response"
        case .admit: "admit"
        case .outsideConfiguration: "outside_configuration"
        }
    }
}
