import Synchronization

/// The queue behind a ``Mailbox``: one producer side (the runtime, under its lock) and one reader (the process).
///
/// Only messages count against the limit: exit, link and cancel notifications are few (one per monitor, link or
/// request) and losing one would leave a supervisor blind, so they are always queued.
final class MailboxStorage: Sendable {
    /// What an enqueue did; a woken reader must be resumed by the caller after it has released its own locks.
    enum Enqueued {
        case queued
        case wake(CheckedContinuation<ProcessEvent?, Never>, ProcessEvent)
        case full
        case closed
    }

    private struct State {
        var items: [ProcessEvent] = []
        var head = 0
        var messages = 0
        var reader: CheckedContinuation<ProcessEvent?, Never>?
        var closed = false

        mutating func pop() -> ProcessEvent? {
            guard head < items.count else { return nil }
            let event = items[head]
            head += 1
            if case .message = event { messages -= 1 }
            if head == items.count {
                items.removeAll(keepingCapacity: items.count <= 1024)
                head = 0
            } else if head >= 1024, head * 2 >= items.count {
                // Compact once the consumed prefix dominates, so a long-lived busy mailbox does not grow forever.
                items.removeFirst(head)
                head = 0
            }
            return event
        }
    }

    /// The most messages held at once.
    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Adds `event` unless it is a message and `limit` messages are already waiting (the new one is dropped).
    func enqueue(_ event: ProcessEvent) -> Enqueued {
        state.withLock { state in
            if state.closed { return .closed }
            if let reader = state.reader {
                state.reader = nil
                return .wake(reader, event)
            }
            if case .message = event {
                if state.messages >= limit { return .full }
                state.messages += 1
            }
            state.items.append(event)
            return .queued
        }
    }

    /// Stops accepting events; the reader gets what is queued, then the end. Returns a waiting reader to resume with nil.
    func close() -> CheckedContinuation<ProcessEvent?, Never>? {
        state.withLock { state in
            state.closed = true
            // A closed mailbox belongs to an exited process: nothing will read the rest, so free it now.
            state.items.removeAll()
            state.head = 0
            state.messages = 0
            defer { state.reader = nil }
            return state.reader
        }
    }

    /// Messages waiting to be read.
    var messageCount: Int { state.withLock { $0.messages } }

    /// The next event, or nil once closed (or when the reading task is cancelled).
    func next() async -> ProcessEvent? {
        if let ready = state.withLock({ $0.pop() }) { return ready }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ProcessEvent?, Never>) in
                let immediate: ProcessEvent?? = state.withLock { state in
                    if let event = state.pop() { return .some(event) }
                    // Checked under the lock, so a cancellation either is seen here or finds the reader installed.
                    if state.closed || Task.isCancelled { return .some(nil) }
                    precondition(state.reader == nil, "a mailbox has one reader at a time")
                    state.reader = continuation
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let reader = state.withLock { state in
                defer { state.reader = nil }
                return state.reader
            }
            reader?.resume(returning: nil)
        }
    }
}
