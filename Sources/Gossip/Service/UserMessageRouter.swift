import CohortCore
import Synchronization

/// Delivers received user messages to the streams that asked for their kind (the first payload byte),
/// which is how Cohort's planes share memberlist's one user-message channel.
///
/// Delivery is what memberlist's is: a message may arrive more than once (it is retransmitted) or not at
/// all (gossip is lossy); each stream keeps at most the newest 1024 unread messages.
final class UserMessageRouter: Sendable {
    /// One received message: the payload after the kind byte, and the sender when known.
    typealias Delivery = (payload: [UInt8], from: NodeID?)

    private struct State {
        var streams: [UInt8: [UInt64: AsyncStream<Delivery>.Continuation]] = [:]
        var nextID: UInt64 = 0
        var finished = false
    }

    private let state = Mutex(State())

    /// Unread messages kept per stream.
    static let bufferLimit = 1024

    /// A stream of the messages of `kind`; it ends when the router finishes or the consumer stops.
    func messages(kind: UInt8) -> AsyncStream<Delivery> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: Delivery.self, bufferingPolicy: .bufferingNewest(Self.bufferLimit)
        )
        let id = state.withLock { state -> UInt64? in
            guard !state.finished else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.streams[kind, default: [:]][id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { state in
                state.streams[kind]?[id] = nil
                if state.streams[kind]?.isEmpty == true { state.streams[kind] = nil }
            }
        }
        return stream
    }

    /// Routes one user message (kind byte first) to the streams of its kind. Returns false when it is empty.
    @discardableResult
    func route(_ message: [UInt8], from sender: NodeID?) -> Bool {
        guard let kind = message.first else { return false }
        let targets = state.withLock { Array(($0.streams[kind] ?? [:]).values) }
        guard !targets.isEmpty else { return true }
        let payload = Array(message.dropFirst())
        for continuation in targets { continuation.yield((payload: payload, from: sender)) }
        return true
    }

    /// Ends every stream; later requests get an ended stream.
    func finish() {
        let all = state.withLock { state in
            state.finished = true
            defer { state.streams = [:] }
            return state.streams.values.flatMap(\.values)
        }
        for continuation in all { continuation.finish() }
    }
}
