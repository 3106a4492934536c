import Cohort
import Foundation
import Hummingbird
import Raft

/// `/v1/raft` and `/v1/kv`: the Raft status and the replicated key/value store on top of it.
///
/// - `GET /v1/raft` → `{"state", "term", "leader", "commit_index", "applied_index", "last_log_index",
///   "role", "voters", "standbys"}`
/// - `GET /v1/kv/{key}` → `{"key", "value", "version"}` (404 when absent). Linearizable (ReadIndex) by
///   default; `?consistency=stale` reads this node's replica as applied. A node outside the configuration
///   (a client) holds no replica: its reads go through the log via a Raft member.
/// - `GET /v1/kv?prefix=&after=&limit=` → `[{"key", "value", "version"}]`, in key order.
/// - `PUT /v1/kv/{key}` `{"value": "text"}` with `?if_absent=true` or `?if_version=N` → `{"version"}`;
///   409 with the current entry when the condition fails. Written through Raft from any node: a follower
///   forwards to the leader, a client node to a ranked Raft member.
/// - `DELETE /v1/kv/{key}` (optional `?if_version=N`) → 204; 404 when absent.
///
/// Keys are UTF-8, at most 1024 bytes; keys starting with `_` are reserved for the system.
/// Unavailability answers 503 (no leader, election, stopping) or 504 (no quorum within the timeout, with
/// whether the write may still commit).
enum RaftRoutes {
    static let defaultTimeout = Duration.seconds(5)

    static func add(to v1: RouterGroup<BasicRequestContext>, node: CohortNode) {
        v1.get("raft") { _, _ in
            let raft = try raftService(node)
            return try AdminServer.jsonResponse(RaftView(await raft.status))
        }
        v1.get("kv") { request, _ in
            guard try await raftService(node).status.role != .client else {
                throw APIError.conflict("this node holds no Raft replica (it is not a voter or standby): list keys on a Raft member; single keys can be read here")
            }
            try await read(request, node)
            let parameters = request.uri.queryParameters
            let limit = try parameters.get("limit").map { text -> Int in
                guard let limit = Int(text), limit > 0, limit <= 10000 else { throw APIError.badRequest("limit: must be 1...10000") }
                return limit
            } ?? 1000
            let entries = node.store.list(
                prefix: parameters.get("prefix").map { String($0) } ?? "", after: parameters.get("after").map { String($0) }, limit: limit
            )
            return try AdminServer.jsonResponse(entries.filter { !$0.key.hasPrefix("_") }.map { KVEntryView(key: $0.key, entry: $0.entry) })
        }
        v1.get("kv/**") { request, context in
            let key = try key(context)
            let entry: SystemStore.Entry?
            if try await raftService(node).status.role == .client {
                // No replica here: read through the log, via a Raft member (linearizable either way).
                entry = try await readThroughLog(key, request: request, node: node)
            } else {
                try await read(request, node)
                entry = node.store.get(key)
            }
            guard let entry else { throw APIError.notFound("no value at key \"\(key)\"") }
            return try AdminServer.jsonResponse(KVEntryView(key: key, entry: entry))
        }
        v1.put("kv/**") { request, context in
            let key = try key(context)
            let body = try await decode(PutRequest.self, from: request)
            let value = try body.bytes()
            guard value.count <= SystemCommand.maxValueBytes else {
                throw APIError(status: .contentTooLarge, message: "value larger than \(SystemCommand.maxValueBytes) bytes")
            }
            let command = SystemCommand.put(key: key, value: value, condition: try condition(request, allowAbsent: true))
            return try await write(command, key: key, request: request, node: node)
        }
        v1.delete("kv/**") { request, context in
            let key = try key(context)
            let command = SystemCommand.delete(key: key, condition: try condition(request, allowAbsent: false))
            return try await write(command, key: key, request: request, node: node)
        }
    }

    private static func raftService(_ node: CohortNode) throws -> RaftService {
        guard let raft = node.raft else {
            throw APIError.conflict("cluster disabled: set cluster.enabled: true to run Raft")
        }
        return raft
    }

    private static func key(_ context: BasicRequestContext) throws -> String {
        let key = context.parameters.getCatchAll().joined(separator: "/")
        guard !key.isEmpty else { throw APIError.badRequest("key: required, e.g. /v1/kv/config/feature") }
        guard !key.hasPrefix("_") else { throw APIError.badRequest("key \"\(key)\": keys starting with _ are reserved") }
        guard key.utf8.count <= SystemCommand.maxKeyBytes else {
            throw APIError.badRequest("key: longer than \(SystemCommand.maxKeyBytes) bytes")
        }
        return key
    }

    private static func timeout(_ request: Request) throws -> Duration {
        guard let text = request.uri.queryParameters.get("timeout") else { return defaultTimeout }
        guard let timeout = parseDuration(text), timeout > .zero, timeout <= .seconds(60) else {
            throw APIError.badRequest("timeout: \"\(text)\" is not a duration up to 60s")
        }
        return timeout
    }

    /// Waits until a read at this node is linearizable, unless `?consistency=stale`.
    private static func read(_ request: Request, _ node: CohortNode) async throws {
        let raft = try raftService(node)
        let consistency = request.uri.queryParameters.get("consistency").map { String($0) } ?? "linearizable"
        switch consistency {
        case "stale": return
        case "linearizable":
            let timeout = try timeout(request)
            do {
                _ = try await raft.linearizableRead(timeout: timeout)
            } catch {
                throw APIError(error)
            }
        case let other:
            throw APIError.badRequest("consistency: \"\(other)\" is not linearizable or stale")
        }
    }

    /// A read on a node outside the configuration: a `read` command through the log.
    private static func readThroughLog(_ key: String, request: Request, node: CohortNode) async throws -> SystemStore.Entry? {
        let raft = try raftService(node), timeout = try timeout(request)
        let result: [UInt8]
        do {
            result = try await raft.propose(SystemCommand.read(key: key).encode(), timeout: timeout).result
        } catch {
            throw APIError(error)
        }
        guard case .value(let entry) = SystemCommandResult.decode(result) else {
            throw APIError(status: .internalServerError, message: "the store answered a read with something else")
        }
        return entry
    }

    private static func condition(_ request: Request, allowAbsent: Bool) throws -> SystemCommand.Condition {
        let parameters = request.uri.queryParameters
        if let text = parameters.get("if_version") {
            guard let version = UInt64(text) else { throw APIError.badRequest("if_version: \"\(text)\" is not a version number") }
            return .version(version)
        }
        if allowAbsent, let text = parameters.get("if_absent") {
            guard let flag = Bool(String(text)) else { throw APIError.badRequest("if_absent: must be true or false") }
            return flag ? .absent : .none
        }
        return .none
    }

    private static func write(_ command: SystemCommand, key: String, request: Request, node: CohortNode) async throws -> Response {
        let raft = try raftService(node), timeout = try timeout(request)
        let outcome: (index: UInt64, result: [UInt8])
        do {
            outcome = try await raft.propose(command.encode(), timeout: timeout)
        } catch {
            throw APIError(error)
        }
        switch SystemCommandResult.decode(outcome.result) {
        case .applied(let version):
            if case .delete = command { return Response(status: .noContent) }
            return try AdminServer.jsonResponse(["version": version])
        case .conflict(let current):
            return try AdminServer.jsonResponse(
                ConflictView(error: "condition failed for key \"\(key)\"", current: current.map { KVEntryView(key: key, entry: $0) }),
                status: .conflict
            )
        case .notFound:
            throw APIError.notFound("no value at key \"\(key)\"")
        case .malformed, .value, nil:
            throw APIError(status: .internalServerError, message: "the store could not apply the write (malformed command)")
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

/// One key's entry: the value as text when it is UTF-8, else base64 in `value_b64`.
struct KVEntryView: Encodable {
    var key: String
    var value: String?
    var valueBase64: String?
    var version: UInt64

    init(key: String, entry: SystemStore.Entry) {
        self.key = key
        version = entry.version
        if let text = String(validating: entry.value, as: UTF8.self) {
            value = text
        } else {
            valueBase64 = Data(entry.value).base64EncodedString()
        }
    }

    enum CodingKeys: String, CodingKey {
        case key, value, version
        case valueBase64 = "value_b64"
    }
}

struct ConflictView: Encodable {
    var error: String
    var current: KVEntryView?
}

/// `PUT /v1/kv/{key}`: `{"value": "text"}` or `{"value_b64": "..."}`.
struct PutRequest: Decodable {
    var value: String?
    var valueBase64: String?

    enum CodingKeys: String, CodingKey {
        case value
        case valueBase64 = "value_b64"
    }

    func bytes() throws -> [UInt8] {
        switch (value, valueBase64) {
        case (let text?, nil): return Array(text.utf8)
        case (nil, let encoded?):
            guard let data = Data(base64Encoded: encoded) else { throw APIError.badRequest("value_b64: not valid base64") }
            return Array(data)
        default:
            throw APIError.badRequest("give exactly one of value (text) or value_b64 (bytes)")
        }
    }
}
