import Hummingbird
import NIOSupport
import Synchronization

/// Server-Sent Events from an async sequence, with a keep-alive comment at a fixed interval (so proxies and
/// clients with idle timeouts keep the stream open, and a client that went away is noticed by the failed
/// write): `/v1/watch` and the process-group event streams.
///
/// The sequence and the keep-alive timer each feed an ``EventStreamMailbox`` from a child task — on the
/// connection's event loop, like the request (`OnChannelLoop`) — and the writer takes everything waiting at
/// once, so a burst of events leaves in one write; a slow client holds the reader back, so the events back
/// up in their source, whose own bound applies. (AsyncAlgorithms' `merge`, used before, iterated each
/// source in a task on Swift's global pool: two thread switches per event and stream, the largest cost of a
/// watch delivery after the socket write.)
enum EventStream {
    /// How many items the writer may have waiting before the task reading the events stops reading (and
    /// the events back up in their source, whose own bound then applies: the change feed ends a watcher
    /// 10,000 changes behind with `fell_behind`, a group monitor resyncs a client that far behind).
    static let mailboxLimit = 1024

    /// Writes the frames of `events` and the keep-alive comments until `events` ends
    /// (``EventStreamMailbox/Ending/finished``), fails (`failure` says how to report the error) or the task
    /// is cancelled; throws when a write fails (the client went away). Returns why it ended; the caller
    /// writes any closing event and finishes the body.
    static func write<Events: AsyncSequence & Sendable, Failure: Error & Sendable>(
        _ events: Events, to writer: inout any ResponseBodyWriter, keepAlive: Duration,
        failure: @escaping @Sendable (any Error) -> Failure, frame: (Events.Element) throws -> ByteBuffer
    ) async throws -> EventStreamMailbox<Events.Element, Failure>.Ending where Events.Element: Sendable {
        let mailbox = EventStreamMailbox<Events.Element, Failure>(limit: mailboxLimit)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await event in events {
                        guard await mailbox.put(event) else { return }
                    }
                    mailbox.end(.finished)
                } catch {
                    mailbox.end(.failed(failure(error)))
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: keepAlive)
                    mailbox.tick()
                }
            }
            defer { group.cancelAll() }
            while true {
                let (items, ending) = await mailbox.take()
                var buffer = ByteBuffer()
                for item in items {
                    switch item {
                    case .event(let event):
                        var bytes = try frame(event)
                        buffer.writeBuffer(&bytes)
                    case .tick:
                        buffer.writeString(": keepalive\n\n")
                    }
                }
                if buffer.readableBytes > 0 { try await writer.write(buffer) }
                if let ending { return ending }
            }
        }
    }
}

/// What an event stream's writer has to send, put there by the task reading the events and by the
/// keep-alive timer, and taken all at once. Bounded: the reader waits while `limit` items are waiting (a
/// keep-alive tick is skipped then: the writer has plenty to write).
final class EventStreamMailbox<Event: Sendable, Failure: Error & Sendable>: Sendable {
    enum Item: Sendable {
        case event(Event)
        case tick
    }

    /// Why the stream ends: the events ended, a failure, or the writer's task was cancelled.
    enum Ending: Sendable {
        case finished
        case failed(Failure)
        case cancelled
    }

    private struct State {
        var items: [Item] = []
        var ending: Ending?
    }

    private let state = Mutex(State())
    /// Rung when there is something to take (the writer waits on it).
    private let filled = Doorbell()
    /// Rung when the writer took everything (the reader waits on it while the mailbox is full).
    private let emptied = Doorbell()
    private let limit: Int

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Adds `event` for the writer, waiting while `limit` items are waiting; false once the stream has
    /// ended or the task is cancelled (the event is not added).
    func put(_ event: Event) async -> Bool {
        while true {
            let added = state.withLock { state -> Bool? in
                guard state.ending == nil else { return false }
                guard state.items.count < limit else { return nil }
                state.items.append(.event(event))
                return true
            }
            if let added {
                if added { filled.ring() }
                return added
            }
            if Task.isCancelled { return false }
            await emptied.wait()
        }
    }

    /// Adds a keep-alive tick, unless the mailbox is full or the stream has ended.
    func tick() {
        let added = state.withLock { state -> Bool in
            guard state.ending == nil, state.items.count < limit else { return false }
            state.items.append(.tick)
            return true
        }
        if added { filled.ring() }
    }

    /// Ends the stream after what is waiting (the first ending counts).
    func end(_ ending: Ending) {
        state.withLock { state in
            if state.ending == nil { state.ending = ending }
        }
        filled.ring()
    }

    /// Everything waiting and, once the stream has ended, why; waits while there is nothing. A cancelled
    /// task gets what is waiting and ``Ending/cancelled``.
    func take() async -> (items: [Item], ending: Ending?) {
        while true {
            let cancelled = Task.isCancelled
            let taken = state.withLock { state -> (items: [Item], ending: Ending?)? in
                guard !state.items.isEmpty || state.ending != nil || cancelled else { return nil }
                defer { state.items.removeAll(keepingCapacity: true) }
                return (state.items, state.ending ?? (cancelled ? .cancelled : nil))
            }
            if let taken {
                emptied.ring()
                return taken
            }
            await filled.wait()
        }
    }
}
