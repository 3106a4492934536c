import CohortCore
import CoordinationCore
import Logging
import Mesh

/// A client node's way to a replica: reads and lock waits asked of a Raft member over the mesh
/// (endpoint `coordination`), so a client never spends a log entry on a read.
///
/// Request: `u8 kind | u8 consistency (0 linearizable, 1 stale) | u64 timeout ms | body` — kind 1 a
/// ``ReplicaQuery``, kind 2 a lock wait (`text name | pid | u64 index the request was queued at`). Reply: the ``ReplicaAnswer``, or for a wait
/// `u8 0 (timed out) | 1 u64 token (granted) | 2 (left the queue)`.
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
