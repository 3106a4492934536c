import Cohort
import Foundation
import Hummingbird
import Raft

/// `/v1/raft`: the Raft status (`{"state", "term", "leader", "commit_index", "applied_index",
/// "last_log_index", "role", "voters", "standbys"}`). The stores, locks and names on top of Raft are in
/// ``CoordinationRoutes``.
enum RaftRoutes {
    static func add(to v1: RouterGroup<BasicRequestContext>, node: CohortNode) {
        v1.get("raft") { _, _ in
            guard let raft = node.raft else { throw APIError.clusterDisabled }
            return try AdminServer.jsonResponse(RaftView(await raft.status))
        }
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
