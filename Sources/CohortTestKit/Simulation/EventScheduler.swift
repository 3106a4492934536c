/// The time line every simulation runs on.
public enum SimulationTime {
    /// The instant simulated time starts from, taken once per process.
    ///
    /// `ContinuousClock.Instant` has no public initializer, so the origin is a real instant read once;
    /// everything a simulation computes is an offset from it (instants are exact integer durations, so
    /// offsets do not depend on the origin's value). Record and compare `instant - origin`, never instants
    /// themselves, when a result must be the same in every run.
    public static let origin: ContinuousClock.Instant = .now
}

/// Identifies an event in an ``EventScheduler`` so it can be cancelled.
public struct ScheduledEventID: Hashable, Comparable, Sendable {
    /// The order in which the event was scheduled (unique per scheduler).
    public let sequence: UInt64

    /// Orders by scheduling order.
    public static func < (lhs: ScheduledEventID, rhs: ScheduledEventID) -> Bool {
        lhs.sequence < rhs.sequence
    }
}

/// A manual clock and a queue of timed events: discrete-event simulation without real time.
///
/// Time moves only when the caller takes the next event (``popNext(until:)``) or advances explicitly
/// (``advance(to:)``); nothing sleeps. Events fire in time order, and events due at the same instant fire
/// in the order they were scheduled, so a run depends on nothing but its inputs and its seeds.
public struct EventScheduler<Event: Sendable>: Sendable {
    private struct Entry: Sendable {
        var time: ContinuousClock.Instant
        var id: ScheduledEventID
        var event: Event

        func precedes(_ other: Entry) -> Bool {
            time != other.time ? time < other.time : id < other.id
        }
    }

    /// When the simulation started.
    public let start: ContinuousClock.Instant
    /// The current simulated time.
    public private(set) var now: ContinuousClock.Instant

    private var heap: [Entry] = []
    /// Scheduled, neither fired nor cancelled.
    private var live: Set<ScheduledEventID> = []
    /// Cancelled but still in the heap (removed lazily when they reach the top).
    private var cancelled: Set<ScheduledEventID> = []
    private var nextSequence: UInt64 = 0

    /// A scheduler whose clock starts at `start` (by default ``SimulationTime/origin``).
    public init(start: ContinuousClock.Instant = SimulationTime.origin) {
        self.start = start
        self.now = start
    }

    /// Simulated time since ``start``.
    public var elapsed: Duration { now - start }

    /// Events waiting, not counting cancelled ones.
    public var pendingCount: Int { live.count }

    /// Schedules `event` at `time`; a time in the past is taken as now (the clock never runs backwards).
    @discardableResult
    public mutating func schedule(_ event: Event, at time: ContinuousClock.Instant) -> ScheduledEventID {
        let id = ScheduledEventID(sequence: nextSequence)
        nextSequence += 1
        live.insert(id)
        heap.append(Entry(time: max(time, now), id: id, event: event))
        siftUp(heap.count - 1)
        return id
    }

    /// Schedules `event` `delay` from now.
    @discardableResult
    public mutating func schedule(_ event: Event, after delay: Duration) -> ScheduledEventID {
        schedule(event, at: now + delay)
    }

    /// Cancels a scheduled event; cancelling one that already fired, or twice, does nothing.
    public mutating func cancel(_ id: ScheduledEventID) {
        guard live.remove(id) != nil else { return }
        cancelled.insert(id)
    }

    /// When the next event is due, if any.
    public mutating func nextTime() -> ContinuousClock.Instant? {
        discardCancelledTop()
        return heap.first?.time
    }

    /// Takes the next event due at or before `limit` and moves the clock to its time. When none is due,
    /// moves the clock to `limit` (if that is later) and returns nil.
    public mutating func popNext(until limit: ContinuousClock.Instant) -> (time: ContinuousClock.Instant, event: Event)? {
        discardCancelledTop()
        guard let first = heap.first, first.time <= limit else {
            now = max(now, limit)
            return nil
        }
        removeTop()
        live.remove(first.id)
        now = max(now, first.time)
        return (first.time, first.event)
    }

    /// Moves the clock forward to `time` without firing anything. Events due before `time` stay queued and
    /// fire, late, at the new now; call it only when nothing is due earlier.
    public mutating func advance(to time: ContinuousClock.Instant) {
        now = max(now, time)
    }

    // MARK: Binary heap

    private mutating func discardCancelledTop() {
        while let first = heap.first, cancelled.contains(first.id) {
            cancelled.remove(first.id)
            removeTop()
        }
    }

    private mutating func removeTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < heap.count, heap[left].precedes(heap[first]) { first = left }
            if right < heap.count, heap[right].precedes(heap[first]) { first = right }
            guard first != parent else { return }
            heap.swapAt(parent, first)
            parent = first
        }
    }
}
