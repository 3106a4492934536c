import CohortTestKit
import Foundation
import Testing

/// `cohort raft` and its operator subcommands against a real one-node group.
@Suite("CLI: cohort raft")
struct CLIRaftTests {
    @Test("a one-node group: cohort raft keeps showing the status; raft peers, remove-peer, transfer-leader and operations as text and JSON, with their errors")
    func cli() async throws {
        let node = try await startSingleNodeGroup("opcli1")
        try await withNodes([node]) { _ in
            let status = try await cohort(node, ["raft"])
            #expect(status.status == 0, "\(status.output)")
            #expect(status.output.contains("state:          leader"))
            let explicit = try await cohort(node, ["raft", "status", "--json"])
            #expect((try json(explicit.output) as? [String: Any])?["leader"] as? String == "opcli1")

            let peers = try await cohort(node, ["raft", "peers"])
            #expect(peers.status == 0, "\(peers.output)")
            let peerLines = lines(peers.output)
            #expect(peerLines.first?.hasPrefix("leader opcli1, term ") == true, "\(peers.output)")
            #expect(peerLines.dropFirst().first?.hasPrefix("NAME") == true)
            #expect(peerLines.last?.split(separator: " ", omittingEmptySubsequences: true).prefix(3) == ["opcli1", "voter", "yes"])
            let peersJSON = try #require(try json(try await cohort(node, ["raft", "peers", "--json"]).output) as? [String: Any])
            #expect((peersJSON["peers"] as? [[String: Any]])?.first?["suffrage"] as? String == "voter")

            let last = try await cohort(node, ["raft", "remove-peer", "opcli1"])
            #expect(last.status == 1)
            #expect(last.output.hasPrefix("error: CONFLICT: opcli1 is the last voter"), "\(last.output)")
            let unknown = try await cohort(node, ["raft", "remove-peer", "nosuch"])
            #expect(unknown.status == 1)
            #expect(unknown.output.hasPrefix("error: NOT_FOUND: nosuch is not in the Raft configuration"), "\(unknown.output)")
            let alone = try await cohort(node, ["raft", "transfer-leader"])
            #expect(alone.status == 1)
            #expect(alone.output.hasPrefix("error: CONFLICT: no other voter"), "\(alone.output)")
            let badTimeout = try await cohort(node, ["raft", "transfer-leader", "--timeout", "soon"])
            #expect(badTimeout.status == 1)
            #expect(badTimeout.output.hasPrefix("error: BAD_REQUEST: timeout"), "\(badTimeout.output)")

            let operations = try await cohort(node, ["raft", "operations"])
            #expect(operations.status == 0, "\(operations.output)")
            #expect(lines(operations.output).first?.hasPrefix("#") == true)
            #expect(operations.output.contains("bootstrap") && operations.output.contains("bootstrap_expect 1"), "\(operations.output)")
            let operationsJSON = try #require(try json(try await cohort(node, ["raft", "operations", "--json"]).output) as? [String: Any])
            #expect(operationsJSON["node"] as? String == "opcli1")
            #expect(operationsJSON["capacity"] as? Int == 64)
            #expect((operationsJSON["operations"] as? [[String: Any]])?.first?["op"] as? String == "bootstrap")
        }
    }
}
