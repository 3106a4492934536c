import CohortTestKit
import Foundation

/// `GET /v1/raft` as the tests read it.
struct RaftState: Decodable, Equatable {
    var state: String
    var term: UInt64
    var leader: String?
    var commitIndex: UInt64
    var appliedIndex: UInt64
    var role: String
    var voters: [String]
    var standbys: [String]

    enum CodingKeys: String, CodingKey {
        case state, term, leader, role, voters, standbys
        case commitIndex = "commit_index"
        case appliedIndex = "applied_index"
    }
}

extension ClusterNodeUnderTest {
    /// The node's Raft status, or nil when it cannot be read (not serving, or stopped).
    func raft() async -> RaftState? {
        guard let reply = try? await httpGet(base + "/v1/raft"), reply.status == 200 else { return nil }
        return try? JSONDecoder().decode(RaftState.self, from: Data(reply.body.utf8))
    }

    /// `PUT /v1/kv/{key}` with a text value.
    func put(_ key: String, _ value: String, query: String = "") async throws -> HTTPReply {
        let body = String(decoding: try JSONEncoder().encode(["value": value]), as: UTF8.self)
        return try await httpRequest("PUT", base + "/v1/kv/\(key)\(query)", body: body, timeout: 30)
    }

    /// The value at `key` (linearizable unless `stale`), or nil when absent or unreadable.
    func value(_ key: String, stale: Bool = false) async -> String? {
        guard let reply = try? await httpGet(base + "/v1/kv/\(key)" + (stale ? "?consistency=stale" : "")), reply.status == 200,
              let object = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
        else { return nil }
        return object["value"] as? String
    }

    /// Writes `key` until one attempt commits (each attempt a fresh write of the same idempotent value),
    /// within `within`: what a client does while a new leader is being elected.
    func putEventually(_ key: String, _ value: String, within: Duration = .seconds(30)) async throws {
        try await waitUntil(within: within, "\(name) to commit \(key)=\(value)", pollEvery: .milliseconds(200)) {
            guard self.process.isRunning else { throw NodeExited(output: self.process.output) }
            return (try? await self.put(key, value))?.status == 200
        }
    }
}

/// Starts `count` nodes that join the first one: nodes `1...founders` with `bootstrap_expect: founders`,
/// the rest with `bootstrap_expect: 0` (added by the leader's reconciler). With `staggered`, each node
/// starts only once the one before serves and waits for its peers. `raftLines`, `failureDomain` and
/// `extraYAML` (top-level configuration, e.g. `stores:`) are per node (1-based index). Waits until every
/// node serves.
func startRaftCluster(
    _ count: Int, prefix: String, founders: Int = 3, staggered: Bool = false,
    raftLines: (Int) -> [String] = { _ in [] }, failureDomain: (Int) -> String? = { _ in nil },
    extraYAML: (Int) -> String = { _ in "" }, environment: (Int) -> [String: String] = { _ in [:] }
) async throws -> [ClusterNodeUnderTest] {
    var nodes: [ClusterNodeUnderTest] = []
    do {
        for index in 1...count {
            let expect = index <= founders ? founders : 0
            let node = try ClusterNodeUnderTest(
                name: "\(prefix)\(index)", join: nodes.first.map { [$0] } ?? [],
                raft: ["bootstrap_expect: \(expect)"] + raftLines(index), failureDomain: failureDomain(index),
                extraYAML: extraYAML(index), environment: environment(index)
            )
            nodes.append(node)
            if index == 1 { try await node.waitUntilServing() }
            if staggered, index < count {
                // Founders that start one after another: the next only once this one serves and is
                // waiting for its peers (so each has been up for a while before the last one arrives).
                try await node.waitUntilServing()
                try await waitUntil(within: .seconds(30), "\(node.name) to wait for its peers") {
                    node.process.output.contains("raft bootstrap waiting for peers")
                }
            }
        }
        for node in nodes { try await node.waitUntilServing() }
    } catch {
        for node in nodes { await node.stop() }
        throw error
    }
    return nodes
}

/// Runs `body` on the nodes, then stops them all; on failure the error carries every node's output.
func withNodes(_ nodes: [ClusterNodeUnderTest], _ body: ([ClusterNodeUnderTest]) async throws -> Void) async throws {
    do {
        try await body(nodes)
    } catch {
        let logs = nodes.map { "--- \($0.name) ---\n\($0.process.output.suffix(6000))" }.joined(separator: "\n")
        for node in nodes { await node.stop() }
        throw ClusterTestFailure(underlying: error, logs: logs)
    }
    for node in nodes { await node.stop() }
}

/// Waits until every running member of the configuration in `nodes` agrees on one leader and reports the
/// same configuration, and `accept` holds for the leader's view; returns that view. Nodes outside the
/// configuration (clients, nodes not added yet) know no leader and are not asked.
@discardableResult
func waitForAgreement(
    _ nodes: [ClusterNodeUnderTest], within: Duration = .seconds(60), _ what: String = "one leader and one configuration",
    until accept: (RaftState) -> Bool = { _ in true }
) async throws -> RaftState {
    var agreed: RaftState?
    try await waitUntil(within: within, what, pollEvery: .milliseconds(250)) {
        var states: [RaftState] = []
        for node in nodes where node.process.isRunning {
            guard let state = await node.raft() else { return false }
            if state.role != "client" { states.append(state) }
        }
        guard let first = states.first, let leader = first.leader,
              states.allSatisfy({ $0.leader == leader && $0.voters == first.voters && $0.standbys == first.standbys }),
              let leaderState = states.first(where: { $0.state == "leader" }), accept(leaderState)
        else { return false }
        agreed = leaderState
        return true
    }
    return agreed!
}
