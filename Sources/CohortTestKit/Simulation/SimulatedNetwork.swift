/// A seeded, deterministic network of simulated nodes, with one manual clock for messages and timers.
///
/// It is generic over the node address and the payload, so any protocol core can run on it: the driver
/// sends payloads with ``send(_:from:to:)`` (datagrams: latency, jitter, loss, duplicates, reordering) or
/// ``sendReliably(_:from:to:)`` (streams: reliable, ordered, refused across a cut), keeps one timer per
/// node with ``setTimer(for:at:)``, and runs the world by taking events from ``next(until:)`` — a message
/// arriving or a timer firing — in time order, ties in the order they were scheduled. Faults
/// (partitions, blocked links, crashed nodes, slow nodes) are in `SimulatedNetwork+Faults.swift`.
///
/// Every random choice comes from a ``SplitMix64`` seeded at creation, so the same seed and the same
/// calls give the same run; with ``recordsTrace`` the run is written down as ``trace``.
public struct SimulatedNetwork<Address: Hashable & Sendable, Payload: Sendable>: Sendable {
    enum Scheduled: Sendable {
        case delivery(NetworkDelivery<Address, Payload>)
        case timer(Address)
        case restart(Address)
    }

    /// A direction of a link.
    struct Link: Hashable, Sendable {
        var from: Address
        var to: Address
    }

    /// Conditions of every link without its own (``setConditions(_:from:to:)``).
    public var conditions: LinkConditions
    /// Whether ``trace`` is written; counting ``statistics`` costs nothing and always happens.
    public var recordsTrace: Bool
    /// What happened so far, when ``recordsTrace`` is set.
    public internal(set) var trace: [NetworkTraceEntry<Address>] = []
    /// Counters of what happened so far.
    public internal(set) var statistics = NetworkStatistics()

    var scheduler: EventScheduler<Scheduled>
    var generator: SplitMix64
    var linkConditions: [Link: LinkConditions] = [:]
    /// The partition in force: each address's side. Nil when the network is whole.
    var sides: [Address: Int]?
    var blockedLinks: Set<Link> = []
    var down: Set<Address> = []
    var processingDelays: [Address: Duration] = [:]
    var timers: [Address: ScheduledEventID] = [:]
    var lastStreamArrival: [Link: ContinuousClock.Instant] = [:]
    var nextMessageID: UInt64 = 1

    /// A whole network with no nodes down, starting at `start`.
    public init(
        seed: UInt64, conditions: LinkConditions = .ideal, recordsTrace: Bool = false,
        start: ContinuousClock.Instant = SimulationTime.origin
    ) {
        self.conditions = conditions
        self.recordsTrace = recordsTrace
        self.scheduler = EventScheduler(start: start)
        self.generator = SplitMix64(seed: seed, stream: .max)
    }

    /// The current simulated time.
    public var now: ContinuousClock.Instant { scheduler.now }
    /// When the simulation started.
    public var start: ContinuousClock.Instant { scheduler.start }
    /// Simulated time since ``start``.
    public var elapsed: Duration { scheduler.elapsed }

    /// Sets the conditions of the link from `from` to `to` only (one direction); nil restores the default.
    public mutating func setConditions(_ conditions: LinkConditions?, from: Address, to: Address) {
        linkConditions[Link(from: from, to: to)] = conditions
    }

    /// The conditions in force from `from` to `to`.
    public func conditions(from: Address, to: Address) -> LinkConditions {
        linkConditions[Link(from: from, to: to)] ?? conditions
    }

    // MARK: Sending

    /// Sends a datagram. It is dropped at once when the sender is down or cannot reach `to`, or by chance
    /// (``LinkConditions/dropRate``); otherwise it arrives after the link's latency and jitter, plus
    /// ``LinkConditions/reorderDelay`` when held back, plus the destination's processing delay, and possibly
    /// twice. Returns how many copies are on their way (0, 1 or 2).
    @discardableResult
    public mutating func send(_ payload: Payload, from: Address, to: Address) -> Int {
        let delivery = newDelivery(payload, from: from, to: to, transport: .datagram)
        guard !down.contains(from) else {
            record(.dropped(.senderDown), delivery)
            return 0
        }
        statistics.datagramsSent += 1
        record(.sent(.datagram), delivery)
        guard canReach(from: from, to: to) else {
            statistics.blockedByPartition += 1
            record(.dropped(.partitioned), delivery)
            return 0
        }
        let link = conditions(from: from, to: to)
        if generator.chance(link.dropRate) {
            statistics.datagramsLost += 1
            record(.dropped(.lost), delivery)
            return 0
        }
        let copies = generator.chance(link.duplicateRate) ? 2 : 1
        for copy in 0..<copies {
            if copy > 0 {
                statistics.datagramsDuplicated += 1
                record(.duplicated, delivery)
            }
            var delay = link.latency + generator.duration(below: link.jitter)
            if generator.chance(link.reorderRate) {
                statistics.datagramsReordered += 1
                delay += link.reorderDelay
            }
            scheduler.schedule(.delivery(delivery), after: delay + processingDelay(of: to))
        }
        return copies
    }

    /// Sends a message over a stream, as on one TCP connection per direction: it is never lost, duplicated
    /// or reordered behind a later stream message on the same direction of the link. Returns false (the
    /// connection is refused and nothing is sent) when either end is down or the link is cut; a message
    /// already in flight is lost if the link is cut or the destination crashes before it arrives, as with a
    /// reset connection.
    @discardableResult
    public mutating func sendReliably(_ payload: Payload, from: Address, to: Address) -> Bool {
        let delivery = newDelivery(payload, from: from, to: to, transport: .stream)
        guard !down.contains(from), !down.contains(to), canReach(from: from, to: to) else {
            statistics.streamsRefused += 1
            record(.refused, delivery)
            return false
        }
        statistics.streamsSent += 1
        record(.sent(.stream), delivery)
        let link = Link(from: from, to: to), conditions = conditions(from: from, to: to)
        let computed = now + conditions.latency + generator.duration(below: conditions.jitter) + processingDelay(of: to)
        let arrival = max(computed, lastStreamArrival[link] ?? computed)
        lastStreamArrival[link] = arrival
        scheduler.schedule(.delivery(delivery), at: arrival)
        return true
    }

    // MARK: Timers

    /// Sets `node`'s one timer to fire at `time` (the past means now), replacing any earlier setting.
    /// A down node's timer is not set.
    public mutating func setTimer(for node: Address, at time: ContinuousClock.Instant) {
        cancelTimer(for: node)
        guard !down.contains(node) else { return }
        timers[node] = scheduler.schedule(.timer(node), at: time)
    }

    /// Cancels `node`'s timer, if set.
    public mutating func cancelTimer(for node: Address) {
        if let id = timers.removeValue(forKey: node) { scheduler.cancel(id) }
    }

    // MARK: Running

    /// The next delivery or timer due at or before `limit`, with the clock moved to its time; nil (with the
    /// clock at `limit`) when nothing more is due by then. Messages that cannot be delivered (destination
    /// down, link cut while in flight) are dropped and counted on the way.
    public mutating func next(until limit: ContinuousClock.Instant) -> SimulationEvent<Address, Payload>? {
        while let (_, scheduled) = scheduler.popNext(until: limit) {
            switch scheduled {
            case .timer(let node):
                timers[node] = nil
                guard !down.contains(node) else { continue }
                record(.timerFired, messageID: 0, from: node, to: node)
                return .timer(node)
            case .restart(let node):
                down.remove(node)
                record(.restarted, messageID: 0, from: node, to: node)
                return .restarted(node)
            case .delivery(let delivery):
                if down.contains(delivery.to) {
                    statistics.droppedAtDownNode += 1
                    record(.dropped(.destinationDown), delivery)
                } else if !canReach(from: delivery.from, to: delivery.to) {
                    statistics.blockedByPartition += 1
                    record(.dropped(.partitioned), delivery)
                } else {
                    switch delivery.transport {
                    case .datagram: statistics.datagramsDelivered += 1
                    case .stream: statistics.streamsDelivered += 1
                    }
                    record(.delivered, delivery)
                    return .delivery(delivery)
                }
            }
        }
        return nil
    }

    /// Runs every event due by `limit` through `handle`, then leaves the clock at `limit`. `handle` gets the
    /// network itself so it can send and set timers.
    public mutating func run(
        until limit: ContinuousClock.Instant,
        _ handle: (inout SimulatedNetwork, SimulationEvent<Address, Payload>) throws -> Void
    ) rethrows {
        while let event = next(until: limit) {
            try handle(&self, event)
        }
    }

    // MARK: Bookkeeping

    private mutating func newDelivery(
        _ payload: Payload, from: Address, to: Address, transport: NetworkTransport
    ) -> NetworkDelivery<Address, Payload> {
        defer { nextMessageID += 1 }
        return NetworkDelivery(id: nextMessageID, from: from, to: to, payload: payload, transport: transport, sentAt: now)
    }

    mutating func record(_ kind: NetworkTraceEntry<Address>.Kind, _ delivery: NetworkDelivery<Address, Payload>) {
        record(kind, messageID: delivery.id, from: delivery.from, to: delivery.to)
    }

    mutating func record(_ kind: NetworkTraceEntry<Address>.Kind, messageID: UInt64, from: Address, to: Address) {
        guard recordsTrace else { return }
        trace.append(NetworkTraceEntry(offset: elapsed, kind: kind, messageID: messageID, from: from, to: to))
    }
}
