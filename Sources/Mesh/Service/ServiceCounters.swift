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
