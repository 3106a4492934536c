import CohortCore
import Gossip
import Testing

/// MembershipEvents driven directly: snapshot first, deltas, resync of slow subscribers, ending.
@Suite("MembershipEvents")
struct ServiceMembershipEventsTests {
    static let start = ContinuousClock.now

    static func member(_ name: String, meta: [UInt8] = []) -> Member {
        Member(name: NodeID(name), ip: [127, 0, 0, 1], port: 7946, meta: meta, incarnation: 1, state: .alive, stateChange: start)
    }

    @Test func subscriptionStartsWithTheLiveMembersThenDeltas() async {
        let events = MembershipEvents()
        events.publish(.joined(Self.member("a")))
        events.publish(.joined(Self.member("b")))
        events.publish(.left(Self.member("b"), reason: .dead))
        var updates = events.subscribe().makeAsyncIterator()
        #expect(await updates.next() == .snapshot([Self.member("a")]))

        events.publish(.joined(Self.member("c")))
        events.publish(.updated(Self.member("a", meta: [1])))
        events.publish(.left(Self.member("c"), reason: .left))
        #expect(await updates.next() == .joined(Self.member("c")))
        #expect(await updates.next() == .updated(Self.member("a", meta: [1])))
        #expect(await updates.next() == .left(Self.member("c"), reason: .left))
        #expect(events.liveMembers == [Self.member("a", meta: [1])])
    }

    @Test func slowSubscriberGetsAResyncInsteadOfTheDeltasItMissed() async {
        let events = MembershipEvents()
        var updates = events.subscribe(limit: 2).makeAsyncIterator()
        #expect(await updates.next() == .snapshot([]))

        for name in ["a", "b", "c", "d"] { events.publish(.joined(Self.member(name))) }
        events.publish(.left(Self.member("d"), reason: .dead))
        #expect(await updates.next() == .resync(["a", "b", "c"].map { Self.member($0) }))

        events.publish(.joined(Self.member("e")))
        #expect(await updates.next() == .joined(Self.member("e")))
    }

    @Test func subscriberThatOverflowsBeforeItsFirstReadStillStartsWithASnapshot() async {
        let events = MembershipEvents()
        var updates = events.subscribe(limit: 1).makeAsyncIterator()
        events.publish(.joined(Self.member("a")))
        events.publish(.joined(Self.member("b")))
        #expect(await updates.next() == .snapshot([Self.member("a"), Self.member("b")]))
        events.publish(.joined(Self.member("c")))
        #expect(await updates.next() == .joined(Self.member("c")))
    }

    @Test func fastSubscribersAreUnaffectedByASlowOne() async {
        let events = MembershipEvents()
        var slow = events.subscribe(limit: 1).makeAsyncIterator()
        var fast = events.subscribe().makeAsyncIterator()
        #expect(await fast.next() == .snapshot([]))
        for name in ["a", "b", "c"] {
            events.publish(.joined(Self.member(name)))
            #expect(await fast.next() == .joined(Self.member(name)))
        }
        #expect(await slow.next() == .snapshot(["a", "b", "c"].map { Self.member($0) }))
    }

    @Test func waitingSubscriberIsWokenByAPublish() async {
        let events = MembershipEvents()
        let stream = events.subscribe()
        let reader = Task {
            var updates = stream.makeAsyncIterator()
            _ = await updates.next()
            return await updates.next()
        }
        // Whether the reader is already waiting or not, it sees the delta exactly once.
        events.publish(.joined(Self.member("a")))
        #expect(await reader.value == .joined(Self.member("a")))
    }

    @Test func finishEndsSubscriptionsAfterTheirQueuedUpdates() async {
        let events = MembershipEvents()
        var updates = events.subscribe().makeAsyncIterator()
        events.publish(.joined(Self.member("a")))
        events.finish()
        #expect(await updates.next() == .snapshot([]))
        #expect(await updates.next() == .joined(Self.member("a")))
        #expect(await updates.next() == nil)
        var late = events.subscribe().makeAsyncIterator()
        #expect(await late.next() == .snapshot([Self.member("a")]))
        #expect(await late.next() == nil)
    }

    @Test func aBatchCarriesEverythingQueuedSinceTheLastReadInOrder() async {
        let events = MembershipEvents()
        events.publish(.joined(Self.member("a")))
        var batches = events.subscribeBatches().makeAsyncIterator()
        let names = (0..<100).map { "n\($0)" }
        for name in names { events.publish(.joined(Self.member(name))) }
        events.publish(.left(Self.member("a"), reason: .dead))
        // The burst is one batch: a consumer that recomputes per batch recomputes once.
        let burst = await batches.next()
        #expect(burst == [.snapshot([Self.member("a")])] + names.map { .joined(Self.member($0)) } + [.left(Self.member("a"), reason: .dead)])
        events.publish(.updated(Self.member("n1", meta: [1])))
        #expect(await batches.next() == [.updated(Self.member("n1", meta: [1]))])
    }

    @Test func waitingBatchSubscriberIsWokenByAPublish() async {
        let events = MembershipEvents()
        let stream = events.subscribeBatches()
        let reader = Task {
            var batches = stream.makeAsyncIterator()
            var seen: [MembershipUpdate] = []
            while seen.count < 2, let batch = await batches.next() { seen += batch }
            return seen
        }
        // Whether the reader is already waiting or not, it sees the delta exactly once, after the snapshot.
        events.publish(.joined(Self.member("a")))
        #expect(await reader.value == [.snapshot([]), .joined(Self.member("a"))])
    }

    /// Waits (bounded) until `count` readers wait in a read.
    static func waitForReaders(_ events: MembershipEvents, _ count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while events.waitingReaders < count {
            try #require(ContinuousClock.now < deadline, "readers never waited")
            await Task.yield()
        }
    }

    @Test func aWaitingBatchSubscriberGetsAWholePublicationAtOnce() async throws {
        let events = MembershipEvents()
        let stream = events.subscribeBatches()
        var batches = stream.makeAsyncIterator()
        #expect(await batches.next() == [.snapshot([])])
        let reader = Task {
            var batches = stream.makeAsyncIterator()
            return await batches.next()
        }
        try await Self.waitForReaders(events, 1)
        let step: [MembershipEvent] = [.joined(Self.member("a")), .joined(Self.member("b")), .left(Self.member("a"), reason: .dead)]
        events.publish(step)
        // One wake-up for the whole step, everything in it, in order.
        #expect(await reader.value == [.joined(Self.member("a")), .joined(Self.member("b")), .left(Self.member("a"), reason: .dead)])
        #expect(events.liveMembers == [Self.member("b")])
    }

    @Test func aWaitingOneAtATimeSubscriberReadsAPublicationInOrder() async throws {
        let events = MembershipEvents()
        let stream = events.subscribe()
        var updates = stream.makeAsyncIterator()
        #expect(await updates.next() == .snapshot([]))
        let reader = Task {
            var updates = stream.makeAsyncIterator()
            var seen: [MembershipUpdate] = []
            while seen.count < 3, let update = await updates.next() { seen.append(update) }
            return seen
        }
        try await Self.waitForReaders(events, 1)
        events.publish([.joined(Self.member("a")), .joined(Self.member("b")), .updated(Self.member("a", meta: [2]))])
        #expect(await reader.value == [.joined(Self.member("a")), .joined(Self.member("b")), .updated(Self.member("a", meta: [2]))])
    }

    @Test func aPublicationLargerThanTheLimitOverflowsIntoOneResync() async {
        let events = MembershipEvents()
        var updates = events.subscribe(limit: 2).makeAsyncIterator()
        #expect(await updates.next() == .snapshot([]))
        // Not reading: the three of one publication overflow the limit of two.
        events.publish([.joined(Self.member("a")), .joined(Self.member("b")), .joined(Self.member("c"))])
        #expect(await updates.next() == .resync(["a", "b", "c"].map { Self.member($0) }))
        events.publish([.joined(Self.member("d"))])
        #expect(await updates.next() == .joined(Self.member("d")))
    }

    @Test func aBatchSubscriberThatFallsBehindGetsOneResync() async {
        let events = MembershipEvents()
        var batches = events.subscribeBatches(limit: 2).makeAsyncIterator()
        #expect(await batches.next() == [.snapshot([])])
        for name in ["a", "b", "c"] { events.publish(.joined(Self.member(name))) }
        #expect(await batches.next() == [.resync(["a", "b", "c"].map { Self.member($0) })])
        events.publish(.joined(Self.member("d")))
        events.finish()
        #expect(await batches.next() == [.joined(Self.member("d"))])
        #expect(await batches.next() == nil)
    }

    @Test func cancellingTheReaderEndsItsSubscription() async {
        let events = MembershipEvents()
        let stream = events.subscribe()
        let reader = Task {
            var count = 0
            for await _ in stream { count += 1 }
            return count
        }
        reader.cancel()
        _ = await reader.value
        events.publish(.joined(Self.member("a")))
    }

    @Test(arguments: [
        ("10.0.0.1:7000", JoinAddress(host: "10.0.0.1", port: 7000)),
        ("seed.example", JoinAddress(host: "seed.example", port: 7946)),
        (" node-1:8301 ", JoinAddress(host: "node-1", port: 8301)),
        ("[::1]:7000", JoinAddress(host: "::1", port: 7000)),
        ("::1", JoinAddress(host: "::1", port: 7946)),
    ])
    func joinAddressParses(_ text: String, _ expected: JoinAddress) {
        #expect(JoinAddress(parsing: text) == expected)
    }

    @Test(arguments: ["", "host:", "host:0", "host:70000", "host:port", "[::1]:x"])
    func joinAddressRejects(_ text: String) {
        #expect(JoinAddress(parsing: text) == nil)
    }
}
