import NIOCore
import Synchronization

/// Wakes one waiting task; a ring with nobody waiting is remembered, so a wake-up is never lost between
/// "nothing to do" and "wait".
///
/// This is how the mesh's `send` (any thread, no actor hop) wakes a connection's writer, how `removePeer`
/// wakes a dial loop out of its backoff pause, and how a ``LoopTimer`` wakes gossip's timer loop and Raft's
/// parked tick loop. The timed waits use the event loop's own timers, so an idle
/// service wakes one thread per timer rather than Dispatch's timer thread, a pool thread and then the loop.
public final class Doorbell: Sendable {
    private enum State {
        case idle
        case rung
        case waiting(CheckedContinuation<Void, Never>)
    }

    private let state = Mutex(State.idle)

    public init() {}

    /// Wakes the waiter, or the next one to wait.
    public func ring() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            switch state {
            case .idle:
                state = .rung
                return nil
            case .rung:
                return nil
            case .waiting(let continuation):
                state = .idle
                return continuation
            }
        }
        waiter?.resume()
    }

    /// Returns once rung (at once if rung since the last wait) or when the task is cancelled. One
    /// waiter at a time.
    public func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    switch state {
                    case .rung:
                        state = .idle
                        return true
                    case .idle:
                        state = .waiting(continuation)
                        return false
                    case .waiting:
                        preconditionFailure("a Doorbell has one waiter at a time")
                    }
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            ring()
        }
    }

    /// ``wait()``, or until `timeout` has passed on `eventLoop`.
    public func wait(timeout: Duration, on eventLoop: any EventLoop) async {
        let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) { self.ring() }
        await wait()
        timer.cancel()
    }

    /// ``wait()``, or until `deadline` on `eventLoop` (at once when it has passed).
    public func wait(until deadline: ContinuousClock.Instant, on eventLoop: any EventLoop) async {
        await wait(timeout: max(.zero, deadline - .now), on: eventLoop)
    }
}
