import CohortCore
import Synchronization

/// One item of a membership subscription.
public enum MembershipUpdate: Sendable, Hashable {
    /// Always first: the live members (alive and suspect) when the subscription started, sorted by name.
    /// Every later delta applies on top of it.
    case snapshot([Member])
    /// A member appeared, or came back after being dead or gone.
    case joined(Member)
    /// A member left (`reason` `.left`) or was declared dead (`.dead`).
    case left(Member, reason: DepartureReason)
    /// A live member's metadata changed.
    case updated(Member)
    /// The live members now, sent instead of the deltas a slow subscriber missed when its buffer overflowed;
    /// deltas resume after it.
    case resync([Member])
}

/// The membership change feed: every subscription starts with a snapshot of the live members, then
/// carries deltas, bounded per subscriber.
///
/// A subscriber that falls more than its `limit` behind loses its queued deltas and receives one
/// ``MembershipUpdate/resync(_:)`` with the members as they are when it next reads, so it never holds a
/// view with silent gaps. Snapshot, deltas and resyncs are taken under one lock, so a subscriber's view is
/// always some prefix of the publisher's history.
public final class MembershipEvents: Sendable {
    private struct Subscriber {
        var queue: [MembershipUpdate]
        var limit: Int
        var overflowed = false
        var deliveredAny = false
        /// Reads every queued update at once (``MembershipEvents/subscribeBatches(limit:)``).
        var batch = false
        var waiter: CheckedContinuation<[MembershipUpdate]?, Never>?
    }

    private struct State {
        var live: [NodeID: Member] = [:]
        var subscribers: [UInt64: Subscriber] = [:]
        var nextID: UInt64 = 0
        var finished = false

        var sortedLive: [Member] { live.values.sorted { $0.name < $1.name } }

        mutating func apply(_ event: MembershipEvent) -> MembershipUpdate {
            switch event {
            case .joined(let member):
                live[member.name] = member
                return .joined(member)
            case .left(let member, let reason):
                live[member.name] = nil
                return .left(member, reason: reason)
            case .updated(let member):
                live[member.name] = member
                return .updated(member)
            }
        }
    }

    /// Ends the subscription's registration when its stream is released (dropped or cancelled).
    private final class Registration: Sendable {
        let id: UInt64
        let events: MembershipEvents

        init(id: UInt64, events: MembershipEvents) {
            self.id = id
            self.events = events
        }

        deinit { events.remove(id) }
    }

    private let state = Mutex(State())

    /// Creates a feed with no members and no subscribers. ``GossipService`` owns one and publishes to it.
    public init() {}

    /// Subscribes to membership changes.
    ///
    /// - Parameter limit: How many updates may wait unread (at least 1); beyond that the queued deltas are
    ///   replaced by one ``MembershipUpdate/resync(_:)``.
    /// - Returns: A stream that starts with ``MembershipUpdate/snapshot(_:)`` and ends when the service stops
    ///   (after the queued updates) or when the consuming task is cancelled.
    public func subscribe(limit: Int = 256) -> AsyncStream<MembershipUpdate> {
        let registration = register(limit: limit, batch: false)
        return AsyncStream(unfolding: { await registration.events.next(registration.id) })
    }

    private func register(limit: Int, batch: Bool) -> Registration {
        let id = state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = Subscriber(queue: [.snapshot(state.sortedLive)], limit: max(1, limit), batch: batch)
            return id
        }
        return Registration(id: id, events: self)
    }

    /// Subscribes to membership changes in batches: each element is every update queued when it is read
    /// (at least one), in order — the same sequence ``subscribe(limit:)`` delivers, cut where the reader
    /// caught up. A consumer that derives something from the whole view (a ranking, a file) recomputes it
    /// once per batch instead of once per update, so a burst it falls behind on costs it one recomputation.
    ///
    /// - Parameter limit: As for ``subscribe(limit:)``: beyond it the queued deltas are replaced by one
    ///   ``MembershipUpdate/resync(_:)``.
    /// - Returns: A stream whose first batch starts with ``MembershipUpdate/snapshot(_:)``.
    public func subscribeBatches(limit: Int = 256) -> AsyncStream<[MembershipUpdate]> {
        let registration = register(limit: limit, batch: true)
        return AsyncStream(unfolding: { await registration.events.nextBatch(registration.id) })
    }

    /// The live members (alive and suspect) as the feed knows them, sorted by name.
    public var liveMembers: [Member] {
        state.withLock { $0.sortedLive }
    }

    /// How many subscribers wait in a read for the next publication (tests use it to publish to a waiting
    /// reader).
    package var waitingReaders: Int {
        state.withLock { $0.subscribers.values.count { $0.waiter != nil } }
    }

    /// Applies `event` to the live view and queues it for every subscriber.
    package func publish(_ event: MembershipEvent) {
        publish(CollectionOfOne(event))
    }

    /// Applies `events` in order and queues them for every subscriber as one delivery: a subscriber waiting
    /// for its next read is woken once, with all of them (a batch reader gets them as one batch), instead of
    /// once for the first and again for the rest. The gossip service publishes each step's events this way —
    /// in a mass start one datagram or push/pull brings many joins, and every wake-up of a subscriber is a
    /// task resumed on Swift's pool.
    package func publish(_ events: some Collection<MembershipEvent>) {
        guard !events.isEmpty else { return }
        let wakeups = state.withLock { state -> [(CheckedContinuation<[MembershipUpdate]?, Never>, [MembershipUpdate])] in
            let updates = events.map { state.apply($0) }
            var wakeups: [(CheckedContinuation<[MembershipUpdate]?, Never>, [MembershipUpdate])] = []
            for id in state.subscribers.keys {
                guard var subscriber = state.subscribers[id] else { continue }
                var pending = updates[...]
                if let waiter = subscriber.waiter {
                    subscriber.waiter = nil
                    subscriber.deliveredAny = true
                    if subscriber.batch {
                        wakeups.append((waiter, updates))
                        pending = []
                    } else {
                        // A one-at-a-time reader is handed the first; the rest wait in its queue.
                        wakeups.append((waiter, [updates[0]]))
                        pending = updates.dropFirst()
                    }
                }
                for update in pending {
                    if subscriber.overflowed {
                        // The resync computed at the next read covers this event.
                        break
                    } else if subscriber.queue.count < subscriber.limit {
                        subscriber.queue.append(update)
                    } else {
                        subscriber.overflowed = true
                        subscriber.queue.removeAll()
                    }
                }
                state.subscribers[id] = subscriber
            }
            return wakeups
        }
        for (waiter, updates) in wakeups { waiter.resume(returning: updates) }
    }

    /// Ends every subscription once its queued updates are read; later subscriptions get their snapshot
    /// and end.
    package func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            var waiters: [CheckedContinuation<[MembershipUpdate]?, Never>] = []
            for id in state.subscribers.keys {
                if let waiter = state.subscribers[id]?.waiter {
                    waiters.append(waiter)
                    state.subscribers[id]?.waiter = nil
                }
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    private func next(_ id: UInt64) async -> MembershipUpdate? {
        await read(id)?.first
    }

    private func nextBatch(_ id: UInt64) async -> [MembershipUpdate]? {
        await read(id)
    }

    /// The next update (a one-at-a-time subscriber) or every queued one (a batch subscriber); nil when the
    /// subscription ended. A reader that finds nothing queued waits, and is handed the next publication: all
    /// of it when it reads batches, its first update otherwise.
    private func read(_ id: UInt64) async -> [MembershipUpdate]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[MembershipUpdate]?, Never>) in
                let ready = state.withLock { state -> [MembershipUpdate]?? in
                    guard var subscriber = state.subscribers[id] else { return .some(nil) }
                    defer { state.subscribers[id] = subscriber }
                    if subscriber.overflowed {
                        subscriber.overflowed = false
                        let members = state.sortedLive
                        defer { subscriber.deliveredAny = true }
                        return .some([subscriber.deliveredAny ? .resync(members) : .snapshot(members)])
                    }
                    if !subscriber.queue.isEmpty {
                        subscriber.deliveredAny = true
                        if subscriber.batch {
                            defer { subscriber.queue = [] }
                            return .some(subscriber.queue)
                        }
                        return .some([subscriber.queue.removeFirst()])
                    }
                    if state.finished { return .some(nil) }
                    subscriber.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            remove(id)
        }
    }

    /// Forgets a subscriber, ending a read it is waiting in.
    private func remove(_ id: UInt64) {
        let waiter = state.withLock { $0.subscribers.removeValue(forKey: id)?.waiter }
        waiter?.resume(returning: nil)
    }
}
