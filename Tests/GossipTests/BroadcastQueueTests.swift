import CohortCore
import CohortTestKit
import Gossip
import Testing

/// The broadcast queue's order and bookkeeping, held against the plain definition: sort the whole queue by
/// (transmits ascending, size descending, age newest first) and take greedily what fits.
@Suite("SWIM core: broadcast queue")
struct BroadcastQueueTests {
    /// The queue as first written: a list, sorted for every datagram. Slow, obviously right.
    struct ReferenceQueue {
        struct Entry {
            var message: GossipMessage
            var size: Int
            var transmits: Int
            var id: Int
            var node: String?
        }

        var entries: [Entry] = []
        var nextID = 0
        var userCount: Int { entries.count { $0.node == nil } }

        mutating func enqueue(_ message: GossipMessage, about node: String?) {
            if let node { entries.removeAll { $0.node == node } }
            nextID += 1
            entries.append(Entry(message: message, size: message.encodedLength, transmits: 0, id: nextID, node: node))
            guard node == nil, userCount > BroadcastQueue.maxUserMessages else { return }
            let users = entries.indices.filter { entries[$0].node == nil }
            let victim = users.max { a, b in
                let x = entries[a], y = entries[b]
                return x.transmits != y.transmits ? x.transmits < y.transmits : x.id > y.id
            }
            if let victim { entries.remove(at: victim) }
        }

        mutating func take(budget: Int, overhead: Int, transmitLimit: Int) -> [GossipMessage] {
            let order = entries.indices.sorted { a, b in
                let x = entries[a], y = entries[b]
                if x.transmits != y.transmits { return x.transmits < y.transmits }
                if x.size != y.size { return x.size > y.size }
                return x.id > y.id
            }
            var used = 0
            var taken: [GossipMessage] = []
            var finished: Set<Int> = []
            for index in order where used + overhead + entries[index].size <= budget {
                used += overhead + entries[index].size
                taken.append(entries[index].message)
                entries[index].transmits += 1
                if entries[index].transmits >= transmitLimit { finished.insert(entries[index].id) }
            }
            entries.removeAll { finished.contains($0.id) }
            return taken
        }
    }

    static func alive(_ node: String, incarnation: UInt32, metaBytes: Int) -> GossipMessage {
        .alive(AliveMessage(
            incarnation: incarnation, node: node, address: [10, 0, 0, 1], port: 7946, meta: Array(repeating: 7, count: metaBytes)
        ))
    }

    @Test("random enqueues, replacements and takes give what sorting the whole queue gives, datagram by datagram", arguments: [1, 2, 3, 4] as [UInt64])
    func matchesTheSortedDefinition(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        var queue = BroadcastQueue()
        var reference = ReferenceQueue()
        let nodes = (0..<40).map { "node-\($0 * 37)" }  // names of 6 to 9 bytes: several sizes
        var incarnation: UInt32 = 0
        for step in 0..<3_000 {
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<4:
                incarnation += 1
                let node = nodes.randomElement(using: &generator)!
                let message = Int.random(in: 0..<3, using: &generator) == 0
                    ? GossipMessage.dead(DeadMessage(incarnation: incarnation, node: node, from: "x"))
                    : Self.alive(node, incarnation: incarnation, metaBytes: Int.random(in: 0...3, using: &generator) * 8)
                queue.enqueue(message)
                reference.enqueue(message, about: node)
            case 4:
                let payload = [UInt8(step & 0xff), UInt8(step >> 8)] + Array(repeating: 1, count: Int.random(in: 0...40, using: &generator))
                queue.enqueue(user: payload)
                reference.enqueue(.user(payload), about: nil)
            default:
                let budget = Int.random(in: 20...600, using: &generator)
                let limit = Int.random(in: 3...6, using: &generator)
                let taken = queue.take(budget: budget, overhead: 2, transmitLimit: limit)
                let expected = reference.take(budget: budget, overhead: 2, transmitLimit: limit)
                #expect(taken == expected, "step \(step)")
                if taken != expected { return }
            }
            #expect(queue.count == reference.entries.count && queue.userCount == reference.userCount, "step \(step)")
        }
        while queue.count > 0 {
            let taken = queue.take(budget: 1_400, overhead: 2, transmitLimit: 4)
            #expect(taken == reference.take(budget: 1_400, overhead: 2, transmitLimit: 4))
            if taken.isEmpty { break }
        }
        #expect(queue.count == 0 && reference.entries.isEmpty)
        // An emptied queue (which gave its storage back) queues and orders news as before.
        let news = Self.alive("node-1", incarnation: incarnation + 1, metaBytes: 0)
        queue.enqueue(news)
        queue.enqueue(user: [1])
        #expect(queue.take(budget: 1_400, overhead: 2, transmitLimit: 1) == [news, .user([1])])
        #expect(queue.count == 0 && queue.userCount == 0)
    }

    @Test("past 1,024 user messages the most transmitted, then oldest, goes, as the sorted definition drops it")
    func userBoundMatchesTheSortedDefinition() {
        var generator = SplitMix64(seed: 9)
        var queue = BroadcastQueue()
        var reference = ReferenceQueue()
        for step in 0..<3_000 {
            let payload = [UInt8(step & 0xff), UInt8(step >> 8)] + Array(repeating: 2, count: Int.random(in: 0...6, using: &generator))
            queue.enqueue(user: payload)
            reference.enqueue(.user(payload), about: nil)
            if step % 97 == 0 {
                let taken = queue.take(budget: 300, overhead: 2, transmitLimit: 50)
                #expect(taken == reference.take(budget: 300, overhead: 2, transmitLimit: 50))
            }
        }
        #expect(queue.userCount == BroadcastQueue.maxUserMessages && reference.userCount == BroadcastQueue.maxUserMessages)
        #expect(queue.take(budget: 1_000_000, overhead: 2, transmitLimit: 1) == reference.take(budget: 1_000_000, overhead: 2, transmitLimit: 1))
        #expect(queue.count == 0)
    }

    @Test("news about a node replaces the queued news about it wherever it sits, and only that")
    func replacementFindsTheOldMessageInAnyTier() {
        var queue = BroadcastQueue()
        let first = Self.alive("b", incarnation: 1, metaBytes: 0)
        queue.enqueue(first)
        queue.enqueue(Self.alive("c", incarnation: 1, metaBytes: 0))
        _ = queue.take(budget: 1_400, overhead: 2, transmitLimit: 10)  // both sent once
        let death = GossipMessage.dead(DeadMessage(incarnation: 1, node: "b", from: "a"))
        queue.enqueue(death)
        #expect(queue.count == 2)
        let next = queue.take(budget: 1_400, overhead: 2, transmitLimit: 10)
        #expect(next.first == death, "the fresh death goes first")
        #expect(!next.contains(first), "the replaced alive is gone")
        #expect(next.count == 2)
    }

    @Test("a message too large for any datagram stays queued and blocks nothing behind it")
    func oversizedMessageIsSkipped() {
        var queue = BroadcastQueue()
        queue.enqueue(user: Array(repeating: 1, count: 2_000))
        let small = Self.alive("b", incarnation: 1, metaBytes: 0)
        queue.enqueue(small)
        #expect(queue.take(budget: 1_400, overhead: 2, transmitLimit: 1) == [small])
        #expect(queue.count == 1 && queue.userCount == 1)
    }
}
