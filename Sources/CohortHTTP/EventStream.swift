import Hummingbird
import NIOSupport
import Synchronization

/// Server-Sent Events from an async sequence, with a keep-alive comment at a fixed interval (so proxies and
/// clients with idle timeouts keep the stream open, and a client that went away is noticed by the failed
/// write): `/v1/watch` and the process-group event streams.
///
/// The sequence and the keep-alive timer each feed an ``EventStreamMailbox`` from a child task — on the
/// connection's event loop, like the request (`OnChannelLoop`) — and the writer takes everything waiting at
/// once, so a burst of events leaves in one write. (AsyncAlgorithms' `merge`, used before, iterated each
/// source in a task on Swift's global pool: two thread switches per event and stream, the largest cost of a
/// watch delivery after the socket write.)
enum EventStream {
    /// Writes the frames of `events` and the keep-alive comments until `events` ends (``EventStreamMailbox/Ending/finished``),
    /// fails (`failure` says how to report the error), the writer falls `limit` items behind (`fellBehind`),
    /// or the task is cancelled; throws when a write fails (the client went away). Returns why it ended;
    /// the caller writes any closing event and finishes the body.
    static func write<Events: AsyncSequence & Sendable, Failure: Error & Sendable>(
        _ events: Events, to writer: inout any ResponseBodyWriter, keepAlive: Duration, limit: Int,
        fellBehind: Failure, failure: @escaping @Sendable (any Error) -> Failure,
        frame: (Events.Element) throws -> ByteBuffer
    ) async throws -> EventStreamMailbox<Events.Element, Failure>.Ending where Events.Element: Sendable {
        let mailbox = EventStreamMailbox<Events.Element, Failure>(limit: limit, fellBehind: fellBehind)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await event in events where !mailbox.put(.event(event)) { return }
                    mailbox.end(.finished)
                } catch {
                    mailbox.end(.failed(failure(error)))
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: keepAlive)
                    _ = mailbox.put(.tick)
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
/// keep-alive timer, and taken all at once. Bounded: a writer more than `limit` items behind ends the
/// stream with the `fellBehind` failure.
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
    private let bell = Doorbell()
    private let limit: Int
    private let fellBehind: Failure

    init(limit: Int, fellBehind: Failure) {
        self.limit = limit
        self.fellBehind = fellBehind
    }

    /// Adds `item` for the writer; false (and the stream ends with `fellBehind`) when the writer already
    /// has `limit` items waiting, or once the stream has ended.
    func put(_ item: Item) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard state.ending == nil else { return false }
            guard state.items.count < limit else {
                state.ending = .failed(fellBehind)
                return false
            }
            state.items.append(item)
            return true
        }
        bell.ring()
        return accepted
    }

    /// Ends the stream after what is waiting (the first ending counts).
    func end(_ ending: Ending) {
        state.withLock { state in
            if state.ending == nil { state.ending = ending }
        }
        bell.ring()
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
            if let taken { return taken }
            await bell.wait()
        }
    }
}
