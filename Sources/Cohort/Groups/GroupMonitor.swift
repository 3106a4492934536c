import CohortCore
import DequeModule
import GroupsCore
import Synchronization

/// What a monitor of a group (or of a whole scope) receives after its snapshot.
public enum GroupMonitorEvent: Sendable, Equatable {
    /// Processes joined `group` (with multiplicity).
    case join(group: String, pids: [PID])
    /// Processes left `group` (with multiplicity).
    case leave(group: String, pids: [PID])
    /// The monitor fell more than its buffer behind: the events in between are gone, and this is the
    /// membership now (group → members, with multiplicity), as a fresh snapshot.
    case resync([String: [PID]])
}

/// A monitor of one group or of a whole scope (OTP 25's `pg:monitor/2` and `pg:monitor_scope/1`): the
/// membership when it was taken, then every change after it, in order, none lost or doubled between the
/// two. Iterate it for the changes; it ends when cancelled or when the node stops. Dropping the last
/// reference cancels it.
public final class GroupMonitor: AsyncSequence, Sendable {
    public typealias Element = GroupMonitorEvent

    /// The membership when the monitor was taken: group → members with multiplicity (one key for a group
    /// monitor; every group for a scope monitor).
    public let snapshot: [String: [PID]]
    let channel: MonitorChannel
    private let onCancel: @Sendable () -> Void

    init(snapshot: [String: [PID]], channel: MonitorChannel, onCancel: @escaping @Sendable () -> Void) {
        self.snapshot = snapshot
        self.channel = channel
        self.onCancel = onCancel
    }

    deinit { cancel() }

    /// Stops the monitor: iteration ends after the events already buffered.
    public func cancel() {
        if channel.finish() { onCancel() }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let monitor: GroupMonitor

        public mutating func next() async -> GroupMonitorEvent? { await monitor.channel.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(monitor: self) }
}

/// A bounded single-consumer queue: the scope pushes under its lock; a consumer that falls `limit`
/// events behind loses them and gets one `resync` instead.
final class MonitorChannel: Sendable {
    let group: String?
    let limit: Int
    private struct State {
        var buffer: Deque<GroupMonitorEvent> = []
        var waiter: CheckedContinuation<GroupMonitorEvent?, Never>?
        var finished = false
    }
    private let state = Mutex(State())

    init(group: String?, limit: Int) {
        self.group = group
        self.limit = max(1, limit)
    }

    /// Queues `event`; when the buffer is full, `resync` replaces everything queued. Returns false when
    /// the channel is finished.
    func push(_ event: GroupMonitorEvent, resync: () -> [String: [PID]]) {
        let waiter: (CheckedContinuation<GroupMonitorEvent?, Never>, GroupMonitorEvent)? = state.withLock { state in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, event)
            }
            if state.buffer.count >= limit {
                state.buffer = [.resync(resync())]
            } else {
                state.buffer.append(event)
            }
            return nil
        }
        waiter.map { $0.0.resume(returning: $0.1) }
    }

    func next() async -> GroupMonitorEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<GroupMonitorEvent?, Never>) in
                let ready: GroupMonitorEvent?? = state.withLock { state in
                    if let event = state.buffer.popFirst() { return .some(event) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// The next buffered event without waiting (nil when none is buffered).
    func poll() -> GroupMonitorEvent? {
        state.withLock { $0.buffer.popFirst() }
    }

    /// Ends the channel; returns whether it was still open.
    @discardableResult
    func finish() -> Bool {
        let (wasOpen, waiter) = state.withLock { state in
            defer {
                state.finished = true
                state.waiter = nil
            }
            return (!state.finished, state.waiter)
        }
        waiter?.resume(returning: nil)
        return wasOpen
    }
}
