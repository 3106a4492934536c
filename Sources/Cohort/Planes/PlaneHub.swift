import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PlaneCore
import Synchronization

/// The shared state behind a node's planes: the pure ``PlaneSync`` under one lock, the change feeds, and
/// the metrics. Every change is published to the feeds under the lock, so each feed sees changes in the
/// order they were applied.
final class PlaneHub: Sendable {
    /// Events a change feed holds before its consumer gets `.resync` instead.
    static let feedLimit = 4096

    private struct State {
        var sync: PlaneSync
        var planes: [String: Plane] = [:]
        var feeds: [String: [ObjectIdentifier: PlaneFeed]] = [:]
        var series: [String: PlaneMetrics.PlaneSeries] = [:]
        var started = false
        /// The timer sleeps until a step leaves a plane needing ticks (see ``parkTicker()``).
        var tickerParked = false
    }

    private let state: Mutex<State>
    private let metrics: PlaneMetrics?
    private let origin = ContinuousClock.now
    /// Rung when local writes wait to be sent.
    private let deltasQueued: @Sendable () -> Void
    /// Rung when the timer is parked and a step left a plane needing ticks.
    private let tickNeeded: @Sendable () -> Void

    init(
        sync: PlaneSync, metrics: PlaneMetrics?, deltasQueued: @escaping @Sendable () -> Void,
        tickNeeded: @escaping @Sendable () -> Void = {}
    ) {
        state = Mutex(State(sync: sync))
        self.metrics = metrics
        self.deltasQueued = deltasQueued
        self.tickNeeded = tickNeeded
    }

    /// The time now: the wall clock and this hub's monotonic milliseconds.
    func now() -> PlaneTime {
        let elapsed = origin.duration(to: .now).components
        let local = UInt64(max(0, elapsed.seconds)) * 1000 + UInt64(max(0, elapsed.attoseconds) / 1_000_000_000_000_000)
        return PlaneTime(physicalMillis: UInt64(max(0, Date().timeIntervalSince1970 * 1000)), localMillis: local)
    }

    // MARK: Planes

    func register(_ id: String, options: PlaneOptions) -> Plane {
        let grace = options.tombstoneGrace.components
        let graceMillis = UInt64(max(0, grace.seconds)) * 1000 + UInt64(max(0, grace.attoseconds) / 1_000_000_000_000_000)
        return state.withLock { state in
            precondition(!state.started, "plane \(id) registered after the planes started")
            precondition(state.planes[id] == nil, "plane \(id) registered twice")
            state.sync.addPlane(id, graceMillis: graceMillis, owner: options.owner)
            let plane = Plane(id: id, hub: self)
            state.planes[id] = plane
            if let metrics { state.series[id] = metrics.series(plane: id) }
            return plane
        }
    }

    func plane(_ id: String) -> Plane? {
        state.withLock { $0.planes[id] }
    }

    var planes: [Plane] {
        state.withLock { state in state.planes.keys.sorted().map { state.planes[$0]! } }
    }

    /// Marks the planes started: no more registrations.
    func start() {
        state.withLock { $0.started = true }
    }

    func state(of id: String) -> PlaneState {
        state.withLock { $0.sync.planes[id]!.state }
    }

    var alivePeers: [NodeID] {
        state.withLock { Array($0.sync.members.keys) }
    }

    var counters: PlaneSync.Counters {
        state.withLock { $0.sync.counters }
    }

    // MARK: Steps

    func write(plane id: String, key: [UInt8], value: [UInt8]?, expiresAtMillis: UInt64?) -> PlaneEntry {
        let time = now()
        let (entry, queued) = step { sync in
            let (entry, change) = sync.write(plane: id, key: key, value: value, expiresAtMillis: expiresAtMillis, at: time)
            return ((entry, change != nil), change.map { [id: [$0]] } ?? [:])
        }
        if queued { deltasQueued() }
        return entry
    }

    func load(plane id: String, entries: [PlaneEntry]) {
        let time = now()
        step { sync in ((), [id: sync.load(plane: id, entries: entries, at: time)]) }
    }

    func receiveEntries(_ bytes: [UInt8]) {
        let time = now()
        // A delta that was news here is queued to be passed on (rumor mongering): ring the sender.
        let queued = step { sync in
            let changes = sync.receiveEntries(bytes, at: time)
            return (sync.hasPendingDeltas, changes)
        }
        if queued { deltasQueued() }
    }

    /// A peer's push/pull state: returns the peer and the pull request to send it, if any.
    func receiveDigest(_ bytes: [UInt8]) -> (peer: NodeID, pull: [UInt8])? {
        let time = now()
        let result = step { sync in (sync.receiveDigest(bytes, at: time), [:]) }
        guard let result, let pull = result.pull else { return nil }
        return (result.peer, pull)
    }

    func digestMessage() -> [UInt8] {
        step { sync in (sync.digestMessage(), [:]) }
    }

    /// Answers a pull on a snapshot, outside the lock (it walks the plane), so that the gossip event loop,
    /// which takes the lock for every push/pull, never waits for it.
    func answerPull(_ bytes: [UInt8]) -> [UInt8]? {
        // Every step takes its traffic before it releases the lock: the snapshot has none counted yet.
        let snapshot = state.withLock { $0.sync }
        var copy = snapshot
        let reply = copy.answerPull(bytes)
        let traffic = copy.takeTraffic()
        step { sync in
            sync.absorb(traffic: traffic, counters: copy.counters, since: snapshot.counters)
            return ((), [:])
        }
        return reply
    }

    func takeDeltas(maxBytes: Int? = nil) -> (messages: [[UInt8]], oversized: [[UInt8]]) {
        step { sync in (sync.takeDeltas(maxBytes: maxBytes), [:]) }
    }

    func memberUp(_ node: NodeID, incarnation: Incarnation) {
        step { sync in ((), sync.memberUp(node, incarnation: incarnation)) }
    }

    func memberDown(_ node: NodeID) {
        step { sync in ((), sync.memberDown(node)) }
    }

    func tick() {
        let time = now()
        step { sync in ((), sync.tick(at: time)) }
    }

    /// What the timer does after a tick.
    enum TickerPlan: Equatable {
        /// A plane needs ticks (a value with an expiry, a tombstone to collect): tick again after the interval.
        case tick
        /// Nothing to tick: sleep until rung (the next step that gives a plane something to tick rings
        /// `tickNeeded`) or, when a remembered tombstone is to be forgotten, until `wakeAfter` has passed.
        case park(wakeAfter: Duration?)
    }

    /// The timer's plan after a tick; `.park` marks the timer parked (a later step rings it).
    func parkTicker() -> TickerPlan {
        let physical = now().physicalMillis
        return state.withLock { state in
            guard !state.sync.needsTick else { return .tick }
            state.tickerParked = true
            guard let forget = state.sync.nextForgetMillis else { return .park(wakeAfter: nil) }
            return .park(wakeAfter: .milliseconds(Int64(clamping: forget > physical ? forget - physical : 0)))
        }
    }

    /// Clears the parked mark (the timer woke on its own).
    func unparkTicker() {
        state.withLock { $0.tickerParked = false }
    }

    /// Runs one step of the sync under the lock, then publishes its changes and metrics.
    @discardableResult
    private func step<T>(_ body: (inout PlaneSync) -> (T, [String: [PlaneState.Change]])) -> T {
        let (result, wakeTicker) = state.withLock { state -> (T, Bool) in
            let before = state.sync.counters
            let (result, changes) = body(&state.sync)
            for (id, list) in changes where !list.isEmpty {
                for feed in (state.feeds[id] ?? [:]).values { feed.push(.changed(list)) }
            }
            if let metrics {
                metrics.record(counters: state.sync.counters, since: before)
                for (id, traffic) in state.sync.takeTraffic() {
                    guard let series = state.series[id] else { continue }
                    if traffic.bytesIn > 0 { series.bytesIn.increment(by: Int64(clamping: traffic.bytesIn)) }
                    if traffic.bytesOut > 0 { series.bytesOut.increment(by: Int64(clamping: traffic.bytesOut)) }
                }
                for id in changes.keys {
                    guard let series = state.series[id], let plane = state.sync.planes[id] else { continue }
                    series.entries.set(Int64(plane.state.entries.count))
                    series.tombstones.set(Int64(plane.state.tombstoneCount))
                }
            } else {
                _ = state.sync.takeTraffic()
            }
            guard state.tickerParked, state.sync.needsTick else { return (result, false) }
            state.tickerParked = false
            return (result, true)
        }
        if wakeTicker { tickNeeded() }
        return result
    }

    // MARK: Feeds

    func subscribe(plane id: String) -> AsyncStream<PlaneEvent> {
        let feed = PlaneFeed(limit: Self.feedLimit)
        let key = ObjectIdentifier(feed)
        state.withLock { $0.feeds[id, default: [:]][key] = feed }
        return AsyncStream(unfolding: { [weak self] in
            let event = await feed.next()
            if event == nil { self?.unsubscribe(plane: id, key: key) }
            return event
        }, onCancel: { [weak self] in
            feed.finish()
            self?.unsubscribe(plane: id, key: key)
        })
    }

    private func unsubscribe(plane id: String, key: ObjectIdentifier) {
        state.withLock { state in
            state.feeds[id]?[key] = nil
            if state.feeds[id]?.isEmpty == true { state.feeds[id] = nil }
        }
    }

    /// Ends every feed.
    func finishFeeds() {
        let feeds = state.withLock { state in
            defer { state.feeds = [:] }
            return state.feeds.values.flatMap(\.values)
        }
        for feed in feeds { feed.finish() }
    }
}
