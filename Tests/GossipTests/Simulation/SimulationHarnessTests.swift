import CohortCore
import CohortTestKit
import Testing

/// The CohortTestKit simulation harness on its own: generator, scheduler and network. (They live here until
/// CohortTestKit has a test target of its own.)
@Suite("Simulation harness")
struct SimulationHarnessTests {
    typealias Network = SimulatedNetwork<String, Int>

    /// Five nodes that each send a datagram and a stream message to a random peer whenever their timer
    /// fires (every 10–30 ms), over `conditions`, for one simulated second.
    static func chatter(seed: UInt64, conditions: LinkConditions = .lossy) -> Network {
        var network = Network(seed: seed, conditions: conditions, recordsTrace: true)
        let nodes = ["a", "b", "c", "d", "e"]
        var generator = SplitMix64(seed: seed, stream: 1)
        for node in nodes { network.setTimer(for: node, at: network.now) }
        var counter = 0
        network.run(until: network.start + .seconds(1)) { network, event in
            guard case .timer(let node) = event else { return }
            counter += 1
            let peer = nodes.filter { $0 != node }.randomElement(using: &generator)!
            network.send(counter, from: node, to: peer)
            network.sendReliably(counter, from: node, to: peer)
            network.setTimer(for: node, at: network.now + .milliseconds(10) + generator.duration(below: .milliseconds(20)))
        }
        return network
    }

    @Test("SplitMix64 yields the reference sequence, and streams of one seed differ")
    func generator() {
        var reference = SplitMix64(seed: 0)
        #expect(reference.next() == 0xE220_A839_7B1D_CDAF)
        #expect(reference.next() == 0x6E78_9E6A_A1B9_65F4)
        var first = SplitMix64(seed: 7, stream: 0), second = SplitMix64(seed: 7, stream: 1)
        #expect((0..<4).map { _ in first.next() } != (0..<4).map { _ in second.next() })
        var again = SplitMix64(seed: 7, stream: 0), copy = SplitMix64(seed: 7, stream: 0)
        #expect((0..<4).map { _ in again.next() } == (0..<4).map { _ in copy.next() })
        let zero = again.duration(below: .zero), never = again.chance(0), always = again.chance(1)
        #expect(zero == .zero && !never && always)
    }

    @Test("the scheduler fires in time order, ties in scheduling order, skips cancelled events, and never runs backwards")
    func scheduler() {
        var scheduler = EventScheduler<String>()
        scheduler.schedule("late", after: .seconds(2))
        scheduler.schedule("tie-1", after: .seconds(1))
        let cancelled = scheduler.schedule("cancelled", after: .milliseconds(500))
        scheduler.schedule("tie-2", after: .seconds(1))
        scheduler.cancel(cancelled)
        scheduler.cancel(cancelled)
        #expect(scheduler.pendingCount == 3)
        var fired: [(String, Duration)] = []
        while let (_, event) = scheduler.popNext(until: scheduler.start + .seconds(1)) {
            fired.append((event, scheduler.elapsed))
        }
        #expect(fired.map(\.0) == ["tie-1", "tie-2"] && fired.allSatisfy { $0.1 == .seconds(1) })
        #expect(scheduler.elapsed == .seconds(1))
        scheduler.schedule("past", at: scheduler.start)
        #expect(scheduler.popNext(until: scheduler.now)?.time == scheduler.now, "the past is now")
        #expect(scheduler.popNext(until: scheduler.start + .seconds(5))?.event == "late")
        #expect(scheduler.popNext(until: scheduler.start + .seconds(5)) == nil && scheduler.elapsed == .seconds(5))
    }

    @Test("the same seed gives the same trace; another seed gives another", arguments: [1, 2, 3] as [UInt64])
    func determinism(seed: UInt64) {
        let first = Self.chatter(seed: seed), second = Self.chatter(seed: seed)
        #expect(first.trace.count > 500)
        #expect(first.trace == second.trace && first.statistics == second.statistics)
        #expect(Self.chatter(seed: seed + 100).trace != first.trace)
    }

    @Test("loss, duplication and reordering happen at about the rates set", arguments: [1, 2] as [UInt64])
    func impairmentRates(seed: UInt64) {
        let conditions = LinkConditions(dropRate: 0.1, duplicateRate: 0.05, reorderRate: 0.2)
        var network = Network(seed: seed, conditions: conditions)
        let count = 20_000
        for value in 0..<count { network.send(value, from: "a", to: "b") }
        let statistics = network.statistics
        #expect((1_700...2_300).contains(statistics.datagramsLost), "lost \(statistics.datagramsLost) of \(count)")
        #expect((700...1_100).contains(statistics.datagramsDuplicated), "duplicated \(statistics.datagramsDuplicated)")
        #expect((3_300...4_100).contains(statistics.datagramsReordered), "reordered \(statistics.datagramsReordered)")
        var received: [Int] = []
        network.run(until: network.now + .seconds(1)) { _, event in
            if case .delivery(let delivery) = event { received.append(delivery.payload) }
        }
        #expect(received.count == count - statistics.datagramsLost + statistics.datagramsDuplicated)
        #expect(received != received.sorted(), "held-back datagrams arrive after later ones")
    }

    @Test("streams arrive once and in order despite jitter; datagrams with jitter reorder")
    func streamOrdering() {
        let conditions = LinkConditions(latency: .milliseconds(5), jitter: .milliseconds(50), dropRate: 0.5)
        var network = Network(seed: 9, conditions: conditions)
        for value in 0..<200 {
            network.sendReliably(value, from: "a", to: "b")
            network.send(1_000 + value, from: "a", to: "b")
        }
        var streams: [Int] = [], datagrams: [Int] = []
        network.run(until: network.now + .seconds(1)) { _, event in
            guard case .delivery(let delivery) = event else { return }
            if delivery.transport == .stream { streams.append(delivery.payload) } else { datagrams.append(delivery.payload) }
        }
        #expect(streams == Array(0..<200), "no stream message is lost, duplicated or reordered")
        #expect((50..<150).contains(datagrams.count) && datagrams != datagrams.sorted())
    }

    @Test("a partition blocks delivery across it, including messages already in flight, until healed")
    func partitions() {
        var network = Network(seed: 1)
        network.send(1, from: "a", to: "c")  // in flight when the cut comes
        network.partition([["a", "b"], ["c"]])
        #expect(network.canReach(from: "a", to: "b") && !network.canReach(from: "a", to: "c") && !network.canReach(from: "x", to: "a"))
        network.send(2, from: "a", to: "b")
        network.send(3, from: "c", to: "a")
        let refused = !network.sendReliably(4, from: "a", to: "c")
        #expect(refused, "a stream across the cut is refused")
        #expect(delivered(&network) == [2])
        #expect(network.statistics.blockedByPartition == 2 && network.statistics.streamsRefused == 1)

        network.heal()
        network.block(from: "a", to: "b")
        network.send(5, from: "a", to: "b")
        network.send(6, from: "b", to: "a")
        #expect(delivered(&network) == [6], "a blocked link is one-way")
        network.heal()
        network.send(7, from: "a", to: "c")
        let opened = network.sendReliably(8, from: "c", to: "a")
        #expect(opened)
        #expect(delivered(&network) == [7, 8] && network.partitionGroups == nil)
    }

    @Test("a crashed node hears nothing and its timer never fires; a slow node hears everything late")
    func crashesAndSlowNodes() {
        var network = Network(seed: 1)
        network.setTimer(for: "a", at: network.now + .milliseconds(5))
        network.send(1, from: "b", to: "a")
        network.crash("a")
        network.send(2, from: "a", to: "b")
        let toCrashed = network.sendReliably(3, from: "b", to: "a")
        #expect(!toCrashed)
        #expect(delivered(&network).isEmpty && network.statistics.droppedAtDownNode == 1)
        #expect(network.trace.isEmpty, "tracing is off unless asked for")

        network.restart("a", at: network.now + .seconds(1))
        var events: [String] = []
        network.run(until: network.now + .seconds(2)) { _, event in
            if case .restarted(let node) = event { events.append(node) }
        }
        #expect(events == ["a"] && !network.isDown("a"))

        network.setProcessingDelay(.milliseconds(700), for: "a")
        let sentAt = network.now
        network.send(4, from: "b", to: "a")
        network.send(5, from: "a", to: "b")
        var arrivals: [Int: Duration] = [:]
        network.run(until: network.now + .seconds(1)) { network, event in
            if case .delivery(let delivery) = event { arrivals[delivery.payload] = network.now - sentAt }
        }
        #expect(arrivals[4] == .milliseconds(701) && arrivals[5] == .milliseconds(1))
    }

    /// Payloads delivered by the network from now until nothing is left in flight.
    private func delivered(_ network: inout Network) -> [Int] {
        var payloads: [Int] = []
        network.run(until: network.now + .seconds(1)) { _, event in
            if case .delivery(let delivery) = event { payloads.append(delivery.payload) }
        }
        return payloads
    }
}
