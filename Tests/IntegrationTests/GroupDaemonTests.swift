import CohortTestKit
import Foundation
import Testing

/// Process groups across real `cohortd` daemons: 3 voters and 2 Raft clients (groups do not use Raft; the
/// clients take part like everyone else). Members are sessions, joined and read over `/v1/pg`.
/// Figures (convergence, removal after SIGKILL) are printed as `[pg] ...`.
@Suite("Process groups across real daemons", .serialized)
struct GroupDaemonTests {
    static let pgYAML = """
        pg:
          scopes:
            - name: default
              sync_interval: 500ms
              anti_entropy_interval: 2s
              broadcast_liveness: 4s
        """

    static func startCluster(prefix: String, environment: @escaping (Int) -> [String: String] = { _ in [:] }) async throws -> [ClusterNodeUnderTest] {
        try await startRaftCluster(
            5, prefix: prefix, founders: 3, raftLines: { $0 > 3 ? ["role: client"] : [] }, extraYAML: { _ in pgYAML },
            environment: environment
        )
    }

    /// Waits until every node sees every other alive (so that every scope has every peer up).
    static func waitForGossip(_ nodes: [ClusterNodeUnderTest]) async throws {
        let names = Set(nodes.map(\.name))
        for node in nodes {
            try await waitUntil(within: .seconds(30), "\(node.name) to see every node alive") { await node.aliveMembers() == names }
        }
    }

    static func group(_ name: String) -> String { "/v1/pg/default/\(name)" }

    static func join(_ node: ClusterNodeUnderTest, _ group: String, _ pids: [String]) async throws {
        let body = String(data: try JSONSerialization.data(withJSONObject: ["pids": pids]), encoding: .utf8)!
        let reply = try await node.post(Self.group(group) + "/join", body)
        guard reply.status == 204 else { throw UnexpectedReply(reply: reply) }
    }

    static func members(_ node: ClusterNodeUnderTest, _ group: String, local: Bool = false) async -> [String]? {
        guard let reply = try? await httpGet(node.base + Self.group(group) + (local ? "?local=true" : "")), reply.status == 200,
              let object = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
        else { return nil }
        return (object["members"] as? [String])?.sorted()
    }

    static func broadcast(_ node: ClusterNodeUnderTest, _ group: String, topic: String) async throws -> Int {
        let reply = try await node.post(Self.group(group) + "/broadcast", #"{"topic":"\#(topic)","payload":"x"}"#)
        guard reply.status == 200, let object = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any],
              let recipients = object["recipients"] as? Int
        else { throw UnexpectedReply(reply: reply) }
        return recipients
    }

    /// Waits until every running node sees exactly `expected` as the members of `group`.
    static func waitForMembers(_ nodes: [ClusterNodeUnderTest], _ group: String, _ expected: [String], within: Duration = .seconds(20)) async throws {
        let sorted = expected.sorted()
        for node in nodes where node.process.isRunning {
            try await waitUntil(within: within, "\(node.name) to see \(sorted.count) members of \(group)") { await members(node, group) == sorted }
        }
    }

    @Test("five nodes (3 voters, 2 clients) converge after joins from all of them; a broadcast reaches each member exactly once; SIGKILL of a node removes its members everywhere")
    func convergeBroadcastAndKill() async throws {
        let nodes = try await Self.startCluster(prefix: "pga")
        try await withNodes(nodes) { nodes in
            try await Self.waitForGossip(nodes)
            // Two sessions per node; each node joins its own to "work" (one of them twice) and to "all".
            var sessions: [[String]] = []
            for node in nodes { sessions.append([try await node.openSession(ttl: "5m"), try await node.openSession(ttl: "5m")]) }
            let clock = ContinuousClock()
            let start = clock.now
            let opened = sessions
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, node) in nodes.enumerated() {
                    group.addTask {
                        try await Self.join(node, "work", opened[index] + [opened[index][0]])
                        try await Self.join(node, "all", opened[index])
                    }
                }
                try await group.waitForAll()
            }
            let work = sessions.flatMap { $0 + [$0[0]] }
            try await Self.waitForMembers(nodes, "work", work)
            try await Self.waitForMembers(nodes, "all", sessions.flatMap { $0 })
            print("[pg] joins from 5 nodes visible on all 5 after \(clock.now - start)")
            for (index, node) in nodes.enumerated() {
                #expect(await Self.members(node, "work", local: true) == (sessions[index] + [sessions[index][0]]).sorted())
            }

            // Broadcasts from every node: each of the 10 distinct members gets each exactly once.
            for (index, node) in nodes.enumerated() {
                #expect(try await Self.broadcast(node, "work", topic: "b\(index)") == 10, "each distinct member once, as \(node.name) counts")
            }
            for (index, node) in nodes.enumerated() {
                for pid in sessions[index] {
                    let events = try await node.collectEvents(pid) { events in events.filter { $0["type"] as? String == "message" }.count >= 5 }
                    // A little longer, so that a duplicate would have arrived too.
                    let late = try await node.events(pid, wait: "300ms")
                    let topics = (events + late).filter { $0["type"] as? String == "message" }.compactMap { $0["topic"] as? String }
                    #expect(topics.sorted() == ["b0", "b1", "b2", "b3", "b4"], "\(pid) got \(topics)")
                }
            }

            // SIGKILL a client node: its members vanish on every survivor within the gossip detection time.
            let victim = nodes[4]
            let killedAt = clock.now
            victim.process.signal(SIGKILL)
            _ = try await victim.process.waitForExit(within: .seconds(10))
            let survivors = Array(nodes.prefix(4))
            try await Self.waitForMembers(survivors, "work", sessions.prefix(4).flatMap { $0 + [$0[0]] }, within: .seconds(20))
            print("[pg] a SIGKILLed node's members gone on all 4 survivors after \(clock.now - killedAt) (probe 400ms, suspicion_mult 3)")
            #expect(try await Self.broadcast(nodes[0], "work", topic: "after") == 8)
        }
    }

    @Test("a partition of 3 | 2 heals to identical membership on all 5 nodes", .enabled(if: Partition.isAvailable, "needs nft and root"))
    func partitionHeals() async throws {
        let nodes = try await Self.startCluster(prefix: "pgb")
        let partition = Partition(name: "cohort_pg_\(getpid())")
        defer { partition.heal() }
        try await withNodes(nodes) { nodes in
            try await Self.waitForGossip(nodes)
            var everyone: [String] = []
            for node in nodes {
                let pid = try await node.openSession(ttl: "5m")
                try await Self.join(node, "g", [pid])
                everyone.append(pid)
            }
            try await Self.waitForMembers(nodes, "g", everyone)
            let (left, right) = (Array(nodes.prefix(3)), Array(nodes.suffix(2)))
            try partition.cut(left.map(\.ip), right.map(\.ip))
            // Gossip on each side declares the other side dead.
            for node in left {
                try await waitUntil(within: .seconds(30), "\(node.name) to see only its side") { await node.aliveMembers() == Set(left.map(\.name)) }
            }
            for node in right {
                try await waitUntil(within: .seconds(30), "\(node.name) to see only its side") { await node.aliveMembers() == Set(right.map(\.name)) }
            }
            // Each side declares the other dead and drops its members.
            try await Self.waitForMembers(left, "g", Array(everyone.prefix(3)), within: .seconds(30))
            try await Self.waitForMembers(right, "g", Array(everyone.suffix(2)), within: .seconds(30))
            // Changes on both sides while cut.
            let leftNew = try await left[0].openSession(ttl: "5m")
            try await Self.join(left[0], "g", [leftNew])
            let rightNew = try await right[0].openSession(ttl: "5m")
            try await Self.join(right[0], "g", [rightNew])
            partition.heal()
            try await Self.waitForMembers(nodes, "g", everyone + [leftNew, rightNew], within: .seconds(60))
        }
    }

    @Test("the broadcast liveness check fails when broadcasts stop arriving from remote members, passes again when they resume, and passes on a node whose peers have no members")
    func livenessCheck() async throws {
        let nodes = try await Self.startCluster(prefix: "pgc") { index in
            ["COHORT_FAILPOINT_PG_MUTE_FILE": FileManager.default.temporaryDirectory.appendingPathComponent("pg-mute-\(getpid())-\(index)").path]
        }
        let mute = FileManager.default.temporaryDirectory.appendingPathComponent("pg-mute-\(getpid())-1").path
        defer { try? FileManager.default.removeItem(atPath: mute) }
        try await withNodes(nodes) { nodes in
            try await Self.waitForGossip(nodes)
            func check(_ node: ClusterNodeUnderTest) async -> String? {
                guard let reply = try? await httpGet(node.base + "/livez") else { return nil }
                return reply.body.split(separator: "\n").first { $0.hasPrefix("pg.broadcast_recent.default") }.map(String.init)
            }
            // Only node 1 has members.
            let pid = try await nodes[0].openSession(ttl: "5m")
            try await Self.join(nodes[0], "g", [pid])
            try await Self.waitForMembers(nodes, "g", [pid])
            // Its beats keep the others passing beyond the 4 s window.
            try await holdsThroughout(.seconds(6), "every node's pg check passes while node 1 beats") {
                for node in nodes { if await check(node)?.contains("\tok") != true { return false } }
                return true
            }
            // Node 1's pg path goes silent (gossip stays fine): the others fail within the window.
            _ = FileManager.default.createFile(atPath: mute, contents: nil)
            for node in nodes.dropFirst() {
                try await waitUntil(within: .seconds(15), "\(node.name)'s pg check to fail") { await check(node)?.contains("\tfail") == true }
                #expect((try await httpGet(node.base + "/livez")).status == 503)
            }
            // Node 1 has no remote members: it passes throughout.
            #expect(await check(nodes[0])?.contains("\tok") == true)
            try? FileManager.default.removeItem(atPath: mute)
            for node in nodes.dropFirst() {
                try await waitUntil(within: .seconds(15), "\(node.name)'s pg check to pass again") { await check(node)?.contains("\tok") == true }
            }
        }
    }
}

/// Cuts loopback traffic between two sets of addresses with an nftables table of its own.
struct Partition: Sendable {
    let name: String

    static var isAvailable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft")
    }

    func cut(_ left: [String], _ right: [String]) throws {
        let a = left.joined(separator: ", "), b = right.joined(separator: ", ")
        try nft("add table inet \(name)")
        try nft("add chain inet \(name) in { type filter hook input priority 0 ; }")
        try nft("add rule inet \(name) in ip saddr { \(a) } ip daddr { \(b) } drop")
        try nft("add rule inet \(name) in ip saddr { \(b) } ip daddr { \(a) } drop")
    }

    func heal() {
        try? nft("delete table inet \(name)")
    }

    private func nft(_ command: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nft")
        process.arguments = command.split(separator: " ").map(String.init)
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        struct Failed: Error { let command: String }
        if process.terminationStatus != 0, !command.hasPrefix("delete") { throw Failed(command: command) }
    }
}
