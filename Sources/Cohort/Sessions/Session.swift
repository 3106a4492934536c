import CohortCore
import Processes
import Synchronization

/// An external client's process: a PID whose inbox the client reads over HTTP (Server-Sent Events or
/// polling). It ends when the client closes it, or when no client has read it for its time-to-live.
public final class Session: Sendable {
    /// Most events kept unread; older ones are dropped first (counted in ``droppedEvents``).
    public static let bufferLimit = 10_000

    private struct State {
        var pid: PID?
        var buffer: [ProcessEvent] = []
        var dropped = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        var readers = 0
        var lastRead: ContinuousClock.Instant
        var closing: String??
        var ended = false
        var monitors: [PID: [MonitorReference]] = [:]
    }

    /// How long the session lives without a reader.
    public let timeToLive: Duration
    private let state: Mutex<State>

    init(timeToLive: Duration, now: ContinuousClock.Instant) {
        self.timeToLive = timeToLive
        state = Mutex(State(lastRead: now))
    }

    /// The session's PID (set right after spawn).
    public var pid: PID? { state.withLock { $0.pid } }

    func setPID(_ pid: PID) { state.withLock { $0.pid = pid } }

    /// Events dropped because the buffer was full.
    public var droppedEvents: Int { state.withLock { $0.dropped } }

    /// Whether the session's process has ended.
    public var hasEnded: Bool { state.withLock { $0.ended } }

    /// Remembers a monitor the client set up, so it can take it back by target.
    public func addMonitor(_ reference: MonitorReference, on target: PID) {
        state.withLock { $0.monitors[target, default: []].append(reference) }
    }

    /// Forgets and returns the monitors the client set up on `target`.
    public func removeMonitors(on target: PID) -> [MonitorReference] {
        state.withLock { $0.monitors.removeValue(forKey: target) ?? [] }
    }

    /// Called by the session's process for each mailbox event.
    func push(_ event: ProcessEvent) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if state.buffer.count >= Self.bufferLimit {
                state.buffer.removeFirst()
                state.dropped += 1
            }
            state.buffer.append(event)
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Marks the process as ended and wakes readers.
    func markEnded() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.ended = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Asks the session's process to end: normally (`failure` nil) or failed with `failure` as its reason.
    /// Returns false when it was already closing.
    func requestClose(failure: String?) -> Bool {
        state.withLock { state in
            guard state.closing == nil else { return false }
            state.closing = .some(failure)
            return true
        }
    }

    /// The close request, when one was made: `.some(nil)` to end normally, `.some(reason)` to fail.
    var closeRequest: String?? { state.withLock { $0.closing } }

    /// Takes every buffered event, waiting up to `wait` for at least one. Empty when the wait ran out or
    /// the session ended.
    public func take(waitingUpTo wait: Duration, clock: ContinuousClock = ContinuousClock()) async -> [ProcessEvent] {
        let deadline = clock.now + wait
        while true {
            let taken = state.withLock { state -> [ProcessEvent]? in
                state.lastRead = clock.now
                guard !state.buffer.isEmpty else { return state.ended ? [] : nil }
                defer { state.buffer = [] }
                return state.buffer
            }
            if let taken { return taken }
            if clock.now >= deadline || Task.isCancelled { return [] }
            await waitForPush(until: deadline, clock: clock)
        }
    }

    /// Marks a streaming reader attached (`true`) or detached; an attached reader keeps the session alive.
    public func reader(attached: Bool, now: ContinuousClock.Instant) {
        state.withLock { state in
            state.readers += attached ? 1 : -1
            state.lastRead = now
        }
    }

    /// Whether no reader has been attached or has polled for longer than the time-to-live.
    func isExpired(now: ContinuousClock.Instant) -> Bool {
        state.withLock { $0.readers == 0 && now - $0.lastRead > timeToLive }
    }

    /// Suspends until the next push or end, or until `deadline` (checked by a short sleep loop's caller).
    private func waitForPush(until deadline: ContinuousClock.Instant, clock: ContinuousClock) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLock { state -> Bool in
                        if !state.buffer.isEmpty || state.ended { return true }
                        state.waiters[id] = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: clock)
                // Wake the waiter if it is still registered.
                let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
                waiter?.resume()
            }
            await group.next()
            group.cancelAll()
            // The sleeper is cancelled; if the push came first the waiter is gone already.
            let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
            await group.waitForAll()
        }
    }
}
