import CohortTestKit
import Foundation
import Testing

/// Strong names (`POST /v1/names` with `"scope": "strong"`) across real `cohortd` daemons: 3 voters
/// (`sn1`–`sn3`) and 3 gossip-only clients (`sn4`–`sn6`, `cluster.raft.role: client`). A strong
/// registration waits for every live node's acknowledgement, the clients' included.
///
/// Suspicion is slowed (`suspicion_mult: 30`, about 9 s before a silent node is declared dead here), so
/// a SIGSTOPped client stays a live member for the whole of a short registration timeout: the round must
/// wait for it, not forget it.
@Suite("Strong names across daemons", .serialized, .timeLimit(.minutes(6)))
struct StrongNameDaemonTests {
    static func startCluster() async throws -> [ClusterNodeUnderTest] {
        let nodes = try await startRaftCluster(
            6, prefix: "sn", founders: 3,
            raftLines: { $0 > 3 ? ["role: client"] : [] },
            environment: { _ in ["COHORT_CLUSTER_MEMBERSHIP_SUSPICION_MULT": "30"] }
        )
        do {
            try await waitForAgreement(Array(nodes.prefix(3)), within: .seconds(90), "the three voters to agree") { $0.voters.count == 3 }
            for node in nodes {
                try await waitUntil(within: .seconds(30), "\(node.name)'s mesh peers") {
                    await node.metric("internode_peers") == Double(nodes.count - 1)
                }
                try await waitUntil(within: .seconds(30), "\(node.name) to answer a linearizable read", pollEvery: .milliseconds(100)) {
                    (try? await httpGet(node.base + "/v1/locks/probe?consistency=linearizable"))?.status == 404
                }
            }
        } catch {
            let logs = nodes.map { "--- \($0.name) ---\n\($0.process.output.suffix(6000))" }.joined(separator: "\n")
            for node in nodes { await node.stop() }
            throw ClusterTestFailure(underlying: error, logs: logs)
        }
        return nodes
    }

    static func registerStrong(_ node: ClusterNodeUnderTest, _ name: String, pid: String, timeout: String? = nil) async throws -> HTTPReply {
        var fields = ["name": name, "pid": pid, "scope": "strong"]
        fields["timeout"] = timeout
        return try await httpRequest("POST", node.base + "/v1/names", body: jsonBody(fields), timeout: 30)
    }

    @Test("a one-node cluster has only itself to ask: a strong name registers at once, and its owner's session end releases it")
    func oneNode() async throws {
        let node = try ClusterNodeUnderTest(name: "strong-solo", raft: ["bootstrap_expect: 1"])
        try await withNodes([node]) { _ in
            try await node.waitUntilServing()
            try await node.putEventually("ready", "yes")
            let owner = try await node.openSession(ttl: "5m")
            let reply = try await Self.registerStrong(node, "solo", pid: owner, timeout: "2s")
            #expect(reply.status == 201 && (try? decodeReply(NameReply.self, reply))?.scope == "strong", "\(reply.body)")
            #expect(try await node.delete("/v1/sessions/\(owner)").status == 204)
            try await waitUntil(within: .seconds(10), "the strong name to be released with its session") {
                (try? await node.lookup("solo"))?.status == 404
            }
        }
    }

    @Test("with all six nodes up, a strong name registers (token, scope strong), resolves from every node, lists under ?scope=strong and counts in names_registered{scope=\"strong\"}; a lone client stopped with SIGSTOP fails a 3 s registration with 504 naming exactly it, and the name stays free; a node holding the name locally rejects at once with 409 and its owner")
    func strongNames() async throws {
        let nodes = try await Self.startCluster()
        try await withNodes(nodes) { nodes in
            let voters = Array(nodes.prefix(3)), clients = Array(nodes.suffix(3))

            // (a) Everyone answers: registered from a client node, for a session there.
            let owner = try await clients[0].openSession(ttl: "5m")
            let started = ContinuousClock.now
            let reply = try await Self.registerStrong(clients[0], "svc/strong", pid: owner)
            #expect(reply.status == 201, "\(reply.body)")
            let registered = try decodeReply(NameReply.self, reply)
            #expect(registered.scope == "strong" && registered.pid == owner && registered.token != nil)
            report("a strong name acknowledged by 6 nodes registered in \(ContinuousClock.now - started)")
            for node in nodes {
                try await waitUntil(within: .seconds(5), "\(node.name) to resolve the strong name") {
                    guard let found = try? await node.lookup("svc/strong"), found.status == 200,
                          let binding = try? decodeReply(NameReply.self, found) else { return false }
                    return binding.pid == owner && binding.scope == "strong" && binding.token == registered.token
                }
            }
            let strongLookup = try await httpGet(clients[2].base + "/v1/names/svc/strong?scope=strong&consistency=linearizable")
            #expect(strongLookup.status == 200 && (try? decodeReply(NameReply.self, strongLookup))?.scope == "strong", "\(strongLookup.body)")
            // A message sent to the name from a voter and from another client reaches the owner's session.
            for (index, sender) in [voters[1], clients[1]].enumerated() {
                let marker = "strong-\(index)-\(UUID().uuidString)"
                let sent = try await sender.post("/v1/send", #"{"to":"svc/strong","topic":"by-strong-name","payload":"\#(marker)"}"#)
                #expect(sent.status == 202, "\(sent.body)")
                let events = try await clients[0].collectEvents(owner, within: .seconds(10)) { events in
                    events.contains { $0["payload"] as? String == marker }
                }
                #expect(events.contains { $0["topic"] as? String == "by-strong-name" && $0["payload"] as? String == marker })
            }

            // The CLI registers one too, from a voter, and lists only the strong names with --scope strong.
            let cliOwner = try await voters[1].openSession(ttl: "5m")
            let byCLI = try await cohort(voters[1], ["names", "register", "svc/cli", "--pid", cliOwner, "--scope", "strong", "--timeout", "5s"])
            #expect(byCLI.status == 0 && byCLI.output.hasPrefix("registered svc/cli for \(cliOwner) (strong, token "), "\(byCLI.output)")
            #expect(try await voters[0].register("plain", pid: cliOwner).status == 201)
            let strongOnly = try await httpGet(voters[1].base + "/v1/names?scope=strong&consistency=linearizable")
            #expect(try decodeReply([NameReply].self, strongOnly).map(\.name) == ["svc/cli", "svc/strong"])
            try await waitUntil(within: .seconds(5), "names_registered{scope=\"strong\"} on the voters") {
                for voter in voters where await voter.metric(#"names_registered{scope="strong"}"#) != 2 { return false }
                return true
            }
            // A consistent registration of a strong name names its owner; only the owner unregisters it.
            let rival = try await voters[0].openSession(ttl: "5m")
            let taken = try await voters[0].register("svc/strong", pid: rival)
            #expect(taken.status == 409 && (try? decodeReply(ErrorReply.self, taken))?.owner == owner, "\(taken.body)")
            #expect(try await voters[0].delete("/v1/names/svc/cli?scope=strong&pid=\(rival)").status == 409)
            #expect(try await voters[0].delete("/v1/names/svc/cli?scope=strong&pid=\(cliOwner)").status == 204)
            try await waitUntil(within: .seconds(5), "names_registered{scope=\"strong\"} to drop to 1") {
                await voters[0].metric(#"names_registered{scope="strong"}"#) == 1
            }

            // (b) One client does not answer: stopped, so still a live member, just silent.
            let silent = clients[2]
            silent.process.signal(SIGSTOP)
            let failure: HTTPReply
            let failedAfter: Duration
            let cliFailure: (status: Int32, output: String)
            do {
                let start = ContinuousClock.now
                failure = try await Self.registerStrong(voters[0], "svc/blocked", pid: rival, timeout: "3s")
                failedAfter = ContinuousClock.now - start
                cliFailure = try await cohort(clients[0], ["names", "register", "svc/blocked", "--pid", owner, "--scope", "strong", "--timeout", "2s"])
            } catch {
                silent.process.signal(SIGCONT)
                throw error
            }
            silent.process.signal(SIGCONT)
            #expect(failure.status == 504, "\(failure.body)")
            let timeout = try decodeReply(MissingReply.self, failure)
            #expect(timeout.code == "TIMEOUT")
            #expect(timeout.missing == [silent.name], "exactly the stopped node is missing: \(timeout.missing)")
            #expect(failedAfter >= .milliseconds(2900) && failedAfter < .seconds(6), "the registration failed at its 3 s deadline, after \(failedAfter)")
            report("a strong registration with one stopped client failed after \(failedAfter) (timeout 3 s)")
            #expect(cliFailure.status == 1, "\(cliFailure.output)")
            #expect(cliFailure.output.contains("error: TIMEOUT: ") && cliFailure.output.contains(silent.name), "the CLI names the missing node: \(cliFailure.output)")
            // The name was not bound, and its reservation is gone: a consistent registration takes it at once.
            #expect(try await voters[1].lookup("svc/blocked", consistency: "linearizable").status == 404)
            let afterwards = try await voters[1].register("svc/blocked", pid: rival)
            #expect(afterwards.status == 201, "the name is free after the failed registration: \(afterwards.body)")

            // (c) A node holding the name as a local name rejects at once.
            let local = try await clients[1].openSession(ttl: "5m")
            let localReply = try await httpRequest(
                "POST", clients[1].base + "/v1/names", body: jsonBody(["name": "svc/local", "pid": local, "scope": "local"])
            )
            #expect(localReply.status == 201, "\(localReply.body)")
            let start = ContinuousClock.now
            let rejected = try await Self.registerStrong(voters[2], "svc/local", pid: rival, timeout: "10s")
            let rejectedAfter = ContinuousClock.now - start
            #expect(rejected.status == 409, "\(rejected.body)")
            let conflict = try decodeReply(ErrorReply.self, rejected)
            #expect(conflict.code == "ALREADY_EXISTS" && conflict.owner == local, "\(rejected.body)")
            #expect(rejectedAfter < .seconds(2), "a conflicting local binding rejects at once, not at the 10 s deadline: \(rejectedAfter)")
            report("a strong registration of a name held locally on \(clients[1].name) was refused after \(rejectedAfter)")
            #expect(try await httpGet(voters[2].base + "/v1/names/svc/local?scope=consistent&consistency=linearizable").status == 404)
            // The reservation was cancelled: the local owner itself can now take the name strongly.
            let ownerTakes = try await Self.registerStrong(clients[1], "svc/local", pid: local, timeout: "10s")
            #expect(ownerTakes.status == 201, "the name stayed free: \(ownerTakes.body)")
        }
    }
}

/// A strong registration's `504 TIMEOUT`.
struct MissingReply: Decodable, Sendable {
    var error: String
    var code: String
    var missing: [String]
}
