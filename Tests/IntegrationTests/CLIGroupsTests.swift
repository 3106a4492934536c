import CohortTestKit
import Foundation
import Testing

/// `cohort pg` against a real daemon with the cluster disabled (process groups work locally there), with
/// sessions as the member processes.
@Suite("CLI: process groups")
struct CLIGroupsTests {
    @Test("cohort pg join, members, groups and scopes print JSON for scripts and tables for people; leave, broadcast and refusals")
    func joinMembersAndGroups() async throws {
        let node = try NodeUnderTest(name: "cli-pg")
        do {
            try await node.waitUntilServing()
            let a = try await node.openSession(), b = try await node.openSession()
            let joined = try await pg(node, ["join", "workers", a, a, b])
            #expect(joined.status == 0 && joined.output == "joined workers (default): \(a) \(a) \(b)\n", "\(joined.output)")

            let membersJSON = try await pg(node, ["members", "workers", "--json"])
            #expect(membersJSON.status == 0, "\(membersJSON.output)")
            #expect(try json(membersJSON.output) as? [String: [String]] == ["members": [a, a, b]])
            let localJSON = try await pg(node, ["members", "--scope", "default", "--local", "workers", "--json"])
            #expect(try json(localJSON.output) as? [String: [String]] == ["members": [a, a, b]])
            let groupsJSON = try await pg(node, ["groups", "--json"])
            #expect(try json(groupsJSON.output) as? [String: [String]] == ["groups": ["workers"]], "\(groupsJSON.output)")
            let ofPID = try await pg(node, ["groups", "default", "--pid", b, "--json"])
            #expect(try json(ofPID.output) as? [String: [String]] == ["groups": ["workers"]], "\(ofPID.output)")
            let scopes = try await pg(node, ["scopes", "--json"])
            #expect(try json(scopes.output) as? [String: [String]] == ["scopes": ["default"]], "\(scopes.output)")

            let table = try await pg(node, ["members", "workers"])
            #expect(table.status == 0, "\(table.output)")
            #expect(lines(table.output).map { $0.split(separator: " ").map(String.init) } == [
                ["PID", "NODE", "JOINS"], [a, "cli-pg", "2"], [b, "cli-pg", "1"],
            ], "\(table.output)")
            let width = max(a.count, b.count)
            #expect(lines(table.output).first?.hasPrefix("PID" + String(repeating: " ", count: width - 1) + "NODE") == true, "aligned: \(table.output)")
            #expect(lines(try await pg(node, ["groups"]).output) == ["GROUP", "workers"])

            let sent = try await pg(node, ["broadcast", "workers", "--topic", "t", "--payload", "p"])
            #expect(sent.status == 0 && sent.output == "sent to 2 processes\n", "\(sent.output)")
            let left = try await pg(node, ["leave", "workers", b])
            #expect(left.status == 0 && left.output == "left workers (default): \(b)\n", "\(left.output)")
            let notJoined = try await pg(node, ["leave", "workers", b])
            #expect(notJoined.status == 1)
            #expect(notJoined.output == "error: NOT_JOINED: none of the pids is a member of \"workers\" in scope default\n", "\(notJoined.output)")
            let bad = try await pg(node, ["join", "workers", "nonsense"])
            #expect(bad.status == 1)
            #expect(bad.output == "error: BAD_REQUEST: pids[0]: \"nonsense\" is not a PID (node@incarnation.serial)\n", "\(bad.output)")
            let unknown = try await pg(node, ["members", "--scope", "nope", "workers"])
            #expect(unknown.status == 1)
            #expect(unknown.output.hasPrefix("error: NOT_FOUND: no pg scope named nope"), "\(unknown.output)")
            #expect(try json(try await pg(node, ["members", "workers", "--json"]).output) as? [String: [String]] == ["members": [a, a]])

            // Names that are not plain path segments: a slash, dots, and `events` (the scope stream's path).
            for group in ["jobs/eu", "..", "events"] {
                #expect(try await pg(node, ["join", group, b]).status == 0, "\(group)")
                let members = try await pg(node, ["members", group, "--json"])
                #expect(try json(members.output) as? [String: [String]] == ["members": [b]], "\(group): \(members.output)")
            }
            let all = try await pg(node, ["groups", "--json"])
            #expect(try json(all.output) as? [String: [String]] == ["groups": ["..", "events", "jobs/eu", "workers"]], "\(all.output)")
        } catch {
            let logs = node.process.output
            await node.stop()
            throw ClusterTestFailure(underlying: error, logs: logs)
        }
        await node.stop()
    }

    @Test("cohort pg watch prints the snapshot, then each join and leave, and exits after --count changes")
    func watchPrintsSnapshotThenChanges() async throws {
        let node = try NodeUnderTest(name: "cli-pg-watch")
        do {
            try await node.waitUntilServing()
            let a = try await node.openSession(), b = try await node.openSession()
            #expect(try await pg(node, ["join", "room", a]).status == 0)
            let watch = try DaemonProcess(executable: "cohort", arguments: ["pg", "watch", "room", "--count", "2", "--admin", node.base])
            let watchJSON = try DaemonProcess(executable: "cohort", arguments: ["pg", "watch", "--count", "1", "--json", "--admin", node.base])
            defer { watch.signal(SIGKILL); watchJSON.signal(SIGKILL) }
            try await waitUntil(within: .seconds(10), "the watches' snapshots") {
                watch.output.contains("snapshot") && watchJSON.output.contains("snapshot")
            }
            #expect(try await pg(node, ["join", "room", b]).status == 0)
            #expect(try await pg(node, ["leave", "room", a]).status == 0)
            #expect(try await watch.waitForExit(within: .seconds(10)) == 0, "\(watch.output)")
            #expect(watch.output == "snapshot \(a)\njoin \(b)\nleave \(a)\n")
            #expect(try await watchJSON.waitForExit(within: .seconds(10)) == 0, "\(watchJSON.output)")
            #expect(lines(watchJSON.output) == [
                #"{"event":"snapshot","groups":{"room":["\#(a)"]}}"#, #"{"event":"join","group":"room","pids":["\#(b)"]}"#,
            ])
        } catch {
            let logs = node.process.output
            await node.stop()
            throw ClusterTestFailure(underlying: error, logs: logs)
        }
        await node.stop()
    }
}

/// Runs `cohort pg` with `arguments` against `node`; its exit status and output (standard output and error).
func pg(_ node: NodeUnderTest, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await DaemonProcess.run("cohort", ["pg"] + arguments + ["--admin", node.base])
}

extension NodeUnderTest {
    /// Opens a session and returns its PID.
    func openSession() async throws -> String {
        let reply = try await httpRequest("POST", base + "/v1/sessions", body: #"{"ttl":"60s"}"#)
        guard reply.status == 201 else { throw UnexpectedReply(reply: reply) }
        return try decodeReply(SessionReply.self, reply).pid
    }
}
