import CohortCore
import CohortTestKit
import Gossip
import Testing

/// `isMetaComplete`: a node whose metadata is completed just after start joins once, with the final
/// metadata, instead of joining and then announcing itself a second time (issue 18: in a mass start every
/// such second announcement is gossiped by every member, and it slowed convergence).
@Suite("GossipService: the first join announces the final metadata")
struct ServiceJoinMetaTests {
    @Test func firstJoinWaitsForTheMetadataUpdate() async throws {
        try await withCluster { cluster in
            let seed = try await cluster.start("seed")
            let joiner = try await cluster.start("joiner", joining: [seed.joinAddress]) {
                $0.meta = [1]
                $0.isMetaComplete = { $0.first == 2 }
                $0.initialMetaTimeout = .seconds(60)
            }
            // Bound and running, but its join is held: the seed does not learn of it (on loopback an
            // unheld join takes a few milliseconds), not even after an update that is still incomplete.
            try await holdsThroughout(.milliseconds(300), "the seed has not heard of the joiner", pollEvery: .milliseconds(10)) {
                await seed.view()["joiner"] == nil
            }
            await joiner.service.updateMeta([3])
            try await holdsThroughout(.milliseconds(300), "the seed has not heard of the joiner", pollEvery: .milliseconds(10)) {
                await seed.view()["joiner"] == nil
            }
            #expect(await joiner.service.hasJoined == false)
            await joiner.service.updateMeta([2])
            try await waitFor("the seed to see the joiner alive with its final metadata") {
                let seen = await seed.service.members.first { $0.name == NodeID("joiner") }
                return seen?.state == .alive && seen?.meta == [2]
            }
            // The seed merges the joiner's state from its push/pull before the joiner has read the answer
            // (on a loaded machine that answer can even time out and the join be retried).
            try await waitFor("the joiner to count itself joined") { await joiner.service.hasJoined }
        }
    }

    @Test func firstJoinGoesAheadWhenTheMetadataIsNotUpdatedInTime() async throws {
        try await withCluster { cluster in
            let seed = try await cluster.start("seed")
            _ = try await cluster.start("joiner", joining: [seed.joinAddress]) {
                $0.meta = [1]
                $0.isMetaComplete = { $0.first == 2 }
                $0.initialMetaTimeout = .milliseconds(200)
            }
            try await waitFor("the seed to see the joiner with the metadata it started with") {
                await seed.service.members.first { $0.name == NodeID("joiner") }?.meta == [1]
            }
        }
    }
}
