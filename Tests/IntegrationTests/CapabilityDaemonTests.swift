import CohortTestKit
import Foundation
import Testing

/// `cohortd` needs no capability beyond an unprivileged user's: a container's root and the shipped
/// systemd unit (empty `CapabilityBoundingSet=`) lack `CAP_NET_ADMIN`, which setting a socket option at
/// the wrong level (SO_DEBUG for TCP_NODELAY) once demanded of every gossip and mesh connection.
@Suite("Daemons without CAP_NET_ADMIN", .serialized)
struct CapabilityDaemonTests {
    /// Runs the daemon with CAP_NET_ADMIN out of its bounding set, so even as root it cannot have it.
    static let withoutNetAdmin = ["/usr/bin/setpriv", "--bounding-set", "-net_admin", "--"]

    @Test("two nodes without CAP_NET_ADMIN join each other, found a Raft group over the mesh and commit a write made on the other node")
    func clusterFormsWithoutNetAdmin() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.withoutNetAdmin[0]) else {
            Issue.record("setpriv (util-linux) is needed: apt-get install -y util-linux")
            return
        }
        let first = try ClusterNodeUnderTest(name: "cap1", raft: ["bootstrap_expect: 2"], launcher: Self.withoutNetAdmin)
        let second = try ClusterNodeUnderTest(name: "cap2", join: [first], raft: ["bootstrap_expect: 2"], launcher: Self.withoutNetAdmin)
        try await withNodes([first, second]) { nodes in
            for node in nodes { try await node.waitUntilServing() }
            // The launcher really dropped it: the daemon's own bounding set lacks CAP_NET_ADMIN (bit 12).
            let status = try String(contentsOfFile: "/proc/\(first.process.pid)/status", encoding: .utf8)
            let bounding = try #require(status.split(separator: "\n").first { $0.hasPrefix("CapBnd:") })
            let mask = try #require(UInt64(bounding.split(separator: "\t").last ?? "", radix: 16))
            #expect(mask & (1 << 12) == 0, "\(bounding)")

            try await waitUntil(within: .seconds(30), "both alive on both (gossip's TCP join)") {
                for node in nodes where await node.aliveMembers() != ["cap1", "cap2"] { return false }
                return true
            }
            // Two servers keep one voter and one standby (the largest odd number of voters): both in one group.
            try await waitForAgreement(nodes, "one Raft group of both over the mesh") { $0.voters.count + $0.standbys.count == 2 }
            try await second.putEventually("capability", "none")
            #expect(await first.value("capability") == "none")
        }
    }
}
