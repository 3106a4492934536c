import CohortTestKit
import Foundation
import Testing

/// A restarted node finds its cluster again from the members it saw alive (`<data_dir>/_sys/known-members`),
/// at once, instead of waiting for `rejoin_interval` — a seed with no `join_addrs` too (issue 17).
@Suite("Known members across real daemons", .serialized)
struct KnownMembersDaemonTests {
    /// Every node re-joins only every 10 minutes, and nobody gossips to a member that left, so without the
    /// known members the restarted seed would stay alone for the whole test. (A member killed instead is
    /// still gossiped to for 30 s — memberlist's gossip-to-the-dead time — which brings back a node restarted
    /// within that window by itself.)
    static let slowRejoin = ["rejoin_interval: 10m"]

    @Test("a seed with no join_addrs, stopped and started again (systemctl restart), is back among its members at once from the ones it knew")
    func restartedSeedRejoins() async throws {
        let seed = try ClusterNodeUnderTest(name: "km-seed", membership: Self.slowRejoin)
        let second = try ClusterNodeUnderTest(name: "km-b", join: [seed], membership: Self.slowRejoin)
        let third = try ClusterNodeUnderTest(name: "km-c", join: [seed], membership: Self.slowRejoin)
        try await withNodes([seed, second, third]) { nodes in
            for node in nodes { try await node.waitUntilServing() }
            let everyone: Set = ["km-seed", "km-b", "km-c"]
            try await waitUntil(within: .seconds(30), "all three alive everywhere") {
                for node in nodes where await node.aliveMembers() != everyone { return false }
                return true
            }
            let file = seed.dataDirectory + "/_sys/known-members"
            try await waitUntil(within: .seconds(10), "the seed to record km-b and km-c") {
                let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
                return text.contains("km-b \(second.ip):7946 ") && text.contains("km-c \(third.ip):7946 ")
            }

            seed.process.signal(SIGTERM)
            #expect(try await seed.process.waitForExit(within: .seconds(15)) == 0)
            try await waitUntil(within: .seconds(30), "km-b and km-c to see the seed gone") {
                let secondSees = await second.aliveMembers(), thirdSees = await third.aliveMembers()
                return !secondSees.contains("km-seed") && !thirdSees.contains("km-seed")
            }

            try seed.restart()
            try await seed.waitUntilServing()
            try await waitUntil(within: .seconds(20), "the restarted seed and its members to see each other") {
                for node in nodes where await node.aliveMembers() != everyone { return false }
                return true
            }
            #expect(seed.process.output.contains("re-joined the members known before the restart"))
        }
    }
}
