import NIOCore
import Synchronization

/// Wakes one waiting task; a ring with nobody waiting is remembered, so a wake-up is never lost between
/// "nothing to do" and "wait".
///
/// This is how `send` (any thread, no actor hop) wakes a connection's writer, and how `removePeer` wakes
/// a dial loop out of its backoff pause.
final class Doorbell: Sendable {
    private enum State {
        case idle
        case rung
        case waiting(CheckedContinuation<Void, Never>)
    }

    private let state = Mutex(State.idle)

    init() {}

    /// Wakes the waiter, or the next one to wait.
    func ring() {
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
    func wait() async {
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
    func wait(timeout: Duration, on eventLoop: any EventLoop) async {
        let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) { self.ring() }
        await wait()
        timer.cancel()
    }
}
