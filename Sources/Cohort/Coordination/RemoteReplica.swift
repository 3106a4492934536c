import CohortCore
import CoordinationCore
import Logging
import Mesh

/// A client node's way to a replica: reads and lock waits asked of a Raft member over the mesh
/// (endpoint `coordination`), so a client never spends a log entry on a read.
///
/// Request: `u8 kind | u8 consistency (0 linearizable, 1 stale) | u64 timeout ms | body` — kind 1 a
/// ``ReplicaQuery``, kind 2 a lock wait (`text name | pid | u64 index the request was queued at`), kind 3
/// a watch fetch (`text store | text prefix | u64 after | u32 limit`; the member waits up to the timeout
/// for the first change). Reply: the ``ReplicaAnswer``; for a wait `u8 0 (timed out) | 1 u64 token
/// (granted) | 2 (left the queue)`; for a fetch `u8 0 | u32 count | count × (u8 kind: 0 put, 1 delete |
/// u64 version | text key | flag has value | u32 length + value)` or `u8 1 | u64 oldest` (compacted).
struct RemoteReplica: Sendable {
    let mesh: MeshService
    /// Raft members, best first.
    let members: @Sendable () -> [NodeID]

    /// The answer of the first member that answers (at most two are tried).
    func query(_ query: ReplicaQuery, consistency: Coordination.Consistency, timeout: Duration) async throws(CoordinationError) -> ReplicaAnswer {
        var writer = ByteWriter()
        writer.u8(1)
        writer.u8(consistency == .linearizable ? 0 : 1)
        writer.u64(UInt64(timeout.milliseconds))
        writer.bytes(query.encoded())
        let reply = try await request(writer.buffer, timeout: timeout)
        do {
            return try ReplicaAnswer.decode(reply)
        } catch {
            throw .unavailable("a Raft member answered a read with bytes that do not decode: \(error)")
        }
    }

    /// Waits, on a member, until `pid`'s request for `name`, queued at index `after`, is granted or leaves
    /// its queue.
    func waitForLock(_ name: String, pid: PID, after: UInt64, timeout: Duration) async throws(CoordinationError) -> LockWaits.Outcome? {
        var writer = ByteWriter()
        writer.u8(2)
        writer.u8(1)
        writer.u64(UInt64(timeout.milliseconds))
        writer.text(name)
        writer.pid(pid)
        writer.u64(after)
        // The member answers at the deadline at the latest; allow for the round trip.
        let reply = try await request(writer.buffer, timeout: timeout + .seconds(2))
        var reader = ByteReader(reply)
        switch try? reader.u8() {
        case 0: return nil
        case 1:
            guard let token = try? reader.u64() else { break }
            return .granted(token: token)
        case 2: return .ended
        default: break
        }
        throw .unavailable("a Raft member answered a lock wait with bytes that do not decode")
    }

    /// Changes of `store` under `prefix` after `after` from a member's feed, waiting up to `wait` there
    /// for the first; throws ``CoordinationError/compacted(oldest:)`` when they are no longer kept.
    func changes(store: String, prefix: String, after: UInt64, wait: Duration) async throws(CoordinationError) -> [StoreEvent] {
        var writer = ByteWriter()
        writer.u8(3)
        writer.u8(1)
        writer.u64(UInt64(wait.milliseconds))
        writer.text(store)
        writer.text(prefix)
        writer.u64(after)
        writer.u32(UInt32(Self.fetchLimit))
        let reply = try await request(writer.buffer, timeout: wait + .seconds(2))
        do {
            return try Self.decodeChanges(reply, store: store)
        } catch let error as CoordinationError {
            throw error
        } catch {
            throw .unavailable("a Raft member answered a watch with bytes that do not decode: \(error)")
        }
    }

    /// Changes in one fetch, at most.
    static let fetchLimit = 1000

    static func encodeChanges(_ outcome: Result<[StoreEvent], WatchError>) -> [UInt8] {
        var writer = ByteWriter()
        switch outcome {
        case .success(let events):
            writer.u8(0)
            writer.u32(UInt32(events.count))
            for event in events {
                writer.u8(event.kind == .put ? 0 : 1)
                writer.u64(event.version)
                writer.text(event.key)
                writer.flag(event.value != nil)
                if let value = event.value { writer.lengthPrefixed(value, lengthWidth: 4) }
            }
        case .failure(let error):
            writer.u8(1)
            switch error {
            case .compacted(let oldest), .replicaReplaced(let oldest): writer.u64(oldest)
            case .fellBehind, .interrupted: writer.u64(0)
            }
        }
        return writer.buffer
    }

    static func decodeChanges(_ bytes: [UInt8], store: String) throws -> [StoreEvent] {
        var reader = ByteReader(bytes)
        switch try reader.u8("outcome") {
        case 0:
            let count = Int(try reader.u32("count"))
            guard count <= fetchLimit else { throw CoordinationError.unavailable("a watch fetch of \(count) changes, over \(fetchLimit)") }
            var events: [StoreEvent] = []
            for _ in 0..<count {
                let kind = try reader.u8("kind")
                guard kind <= 1 else { throw CoordinationError.unavailable("a watch change of unknown kind \(kind)") }
                let version = try reader.u64("version")
                let key = try reader.text(limit: CoordinationLimits.maxKeyBytes, "key")
                var value: [UInt8]?
                if try reader.flag("has value") {
                    value = try reader.lengthPrefixed(lengthWidth: 4, limit: CoordinationLimits.maxValueBytes, "value")
                }
                events.append(StoreEvent(kind: kind == 0 ? .put : .delete, store: store, key: key, value: value, version: version))
            }
            try reader.end()
            return events
        case 1:
            throw CoordinationError.compacted(oldest: try reader.u64("oldest"))
        default:
            throw CoordinationError.unavailable("a watch fetch answered with an unknown outcome")
        }
    }

    /// A client node's watch: what ``changes(store:prefix:after:wait:)`` fetches, batch after batch, as
    /// one stream. The first fetch happens before this returns, so `compacted` is thrown at once, as on a
    /// member. A member that stops answering is replaced by the next (``request(_:timeout:)``); after 10
    /// failed fetches in a row (500 ms apart) the stream ends with ``WatchError/interrupted(_:)``.
    func watch(store: String, prefix: String, after: UInt64) async throws(CoordinationError) -> AsyncThrowingStream<StoreEvent, any Error> {
        let first = try await changes(store: store, prefix: prefix, after: after, wait: .zero)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: StoreEvent.self, bufferingPolicy: .bufferingOldest(10_000))
        let task = Task {
            var last = after
            var batch = first
            var failures = 0
            while !Task.isCancelled {
                for event in batch {
                    if case .dropped = continuation.yield(event) {
                        continuation.finish(throwing: WatchError.fellBehind)
                        return
                    }
                    last = event.version
                }
                do throws(CoordinationError) {
                    batch = try await changes(store: store, prefix: prefix, after: last, wait: .seconds(5))
                    failures = 0
                } catch {
                    if Task.isCancelled { break }
                    if case .compacted(let oldest) = error {
                        continuation.finish(throwing: WatchError.compacted(oldest: oldest))
                        return
                    }
                    failures += 1
                    batch = []
                    if failures >= 10 {
                        continuation.finish(throwing: WatchError.interrupted("\(error)"))
                        return
                    }
                    try? await Task.sleep(for: .milliseconds(500))  // back off before asking again
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func request(_ payload: [UInt8], timeout: Duration) async throws(CoordinationError) -> [UInt8] {
        let candidates = members().prefix(2)
        guard !candidates.isEmpty else { throw .noLeader("no Raft member is known to read from yet") }
        var lastError = ""
        for member in candidates {
            do {
                return try await mesh.request(payload, to: member, endpoint: .coordination, class: .relay, timeout: timeout)
            } catch let MeshError.remote(failure) {
                throw .unavailable("\(member) could not answer: \(failure)")
            } catch {
                lastError = "\(member): \(error)"
            }
        }
        throw .noLeader("no Raft member answered (\(lastError))")
    }
}

/// A Raft member's side of ``RemoteReplica``.
enum ReplicaServer {
    /// Answers one request from a client node.
    static func serve(_ payload: [UInt8], coordination: Coordination) async throws -> [UInt8] {
        var reader = ByteReader(payload)
        let kind = try reader.u8("kind"), consistency = try reader.u8("consistency")
        let timeout = Duration.milliseconds(Int64(min(try reader.u64("timeout"), 3_600_000)))
        switch kind {
        case 1:
            let query = try ReplicaQuery.decode(reader.rest())
            if consistency == 0 { try await coordination.log.catchUp(timeout: timeout) }
            return query.answer(from: coordination.store.state).encoded()
        case 2:
            let name = try reader.text(limit: CoordinationLimits.maxKeyBytes, "lock")
            let pid = try reader.pid("pid")
            let after = try reader.u64("after")
            try reader.end()
            let outcome = await coordination.waitForLock(name, pid: pid, after: after, timeout: timeout)
            var writer = ByteWriter()
            switch outcome {
            case nil: writer.u8(0)
            case .granted(let token)?:
                writer.u8(1)
                writer.u64(token)
            case .ended?: writer.u8(2)
            }
            return writer.buffer
        case 3:
            let store = try reader.text(limit: CoordinationLimits.maxStoreNameBytes, "store")
            let prefix = try reader.text(limit: CoordinationLimits.maxKeyBytes, "prefix")
            let after = try reader.u64("after")
            let limit = Int(min(try reader.u32("limit"), UInt32(RemoteReplica.fetchLimit)))
            try reader.end()
            do throws(WatchError) {
                let events = try await coordination.changes(store: store, prefix: prefix, after: after, limit: max(1, limit), within: min(timeout, .seconds(30)))
                return RemoteReplica.encodeChanges(.success(events))
            } catch {
                return RemoteReplica.encodeChanges(.failure(error))
            }
        default:
            throw CoordinationError.badRequest("unknown coordination request kind \(kind)")
        }
    }
}

extension Duration {
    /// Whole milliseconds (rounded down, at least 0).
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
