import CohortTestKit
import Foundation
import Testing

/// The eventual plane across real `cohortd` daemons: 3 voters and 3 gossip-only clients. Eventual names and
/// a kv.crdt store on both sides of a 3 | 3 partition heal to one state on every node, each losing
/// registration's process hears `CANCEL "name revoked: …"` exactly once, and a killed node's names vanish
/// everywhere; a client resolves consistent names through its cache and follows a name that moves.
/// Figures are printed as `[eventual] ...`.
@Suite("The eventual plane across real daemons", .serialized)
struct EventualDaemonTests {
    static let yaml = """
        stores:
          - name: cache
            kind: kv.crdt
            durable: false
        """

    static func startCluster(prefix: String, environment: @escaping (Int) -> [String: String] = { _ in [:] }) async throws -> [ClusterNodeUnderTest] {
        try await startRaftCluster(
            6, prefix: prefix, founders: 3, raftLines: { $0 > 3 ? ["role: client"] : [] }, extraYAML: { _ in yaml }, environment: environment
        )
    }

    static func waitForGossip(_ nodes: [ClusterNodeUnderTest], within: Duration = .seconds(30)) async throws {
        let names = Set(nodes.map(\.name))
        for node in nodes {
            try await waitUntil(within: within, "\(node.name) to see every node alive") { await node.aliveMembers() == names }
        }
    }

    static func json(_ reply: HTTPReply) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(reply.body.utf8))
    }

    static func register(_ node: ClusterNodeUnderTest, _ name: String, _ pid: String, scope: String) async throws -> HTTPReply {
        try await node.post("/v1/names", #"{"name":"\#(name)","pid":"\#(pid)","scope":"\#(scope)"}"#)
    }

    /// The eventual names a node knows: name → PID.
    static func eventualNames(_ node: ClusterNodeUnderTest) async -> [String: String]? {
        guard let reply = try? await httpGet(node.base + "/v1/names?scope=eventual"), reply.status == 200,
              let list = (try? json(reply)) as? [[String: Any]] else { return nil }
        var names: [String: String] = [:]
        for item in list {
            guard let name = item["name"] as? String, let pid = item["pid"] as? String else { return nil }
            names[name] = pid
        }
        return names
    }

    /// The kv.crdt store's keys and values on a node.
    static func cacheContents(_ node: ClusterNodeUnderTest) async -> [String: String]? {
        guard let reply = try? await httpGet(node.base + "/v1/kv?store=cache"), reply.status == 200,
              let object = try? json(reply) else { return nil }
        let list = (object as? [[String: Any]]) ?? ((object as? [String: Any])?["entries"] as? [[String: Any]])
        guard let list else { return nil }
        var contents: [String: String] = [:]
        for item in list {
            guard let key = item["key"] as? String else { return nil }
            contents[key] = item["value"] as? String ?? "?"
        }
        return contents
    }

    static func put(_ node: ClusterNodeUnderTest, _ key: String, _ value: String) async throws {
        let reply = try await httpRequest("PUT", node.base + "/v1/kv/\(key)?store=cache", body: #"{"value":"\#(value)"}"#)
        guard reply.status == 200 else { throw UnexpectedReply(reply: reply) }
    }

    static func cancels(_ events: [[String: Any]]) -> [String] {
        events.filter { $0["type"] as? String == "cancel" }.compactMap { $0["reason"] as? String }
    }

    @Test("a 3 | 3 partition with conflicting eventual names and kv.crdt writes heals to one state everywhere; each loser hears one CANCEL; a killed node's names vanish everywhere",
          .enabled(if: Partition.isAvailable, "needs nft and root"))
    func partitionHeals() async throws {
        let nodes = try await Self.startCluster(prefix: "ev")
        let partition = Partition(name: "cohort_ev_\(getpid())")
        defer { partition.heal() }
        try await withNodes(nodes) { nodes in
            try await Self.waitForGossip(nodes)
            let (left, right) = (Array(nodes.prefix(3)), Array(nodes.suffix(3)))
            var sessions: [String: String] = [:]
            for node in nodes { sessions[node.name] = try await node.openSession(ttl: "10m") }
            // Before the cut: a name everyone sees, and a key.
            #expect(try await Self.register(left[0], "before", sessions[left[0].name]!, scope: "eventual").status == 201)
            try await Self.put(left[0], "shared", "before")
            try await waitUntil(within: .seconds(20), "every node to see the first name") {
                for node in nodes where await Self.eventualNames(node)?["before"] != sessions[left[0].name] { return false }
                return true
            }

            try partition.cut(left.map(\.ip), right.map(\.ip))
            for side in [left, right] {
                for node in side {
                    try await waitUntil(within: .seconds(30), "\(node.name) to see only its side") { await node.aliveMembers() == Set(side.map(\.name)) }
                }
            }
            // Both sides register the same names (the left first: its registrations are earlier and win)
            // and write the same keys; the right also deletes the key written before the cut.
            let names = (0..<6).map { "svc-\($0)" }
            for (index, name) in names.enumerated() {
                let owner = left[index % 3]
                #expect(try await Self.register(owner, name, sessions[owner.name]!, scope: "eventual").status == 201)
            }
            for (index, name) in names.enumerated() {
                let owner = right[index % 3]
                #expect(try await Self.register(owner, name, sessions[owner.name]!, scope: "eventual").status == 201, "the right side does not know the left's names yet")
            }
            for index in 0..<10 { try await Self.put(left[index % 3], "k\(index)", "left-\(index)") }
            for index in 0..<10 where index % 2 == 0 { try await Self.put(right[index % 3], "k\(index)", "right-\(index)") }
            let deleted = try await httpRequest("DELETE", right[0].base + "/v1/kv/shared?store=cache")
            #expect(deleted.status == 204)

            let healedAt = ContinuousClock.now
            partition.heal()
            try await Self.waitForGossip(nodes, within: .seconds(60))
            var expectedNames = ["before": sessions[left[0].name]!]
            for (index, name) in names.enumerated() { expectedNames[name] = sessions[left[index % 3].name]! }
            var expectedKeys: [String: String] = [:]
            for index in 0..<10 { expectedKeys["k\(index)"] = index % 2 == 0 ? "right-\(index)" : "left-\(index)" }
            for node in nodes {
                try await waitUntil(within: .seconds(60), "\(node.name) to hold the healed names") { await Self.eventualNames(node) == expectedNames }
                try await waitUntil(within: .seconds(60), "\(node.name) to hold the healed store") { await Self.cacheContents(node) == expectedKeys }
            }
            print("[eventual] 3 | 3 partition: every node identical \(ContinuousClock.now - healedAt) after the heal")

            // Each losing registration's process (the right side's sessions) hears exactly one CANCEL per
            // name it lost, and nothing more within a further window.
            for (offset, node) in right.enumerated() {
                let lost = names.enumerated().filter { $0.offset % 3 == offset }.map { "name revoked: \($0.element)" }
                let events = try await node.collectEvents(sessions[node.name]!, within: .seconds(20)) { Self.cancels($0).count >= lost.count }
                var reasons = Self.cancels(events)
                let window = ContinuousClock.now + .seconds(3)
                while ContinuousClock.now < window { reasons += Self.cancels(try await node.events(sessions[node.name]!, wait: "500ms")) }
                #expect(reasons.sorted() == lost.sorted(), "\(node.name)'s session")
            }
            for node in left {
                #expect(Self.cancels(try await node.events(sessions[node.name]!, wait: "200ms")).isEmpty, "winners are not cancelled")
            }

            // A killed client's eventual names vanish on every survivor.
            let victim = right[2]
            #expect(try await Self.register(victim, "victim-only", sessions[victim.name]!, scope: "eventual").status == 201)
            for node in nodes {
                try await waitUntil(within: .seconds(20), "\(node.name) to see the victim's name") { await Self.eventualNames(node)?["victim-only"] != nil }
            }
            victim.process.signal(SIGKILL)
            let killedAt = ContinuousClock.now
            for node in nodes where node !== victim {
                try await waitUntil(within: .seconds(30), "\(node.name) to drop the killed node's names") {
                    guard let names = await Self.eventualNames(node) else { return false }
                    return names["victim-only"] == nil && !names.values.contains { $0.hasPrefix(victim.name + "@") }
                }
            }
            print("[eventual] a SIGKILLed node's names gone on every survivor \(ContinuousClock.now - killedAt) after the kill")
        }
    }

    @Test("a client resolves a consistent name through its cache, sends to it, and follows the name when it moves, also one that hears no update's first round")
    func clientNameCache() async throws {
        // The sixth node (a client) ignores every name-cache update in its first round (a failpoint): it can
        // only follow a moved name through the leader's repeats, well before its cache's 30 s TTL.
        let nodes = try await Self.startCluster(prefix: "nc", environment: { $0 == 6 ? ["COHORT_FAILPOINT_NAME_CACHE_DROP_FIRST_ROUND": "1"] : [:] })
        try await withNodes(nodes) { nodes in
            try await Self.waitForGossip(nodes)
            let client = nodes[4], deaf = nodes[5]
            let first = try await nodes[0].openSession(ttl: "10m")
            try await waitUntil(within: .seconds(30), "a consistent registration to succeed") {
                try await Self.register(nodes[0], "billing", first, scope: "consistent").status == 201
            }
            for node in [client, deaf] {
                try await waitUntil(within: .seconds(20), "\(node.name) to resolve the name") {
                    let reply = try await httpGet(node.base + "/v1/names/billing")
                    return reply.status == 200 && reply.body.contains(first)
                }
            }
            let misses = await client.metric(#"name_cache_lookups_total{result="miss"}"#) ?? 0
            for _ in 0..<20 {
                let reply = try await httpGet(client.base + "/v1/names/billing")
                #expect(reply.status == 200 && reply.body.contains(first))
            }
            #expect(await client.metric(#"name_cache_lookups_total{result="miss"}"#) == misses, "repeated lookups are answered from the cache")
            #expect(try await client.post("/v1/send", #"{"to":"billing","topic":"t","payload":"via-cache"}"#).status == 202)
            let delivered = try await nodes[0].collectEvents(first) { events in events.contains { ($0["payload"] as? String) == "via-cache" } }
            #expect(!delivered.isEmpty)

            // The name moves to a session on another server; the client follows without its cache expiring.
            let second = try await nodes[1].openSession(ttl: "10m")
            #expect(try await nodes[0].delete("/v1/names/billing?pid=\(first)").status == 204)
            #expect(try await Self.register(nodes[1], "billing", second, scope: "consistent").status == 201)
            let movedAt = ContinuousClock.now
            for node in [client, deaf] {
                var lastAnswer = "none"
                do {
                    try await waitUntil(within: .seconds(15), "\(node.name) to follow the moved name (its cache TTL is 30 s)") {
                        let reply = try await httpGet(node.base + "/v1/names/billing")
                        lastAnswer = "\(reply.status) \(reply.body)"
                        return reply.status == 200 && reply.body.contains(second)
                    }
                } catch {
                    // One line, so that a CI summary shows it: what the client still said, and its cache's counts.
                    let hits = await node.metric(#"name_cache_lookups_total{result="hit"}"#) ?? -1
                    let misses = await node.metric(#"name_cache_lookups_total{result="miss"}"#) ?? -1
                    throw NameCacheFollowFailure(description: "\(error) — \(node.name)'s last answer: \(lastAnswer); cache hits \(hits), misses \(misses)")
                }
                print("[eventual] a moved consistent name resolved on \(node.name) \(ContinuousClock.now - movedAt) after the move")
            }
            #expect(try await client.post("/v1/send", #"{"to":"billing","topic":"t","payload":"moved"}"#).status == 202)
            _ = try await nodes[1].collectEvents(second) { events in events.contains { ($0["payload"] as? String) == "moved" } }

            // The owner's node dies: the client drops the binding at once and asks again (404 once released).
            nodes[1].process.signal(SIGKILL)
            try await waitUntil(within: .seconds(30), "the client to stop resolving to the dead node's process") {
                let reply = try await httpGet(client.base + "/v1/names/billing")
                return !reply.body.contains(second)
            }
        }
    }
}

/// A client did not follow a moved name: the wait's error with what the client still answered.
struct NameCacheFollowFailure: Error, CustomStringConvertible {
    var description: String
}
