import CohortCore
import CoordinationCore
import Raft
import RaftCore
import Synchronization

/// Where coordination commands go: through Raft on a clustered node, straight into the local state on a
/// node with the cluster disabled. The API above it is the same.
protocol CommandLog: Sendable {
    /// Appends `command` and returns its index and result once it is applied (on the leader, for Raft).
    func append(_ command: CoordinationCommand, timeout: Duration) async throws(CoordinationError) -> (index: UInt64, result: CoordinationResult)
    /// True when this node holds a replica to read from now (a Raft voter or standby; a client node, or a
    /// server not yet added, reads from a member).
    func hasReplica() async -> Bool
    /// Waits until this node's replica reflects every write acknowledged before the call.
    func catchUp(timeout: Duration) async throws(CoordinationError)
}

/// Commands through Raft, from any node: a follower forwards to the leader, a client node to a member.
struct RaftCommandLog: CommandLog {
    let raft: RaftService
    /// False on a node configured as a Raft client (it never holds a replica).
    let holdsReplica: Bool

    func append(_ command: CoordinationCommand, timeout: Duration) async throws(CoordinationError) -> (index: UInt64, result: CoordinationResult) {
        let outcome: (index: LogIndex, result: [UInt8])
        do {
            outcome = try await raft.propose(command.encoded(), timeout: timeout)
        } catch {
            throw CoordinationError(error)
        }
        guard let result = try? CoordinationResult.decode(outcome.result), result != .malformed else {
            throw .unavailable("the leader could not apply the command (its version may be older than this node's)")
        }
        return (outcome.index, result)
    }

    func hasReplica() async -> Bool {
        guard holdsReplica else { return false }
        return await raft.status.role != .client
    }

    func catchUp(timeout: Duration) async throws(CoordinationError) {
        do {
            _ = try await raft.linearizableRead(timeout: timeout)
        } catch {
            throw CoordinationError(error)
        }
    }
}

/// The log of a node with the cluster disabled: commands apply at once, in order, stamped with this
/// node's clock. Nothing survives a restart (`kv.local` is in memory).
final class LocalCommandLog: CommandLog {
    private let store: CoordinationStore
    private let next = Mutex<UInt64>(1)
    private let now: @Sendable () -> UInt64

    init(store: CoordinationStore, now: @escaping @Sendable () -> UInt64) {
        self.store = store
        self.now = now
    }

    func append(_ command: CoordinationCommand, timeout: Duration) async throws(CoordinationError) -> (index: UInt64, result: CoordinationResult) {
        var command = command
        command.time = now()
        let bytes = command.encoded()
        // One at a time, in index order, as a log would.
        let (index, result) = next.withLock { next -> (UInt64, [UInt8]) in
            let index = next
            next += 1
            return (index, store.apply(LogEntry(term: 1, index: index, payload: .command(bytes))))
        }
        guard let decoded = try? CoordinationResult.decode(result) else { throw .unavailable("the local store could not apply the command") }
        return (index, decoded)
    }

    func hasReplica() async -> Bool { true }

    func catchUp(timeout: Duration) async throws(CoordinationError) {}
}
