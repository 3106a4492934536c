import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Gossip
import Logging
import Mesh
import Raft
import RaftCore

/// One member of the Raft configuration as the leader sees it (`GET /v1/raft/peers`).
public struct RaftPeerInfo: Sendable, Hashable, Codable {
    /// The node's ID.
    public var name: String
    /// `voter` or `standby`.
    public var suffrage: String
    /// True for the leader.
    public var leader: Bool
    /// The highest log index the leader knows replicated on it (the leader's own last index for itself; 0
    /// for a replica the leader has not admitted yet).
    public var matchIndex: UInt64
    /// Milliseconds since the leader last heard from it (tick resolution); 0 for the leader itself.
    public var lastContactMs: UInt64
    /// Within 250 entries of the leader and heard from within two heartbeats: what the reconciler asks of
    /// a standby it promotes and of a voter it hands leadership to.
    public var caughtUp: Bool
    /// Its gossip state as the leader sees it: `alive`, `suspect`, `dead`, `left`, or `unknown`.
    public var gossip: String

    enum CodingKeys: String, CodingKey {
        case name, suffrage, leader, gossip
        case matchIndex = "match_index"
        case lastContactMs = "last_contact_ms"
        case caughtUp = "caught_up"
    }
}

/// The Raft configuration with each member's replication, always from the leader.
public struct RaftPeers: Sendable, Hashable, Codable {
    /// The leader that answered.
    public var leader: String
    /// Its term.
    public var term: UInt64
    /// Its commit index.
    public var commitIndex: UInt64
    /// Its last log index.
    public var lastLogIndex: UInt64
    /// Voters first, then standbys, each by name.
    public var peers: [RaftPeerInfo]

    enum CodingKeys: String, CodingKey {
        case leader, term, peers
        case commitIndex = "commit_index"
        case lastLogIndex = "last_log_index"
    }
}

/// What `DELETE /v1/raft/peers/{name}` did.
public struct RaftPeerRemoval: Sendable, Hashable, Codable {
    /// The node taken out of the configuration.
    public var removed: String
    /// What it was: `voter` or `standby`.
    public var suffrage: String
    /// The log index of the configuration entry.
    public var index: UInt64
    /// Its gossip state when it was removed (see ``RaftPeerInfo/gossip``).
    public var gossip: String
    /// What the voter reconciler does next.
    public var note: String
}

/// What `POST /v1/raft/transfer-leader` did.
public struct RaftLeaderTransfer: Sendable, Hashable, Codable {
    /// The leader before the transfer.
    public var previous: String
    /// The voter asked to take over (named, or chosen as the best caught up).
    public var target: String
    /// The leader once leadership moved: normally `target`; another voter only when an election raced it.
    public var leader: String
}

/// Why an operator request failed; each case maps to one `/v1` error code.
public enum RaftOperatorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The node named is not in the configuration (or not a voter where one is needed): `NOT_FOUND`.
    case notFound(String)
    /// The request cannot be carried out as asked (the last voter, the leader itself, a standby as leader,
    /// quorum at risk, a transfer refused): `CONFLICT`.
    case conflict(String)
    /// No leader to carry it out: `NO_LEADER`.
    case noLeader(String)
    /// Leadership did not move in time: `TIMEOUT`.
    case timeout(String)
    /// The request was malformed: `BAD_REQUEST`.
    case badRequest(String)

    public var description: String {
        switch self {
        case .notFound(let text), .conflict(let text), .noLeader(let text), .timeout(let text), .badRequest(let text): text
        }
    }

    /// The `/v1` error code.
    public var code: String {
        switch self {
        case .notFound: "NOT_FOUND"
        case .conflict: "CONFLICT"
        case .noLeader: "NO_LEADER"
        case .timeout: "TIMEOUT"
        case .badRequest: "BAD_REQUEST"
        }
    }

    var wireCode: UInt8 {
        switch self {
        case .notFound: 1
        case .conflict: 2
        case .noLeader: 3
        case .timeout: 4
        case .badRequest: 5
        }
    }

    init?(wireCode: UInt8, text: String) {
        switch wireCode {
        case 1: self = .notFound(text)
        case 2: self = .conflict(text)
        case 3: self = .noLeader(text)
        case 4: self = .timeout(text)
        case 5: self = .badRequest(text)
        default: return nil
        }
    }
}

/// The operator's Raft commands (`cohort raft peers`, `remove-peer`, `transfer-leader`, `operations`),
/// the way Consul's `operator raft` works: every command but `operations` is carried out by the leader,
/// and a node that is not the leader passes it on over the mesh (``MeshEndpoint/raftOperator``, at most
/// two hops: a client node to a Raft member, the member to its leader), so asking any node gives the
/// same answer. `operations` is the asked node's own record (``RaftOperationLog``).
public final class RaftOperator: Sendable {
    let selfID: NodeID
    let raft: RaftService
    let mesh: MeshService
    let gossip: GossipService
    let log: RaftOperationLog
    let routing: @Sendable () -> [NodeID]
    /// Keeps a node being removed out of the reconciler's plans while gossip still says it is alive.
    let holdOut: @Sendable (NodeID) -> Void
    let logger: Logger

    /// A configuration change waits at most this long for the reconciler's change in flight and its commit.
    static let changeTimeout = Duration.seconds(10)
    /// Hops a request may take to reach the leader.
    static let maxHops: UInt8 = 2
    /// The longest transfer wait a request may ask for.
    public static let maxTransferTimeout = Duration.seconds(60)

    init(
        selfID: NodeID, raft: RaftService, mesh: MeshService, gossip: GossipService, log: RaftOperationLog,
        routing: @escaping @Sendable () -> [NodeID], holdOut: @escaping @Sendable (NodeID) -> Void = { _ in }, logger: Logger
    ) {
        self.holdOut = holdOut
        self.selfID = selfID
        self.raft = raft
        self.mesh = mesh
        self.gossip = gossip
        self.log = log
        self.routing = routing
        self.logger = logger
    }

    /// The configuration and each member's replication, as the leader sees it.
    public func peers() async throws(RaftOperatorError) -> RaftPeers {
        try decode(RaftPeers.self, try await perform(.peers, hopsLeft: Self.maxHops))
    }

    /// Takes `name` out of the configuration (for a node gone for good). Refuses the last voter, the
    /// leader itself (hand leadership over first) and a removal that would leave fewer reachable voters
    /// than a quorum.
    public func removePeer(_ name: NodeID) async throws(RaftOperatorError) -> RaftPeerRemoval {
        try decode(RaftPeerRemoval.self, try await perform(.removePeer(name), hopsLeft: Self.maxHops))
    }

    /// Hands leadership to `target`, or to the most caught-up other voter when nil, and waits up to
    /// `timeout` until it moved.
    public func transferLeadership(to target: NodeID?, timeout: Duration) async throws(RaftOperatorError) -> RaftLeaderTransfer {
        let timeout = min(max(timeout, .milliseconds(100)), Self.maxTransferTimeout)
        return try decode(RaftLeaderTransfer.self, try await perform(.transfer(target, timeout: timeout), hopsLeft: Self.maxHops))
    }

    /// The operations this node carried out, oldest first.
    public var operations: [RaftOperationRecord] { log.records }

    /// How many operations ``operations`` keeps.
    public var operationCapacity: Int { log.capacity }

    // MARK: Routing

    enum Request: Hashable {
        case peers
        case removePeer(NodeID)
        case transfer(NodeID?, timeout: Duration)
    }

    /// Carries `request` out here when this node leads, else passes it on to the leader.
    private func perform(_ request: Request, hopsLeft: UInt8) async throws(RaftOperatorError) -> [UInt8] {
        let status = await raft.status
        if status.state == .leader { return try await lead(request, status: status) }
        let target: NodeID?
        if let leader = status.leader, leader != selfID {
            target = leader
        } else if status.role == .client {
            // A client node is outside the configuration and knows no leader: ask a Raft member.
            target = routing().first { $0 != selfID }
        } else {
            target = nil
        }
        guard let target else {
            throw .noLeader("no Raft leader is known (election in progress or no quorum); retry shortly")
        }
        guard hopsLeft > 0 else {
            throw .noLeader("the request did not reach the Raft leader within \(Self.maxHops) hops (leadership is moving); retry shortly")
        }
        // A node that knows a leader is one of its Raft peers and hears its heartbeats over the mesh (which
        // keeps a connection while it is used): none to the leader means it has likely failed, and a request
        // would only wait out its timeout for a reconnect.
        guard target != status.leader || mesh.isConnected(to: target) else {
            throw .noLeader("no connection to \(target), the Raft leader this node knows of (it may have failed; an election follows if so); retry shortly")
        }
        let payload = Self.encode(request, hopsLeft: hopsLeft - 1)
        let wait: Duration = if case .transfer(_, let timeout) = request { timeout + .seconds(5) } else { Self.changeTimeout + .seconds(5) }
        let reply: [UInt8]
        do {
            reply = try await mesh.request(payload, to: target, endpoint: .raftOperator, class: .raft, timeout: wait)
        } catch MeshError.noHandler {
            throw .noLeader("\(target) runs a Cohort version without the Raft operator commands; ask it directly or upgrade it")
        } catch {
            // Refused before the leader could act on it, or not: a change may then have been carried out.
            let unsent: Bool = switch error as? MeshError {
            case .unknownPeer?, .dropped?, .tooLarge?, .overloaded?, .invalidSettings?, .bindFailed?: true
            default: false
            }
            let maybeDone = unsent || request == .peers ? "" : "; it may have been carried out — check with cohort raft peers"
            throw .noLeader("could not reach the Raft leader \(target): \(error)\(maybeDone)")
        }
        return try Self.decodeReply(reply, from: target)
    }

    /// Answers a request another node passed on.
    func serve(_ payload: [UInt8]) async -> [UInt8] {
        guard let (request, hopsLeft) = Self.decodeRequest(payload) else {
            return Self.encodeReply(.failure(.badRequest("the Raft operator request did not decode (a peer of another version?)")))
        }
        do {
            return Self.encodeReply(.success(try await perform(request, hopsLeft: hopsLeft)))
        } catch {
            return Self.encodeReply(.failure(error))
        }
    }

    // MARK: On the leader

    private func lead(_ request: Request, status: RaftStatus) async throws(RaftOperatorError) -> [UInt8] {
        switch request {
        case .peers: return try await peersHere(status).wire
        case .removePeer(let name): return try await removeHere(name, status: status).wire
        case .transfer(let target, let timeout): return try await transferHere(to: target, timeout: timeout, status: status).wire
        }
    }

    private func peersHere(_ status: RaftStatus) async throws(RaftOperatorError) -> RaftPeers {
        guard let replication = await raft.replication else { throw .noLeader("this node stopped leading; retry shortly") }
        let caughtUp = replication.caughtUp(maxLag: RaftMembershipService.promotionLag)
        let states = await gossipStates()
        func info(_ id: NodeID, suffrage: String) -> RaftPeerInfo {
            let isLeader = id == selfID
            let progress = replication.peers[id]
            return RaftPeerInfo(
                name: id.rawValue, suffrage: suffrage, leader: isLeader,
                matchIndex: isLeader ? status.lastLogIndex : progress?.match ?? 0,
                lastContactMs: isLeader ? 0 : progress.map { Self.milliseconds($0.sinceContact) } ?? 0,
                caughtUp: isLeader || caughtUp.contains(id), gossip: states[id] ?? "unknown"
            )
        }
        return RaftPeers(
            leader: selfID.rawValue, term: status.term, commitIndex: status.commitIndex, lastLogIndex: status.lastLogIndex,
            peers: status.voters.sorted().map { info($0, suffrage: "voter") } + status.standbys.sorted().map { info($0, suffrage: "standby") }
        )
    }

    private func removeHere(_ name: NodeID, status: RaftStatus) async throws(RaftOperatorError) -> RaftPeerRemoval {
        let isVoter = status.voters.contains(name)
        guard isVoter || status.standbys.contains(name) else {
            throw .notFound("\(name) is not in the Raft configuration (voters: \(Self.list(status.voters)); standbys: \(Self.list(status.standbys)))")
        }
        if isVoter, status.voters.count == 1 {
            throw .conflict("\(name) is the last voter; removing it would leave a group that can never commit again")
        }
        if name == selfID {
            throw .conflict("\(name) is the Raft leader; hand leadership over first (cohort raft transfer-leader), then remove it")
        }
        if isVoter, let replication = await raft.replication {
            let remaining = status.voters.filter { $0 != name }
            let silent = replication.silent()
            let reachable = remaining.filter { $0 == selfID || !silent.contains($0) }
            let quorum = remaining.count / 2 + 1
            if reachable.count < quorum {
                throw .conflict(
                    "removing \(name) would leave \(reachable.count) of \(remaining.count) voters reachable, fewer than a quorum of \(quorum); bring a voter back first"
                )
            }
        }
        let state = await gossipStates()[name] ?? "unknown"
        let alive = state == "alive" || state == "suspect"
        // Before the change, so the reconciler's pass that the change triggers already leaves it out.
        if alive { holdOut(name) }
        let index = try await change(.remove(name), op: "remove", node: name, reason: "operator: remove-peer (gossip state \(state))")
        logger.notice("raft peer removed by the operator", metadata: ["peer": "\(name)", "raft.index": "\(index)"])
        let note = alive
            ? "\(name) is still \(state) in gossip: the voter reconciler keeps it out until gossip declares it dead or for \(RaftMembershipService.removalHold.components.seconds)s; a server still alive then is added back (as a standby, promoted if a voter slot needs it) — stop cohortd on \(name) for good to keep it out"
            : "\(name) is \(state) in gossip, so the voter reconciler will not add it back unless it returns; it re-plans now and may promote a standby or demote a voter to keep an odd number of voters"
        return RaftPeerRemoval(removed: name.rawValue, suffrage: isVoter ? "voter" : "standby", index: index, gossip: state, note: note)
    }

    /// Proposes `change`, waiting out a change already in flight (the reconciler's) for up to
    /// ``changeTimeout``; records the attempt.
    private func change(_ change: ConfigurationChange, op: String, node: NodeID, reason: String) async throws(RaftOperatorError) -> UInt64 {
        let deadline = ContinuousClock.now + Self.changeTimeout
        let term = await raft.status.term
        while true {
            do {
                let index = try await raft.changeConfiguration(change, timeout: max(deadline - ContinuousClock.now, .milliseconds(100)))
                log.record(op: op, node: node, source: "operator", reason: reason, term: term)
                return index
            } catch {
                let retry: Bool = switch error {
                case .proposalRefused(.configurationChangePending), .proposalRefused(.leaderNotReady), .transferInProgress: true
                default: false
                }
                if retry, ContinuousClock.now + .milliseconds(100) < deadline {
                    try? await Task.sleep(for: .milliseconds(100))
                    continue
                }
                log.record(op: op, node: node, source: "operator", reason: reason, term: term, error: "\(error)")
                throw Self.map(error)
            }
        }
    }

    private func transferHere(to named: NodeID?, timeout: Duration, status: RaftStatus) async throws(RaftOperatorError) -> RaftLeaderTransfer {
        guard let replication = await raft.replication else { throw .noLeader("this node stopped leading; retry shortly") }
        let caughtUp = replication.caughtUp(maxLag: RaftMembershipService.promotionLag)
        let target: NodeID
        let reason: String
        if let named {
            if named == selfID { throw .conflict("\(named) is already the Raft leader") }
            if status.standbys.contains(named) {
                throw .conflict("\(named) is a standby; only a voter can lead (voters: \(Self.list(status.voters)))")
            }
            guard status.voters.contains(named) else {
                throw .notFound("\(named) is not a voter of the Raft configuration (voters: \(Self.list(status.voters)))")
            }
            if replication.silent().contains(named) {
                throw .conflict("\(named) has not answered the leader for more than an election timeout; it cannot take over")
            }
            target = named
            reason = "operator: transfer-leader to \(named)"
        } else {
            // The most caught-up other voter, ties by node ID.
            let candidates = status.voters.filter { $0 != selfID && caughtUp.contains($0) }
            guard let best = candidates.max(by: { a, b in
                let (ma, mb) = (replication.peers[a]?.match ?? 0, replication.peers[b]?.match ?? 0)
                return ma != mb ? ma < mb : a > b
            }) else {
                throw .conflict("no other voter is caught up to take over (voters: \(Self.list(status.voters)))")
            }
            target = best
            reason = "operator: transfer-leader to the most caught-up voter"
        }
        let updates = await raft.statusUpdates()
        do {
            try await raft.transferLeadership(to: target)
        } catch {
            log.record(op: "transfer_leadership", node: target, source: "operator", reason: reason, term: status.term, error: "\(error)")
            throw Self.map(error)
        }
        logger.notice("raft leadership transfer requested by the operator", metadata: ["target": "\(target)"])
        let me = selfID
        let deadline = ContinuousClock.now + timeout
        let moved: NodeID? = await withTaskGroup(of: NodeID?.self) { group in
            group.addTask {
                for await update in updates where update.state != .leader {
                    if let leader = update.leader, leader != me { return leader }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let moved else {
            let error = "leadership did not move to \(target) within \(timeout); \(selfID) keeps it (a transfer is abandoned after an election timeout) — retry"
            log.record(op: "transfer_leadership", node: target, source: "operator", reason: reason, term: status.term, error: error)
            throw .timeout(error)
        }
        log.record(op: "transfer_leadership", node: target, source: "operator", reason: reason, term: status.term)
        return RaftLeaderTransfer(previous: selfID.rawValue, target: target.rawValue, leader: moved.rawValue)
    }

    // MARK: Helpers

    private func gossipStates() async -> [NodeID: String] {
        var states: [NodeID: String] = [:]
        for member in await gossip.members {
            states[member.name] = switch member.state {
            case .alive: "alive"
            case .suspect: "suspect"
            case .dead: "dead"
            case .left: "left"
            }
        }
        return states
    }

    static func map(_ error: RaftServiceError) -> RaftOperatorError {
        switch error {
        case .notLeader, .noLeader, .leadershipLost, .stopped, .transferInProgress:
            .noLeader("\(error)")
        case .timeout, .outcomeUnknown:
            .timeout("\(error)")
        case .proposalRefused(.invalidChange(let change)):
            .notFound("\(change)")
        default:
            .conflict("\(error)")
        }
    }

    static func list(_ nodes: [NodeID]) -> String {
        nodes.isEmpty ? "none" : nodes.sorted().map(\.rawValue).joined(separator: ", ")
    }

    static func milliseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds)) * 1000 + UInt64(max(0, attoseconds) / 1_000_000_000_000_000)
    }

    private func decode<T: OperatorAnswer>(_ type: T.Type, _ bytes: [UInt8]) throws(RaftOperatorError) -> T {
        guard let value = T(wire: bytes) else {
            throw .noLeader("the Raft leader's answer did not decode (a node of another version?)")
        }
        return value
    }
}
