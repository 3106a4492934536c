import Cohort
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import Raft

/// `/v1/raft`: the Raft status (`{"state", "term", "leader", "commit_index", "applied_index",
/// "last_log_index", "role", "voters", "standbys"}`), and the operator's commands (``RaftOperator``):
///
/// - `GET /v1/raft/peers` → the leader's view of the configuration (``RaftPeers``), from any node;
/// - `DELETE /v1/raft/peers/{name}` → ``RaftPeerRemoval``; 404 `NOT_FOUND` (not a member), 409 `CONFLICT`
///   (the last voter, the leader itself, quorum at risk), 503 `NO_LEADER`;
/// - `POST /v1/raft/transfer-leader` `{"to": name?, "timeout": "10s"?}` → ``RaftLeaderTransfer`` once
///   leadership moved; 404 (not a voter), 409 (a standby, already the leader, nobody caught up), 503, 504
///   `TIMEOUT`;
/// - `GET /v1/raft/operations` → `{"node", "capacity", "operations": [...]}`, this node's own record.
///
/// The stores, locks and names on top of Raft are in ``CoordinationRoutes``.
enum RaftRoutes {
    static func add(to v1: RouterGroup<BasicRequestContext>, node: CohortNode) {
        v1.get("raft") { _, _ in
            guard let raft = node.raft else { throw APIError.clusterDisabled }
            return try AdminServer.jsonResponse(RaftView(await raft.status))
        }
        v1.get("raft/peers") { _, _ in
            let raftOperator = try operatorOf(node)
            return try AdminServer.jsonResponse(try await operate { () async throws(RaftOperatorError) in try await raftOperator.peers() })
        }
        v1.delete("raft/peers/:name") { _, context in
            let raftOperator = try operatorOf(node)
            let name = try nodeName(try GroupRoutes.segment(context, "name"), field: "name")
            return try AdminServer.jsonResponse(try await operate { () async throws(RaftOperatorError) in try await raftOperator.removePeer(name) })
        }
        v1.post("raft/transfer-leader") { request, _ in
            let raftOperator = try operatorOf(node)
            let body = try await decodeOptional(TransferRequest.self, from: request) ?? TransferRequest()
            let target = try body.to.map { try nodeName($0, field: "to") }
            var timeout = Duration.seconds(10)
            if let text = body.timeout {
                guard let parsed = parseDuration(text), parsed > .zero, parsed <= RaftOperator.maxTransferTimeout else {
                    throw APIError.badRequest("timeout: \"\(text)\" is not a duration up to 60s")
                }
                timeout = parsed
            }
            return try AdminServer.jsonResponse(try await operate { () async throws(RaftOperatorError) in
                try await raftOperator.transferLeadership(to: target, timeout: timeout)
            })
        }
        v1.get("raft/operations") { _, _ in
            let raftOperator = try operatorOf(node)
            return try AdminServer.jsonResponse(
                OperationsView(node: node.id.rawValue, capacity: raftOperator.operationCapacity, operations: raftOperator.operations)
            )
        }
    }

    private static func operatorOf(_ node: CohortNode) throws -> RaftOperator {
        guard let raftOperator = node.raftOperator else { throw APIError.clusterDisabled }
        return raftOperator
    }

    /// A node name from the request: 1 to 255 bytes of UTF-8 without control characters.
    private static func nodeName(_ text: String, field: String) throws -> NodeID {
        guard !text.isEmpty, text.utf8.count <= 255, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw APIError.badRequest("\(field): a node name is 1 to 255 bytes without control characters")
        }
        return NodeID(text)
    }

    private static func operate<T>(_ body: () async throws(RaftOperatorError) -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw APIError(error)
        }
    }

    /// `POST /v1/raft/transfer-leader`'s body.
    struct TransferRequest: Decodable {
        var to: String?
        var timeout: String?
    }

    /// `GET /v1/raft/operations`.
    struct OperationsView: Encodable {
        var node: String
        var capacity: Int
        var operations: [RaftOperationRecord]
    }
}

extension APIError {
    /// The one HTTP answer for every operator command failure.
    init(_ error: RaftOperatorError) {
        let status: HTTPResponse.Status = switch error {
        case .notFound: .notFound
        case .conflict: .conflict
        case .noLeader: .serviceUnavailable
        case .timeout: .gatewayTimeout
        case .badRequest: .badRequest
        }
        self.init(status: status, message: "\(error)", code: error.code)
    }
}

/// `GET /v1/raft`.
struct RaftView: Encodable {
    var state: String
    var term: UInt64
    var leader: String?
    var commitIndex: UInt64
    var appliedIndex: UInt64
    var lastLogIndex: UInt64
    var role: String
    var voters: [String]
    var standbys: [String]

    init(_ status: RaftStatus) {
        state = status.state.rawValue
        term = status.term
        leader = status.leader?.rawValue
        commitIndex = status.commitIndex
        appliedIndex = status.appliedIndex
        lastLogIndex = status.lastLogIndex
        role = status.role.rawValue
        voters = status.voters.map(\.rawValue)
        standbys = status.standbys.map(\.rawValue)
    }

    enum CodingKeys: String, CodingKey {
        case state, term, leader, role, voters, standbys
        case commitIndex = "commit_index"
        case appliedIndex = "applied_index"
        case lastLogIndex = "last_log_index"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(state, forKey: .state)
        try container.encode(term, forKey: .term)
        // Always present: null while no leader is known.
        try container.encode(leader, forKey: .leader)
        try container.encode(commitIndex, forKey: .commitIndex)
        try container.encode(appliedIndex, forKey: .appliedIndex)
        try container.encode(lastLogIndex, forKey: .lastLogIndex)
        try container.encode(role, forKey: .role)
        try container.encode(voters, forKey: .voters)
        try container.encode(standbys, forKey: .standbys)
    }
}

/// One key's entry: the value as text when it is UTF-8, else base64 in `value_b64`; its version, and
/// its expiry (ms since the Unix epoch) when it has a TTL.
struct KVEntryView: Encodable, Sendable {
    var key: String
    var value: String?
    var valueBase64: String?
    var version: UInt64
    var created: UInt64
    var expiresAt: UInt64?

    init(key: String, value stored: StoredValue) {
        self.key = key
        version = stored.version
        created = stored.created
        expiresAt = stored.expiresAt
        (value, valueBase64) = KVEntryView.text(stored.value)
    }

    /// Text when the bytes are UTF-8, else base64.
    static func text(_ bytes: [UInt8]) -> (String?, String?) {
        if let text = String(validating: bytes, as: UTF8.self) { return (text, nil) }
        return (nil, Data(bytes).base64EncodedString())
    }

    enum CodingKeys: String, CodingKey {
        case key, value, version, created
        case valueBase64 = "value_b64"
        case expiresAt = "expires_at"
    }
}
