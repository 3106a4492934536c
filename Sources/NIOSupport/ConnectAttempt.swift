import NIOCore
import Synchronization

/// A connection being established, closed if the task that wants it is cancelled first (shutdown does not
/// wait out the connect timeout).
public final class ConnectAttempt: Sendable {
    private let state = Mutex<(channel: (any Channel)?, cancelled: Bool)>((nil, false))

    /// A fresh attempt.
    public init() {}

    /// Records the new channel; false when the attempt was already cancelled.
    public func register(_ channel: any Channel) -> Bool {
        state.withLock { state in
            state.channel = channel
            return !state.cancelled
        }
    }

    /// Cancels the attempt, closing its channel if there is one yet.
    public func cancel() {
        let channel = state.withLock { state in
            state.cancelled = true
            return state.channel
        }
        channel?.close(promise: nil)
    }
}

/// A counter of things in use (connections, requests), refusing more than `limit`.
public final class Slots: Sendable {
    private let inUse = Mutex(0)
    private let limit: Int

    /// Up to `limit` slots.
    public init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot; false when all are taken.
    public func acquire() -> Bool {
        inUse.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    /// Gives a slot back.
    public func release() {
        inUse.withLock { $0 -= 1 }
    }
}
