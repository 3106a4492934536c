import NIOSupport
import NIOCore
import Synchronization

/// Numbers the service hands out and counts, shared by every task without a lock.
final class ServiceCounters: Sendable {
    private let epochs = Atomic<UInt64>(0)
    private let requestIDs = Atomic<UInt64>(0)
    private let pings = Atomic<UInt64>(0)

    init() {}

    /// A new connection epoch (from 1).
    func nextEpoch() -> UInt64 { epochs.add(1, ordering: .relaxed).newValue }

    /// A new request ID (from 1; 0 means "not a request" on the wire).
    func nextRequestID() -> UInt64 { requestIDs.add(1, ordering: .relaxed).newValue }

    /// A new ping number.
    func nextPing() -> UInt64 { pings.add(1, ordering: .relaxed).newValue }
}

/// What the keepalive of one connection looks at: whether anything was heard since its last look (set by
/// the reader on every frame), how many batches the writer has sent, and whether the peer has been heard
/// from since this side's last send; and where it parks while the connection is idle.
final class ConnectionActivity: Sendable {
    private let heard = Atomic<Bool>(true)
    /// Batches written so far, and how many had been written when the last frame arrived.
    private let sends = Atomic<UInt64>(0)
    private let heardAfterSends = Atomic<UInt64>(0)
    private let parked = Atomic<Bool>(false)
    private let resume = Doorbell()

    init() {}

    /// The reader received a frame.
    func touch() {
        heard.store(true, ordering: .relaxed)
        heardAfterSends.store(sends.load(ordering: .relaxed), ordering: .relaxed)
    }

    /// The writer is sending a batch with something besides answers (pongs, acknowledgements): wakes a
    /// parked keepalive.
    func noteSent() {
        // Sequentially consistent with `park(after:)`: either the keepalive sees the new count, or this
        // sees it parked and rings.
        sends.add(1, ordering: .sequentiallyConsistent)
        if parked.load(ordering: .sequentiallyConsistent) { resume.ring() }
    }

    /// Batches sent so far (the keepalive compares counts between looks).
    var sendCount: UInt64 { sends.load(ordering: .sequentiallyConsistent) }

    /// Whether anything was heard since the previous call.
    func takeHeard() -> Bool { heard.exchange(false, ordering: .relaxed) }

    /// Whether a frame arrived after this side's last send (or nothing was ever sent): the path has been
    /// shown to work since. (A race with the writer can only make this false, costing one ping.)
    var answeredSinceLastSend: Bool {
        heardAfterSends.load(ordering: .relaxed) == sends.load(ordering: .relaxed)
    }

    /// Whether the keepalive is parked (for tests).
    var isParked: Bool { parked.load(ordering: .sequentiallyConsistent) }

    /// Waits until the writer sends more than `count` batches (or the task is cancelled), then starts a
    /// fresh window: what was heard while parked does not count.
    func park(after count: UInt64) async {
        parked.store(true, ordering: .sequentiallyConsistent)
        if sendCount == count { await resume.wait() }
        parked.store(false, ordering: .sequentiallyConsistent)
        _ = takeHeard()
    }
}

/// Marks that a scheduled timeout fired, to tell a timeout from other reasons a channel closed.
final class TimeoutFlag: Sendable {
    private let fired = Atomic<Bool>(false)

    init() {}

    func set() { fired.store(true, ordering: .relaxed) }

    var isSet: Bool { fired.load(ordering: .relaxed) }
}

/// Every connection being served, so a stop closes even those still in their handshake (which belong to
/// no peer yet). After the stop, registering closes at once.
final class ChannelRegistry: Sendable {
    private let state = Mutex<(channels: [ObjectIdentifier: any Channel], stopped: Bool)>(([:], false))

    init() {}

    /// Records `channel`; false (and the channel is closed) when the service has stopped.
    func register(_ channel: any Channel) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
        if !accepted { channel.close(promise: nil) }
        return accepted
    }

    /// Forgets `channel` once it is done.
    func unregister(_ channel: any Channel) {
        _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Stops: closes every registered channel and refuses new ones.
    func closeAll() {
        let channels = state.withLock { state in
            state.stopped = true
            defer { state.channels.removeAll() }
            return Array(state.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
