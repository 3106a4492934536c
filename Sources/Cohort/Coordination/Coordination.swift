import CohortConfig
import CohortCore
import CoordinationCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import Prometheus
import Synchronization

/// Everything the stores, locks and names share on one node: the replicated state (or the local one with
/// the cluster disabled), the log commands go through, the declared stores, the way to a member's
/// replica on a client node, and the bookkeeping of what this node's processes hold, so their exits
/// release it.
///
/// Reach its parts through ``CohortNode/store(_:)``, ``CohortNode/locks`` and ``CohortNode/names``.
public final class Coordination: Sendable {
    /// The state machine: a Raft replica, or the local state with the cluster disabled. A client node
    /// keeps an empty one and reads from a member.
    public let store: CoordinationStore
    let log: any CommandLog
    /// How a node without a replica (a client, or a server not added yet) reads: from a Raft member.
    /// Nil with the cluster disabled.
    let remote: RemoteReplica?
    let logger: Logger
    /// The stores that may be used: `default`, then the configuration's `stores`.
    public let declaredStores: [StoreSettings]
    /// The default timeout of a write, a linearizable read or a remote read.
    let timeout: Duration
    /// Processes of this node that hold or wait for something through this node: an exit releases them.
    private let owners = Mutex<Set<PID>>([])
    let lockWaits = LockWaits()
    let metrics: CoordinationMetrics?

    init(
        store: CoordinationStore, log: any CommandLog, remote: RemoteReplica?, declaredStores: [StoreSettings],
        logger: Logger, registry: PrometheusCollectorRegistry? = nil, timeout: Duration = .seconds(5)
    ) {
        self.store = store
        self.log = log
        self.remote = remote
        self.logger = logger
        self.timeout = timeout
        let stores = [StoreSettings(name: "default", kind: .raft, durable: true)] + declaredStores.filter { $0.name != "default" }
        self.declaredStores = stores
        let metrics = registry.map { CoordinationMetrics(registry: $0, stores: stores) }
        self.metrics = metrics
        store.observe { [lockWaits] changes, state in
            lockWaits.observe(changes, index: state.index)
            metrics?.observe(state)
        }
        if let metrics { store.feed.observeWatchCount { metrics.watchStreams.set(Int64($0)) } }
    }

    /// Reads are linearizable (this replica first catches up with the leader's commit index, as etcd's
    /// ReadIndex) or stale (this replica as applied: fast, possibly behind).
    public enum Consistency: String, Sendable, Hashable, CaseIterable {
        case linearizable, stale
    }

    /// The declaration of `name`, or ``CoordinationError/notFound(_:)``.
    func declaration(_ name: String) throws(CoordinationError) -> StoreSettings {
        guard let store = declaredStores.first(where: { $0.name == name }) else {
            throw .notFound("no store \"\(name)\" (declared: \(declaredStores.map(\.name).joined(separator: ", ")))")
        }
        guard store.kind != .local || remote == nil else {
            throw .unsupported("store \"\(name)\" is kv.local: it serves only on a node with the cluster disabled")
        }
        return store
    }

    /// Appends an operation after checking it against the codec's limits (a refusal names the field).
    func append(_ operation: CoordinationCommand.Operation, timeout: Duration? = nil) async throws(CoordinationError) -> (index: UInt64, result: CoordinationResult) {
        let command = CoordinationCommand(operation)
        let decoded: CoordinationCommand
        do {
            decoded = try CoordinationCommand.decode(command.encoded())
        } catch {
            throw Self.refusal(error)
        }
        guard decoded == command else { throw .tooLarge("the request is larger than its encoding allows") }
        return try await log.append(command, timeout: timeout ?? self.timeout)
    }

    static func refusal(_ error: CoordinationCodecError) -> CoordinationError {
        switch error {
        case .bytes(.limitExceeded(let field, _, let limit)): .tooLarge("\(field): longer than \(limit) bytes")
        case .outOfRange(let field): .tooLarge("\(field): over its limit")
        default: .badRequest("\(error)")
        }
    }

    /// Answers `query` from this node's replica (after catching up, when linearizable), or from a
    /// member's on a client node.
    func query(_ query: ReplicaQuery, consistency: Consistency, timeout: Duration? = nil) async throws(CoordinationError) -> ReplicaAnswer {
        let timeout = timeout ?? self.timeout
        if await log.hasReplica() {
            if consistency == .linearizable { try await log.catchUp(timeout: timeout) }
            return query.answer(from: store.state)
        }
        guard let remote else { throw .unavailable("this node holds no replica to read from") }
        return try await remote.query(query, consistency: consistency, timeout: timeout)
    }

    /// Waits until `pid`'s request for the lock `name`, queued at index `after`, is granted or leaves its
    /// queue, here or on a member; nil when `timeout` passed first.
    func awaitGrant(_ name: String, pid: PID, after: UInt64, timeout: Duration) async throws(CoordinationError) -> LockWaits.Outcome? {
        if await log.hasReplica() { return await waitForLock(name, pid: pid, after: after, timeout: timeout) }
        guard let remote else { throw .unavailable("this node holds no replica to wait on") }
        return try await remote.waitForLock(name, pid: pid, after: after, timeout: timeout)
    }

    /// Waits, on this node's replica, until `pid`'s request for the lock `name`, queued at index `after`,
    /// is granted or leaves its queue; nil when `timeout` passed first. A replica behind `after` may still
    /// show an earlier grant to `pid`, released since: only a grant applied after `after` counts.
    func waitForLock(_ name: String, pid: PID, after: UInt64, timeout: Duration) async -> LockWaits.Outcome? {
        let store = store
        return await lockWaits.wait(name: name, pid: pid, after: after, timeout: timeout) {
            let state = store.state
            guard state.index >= after, let record = state.lock(name) else { return nil }
            return record.holder == pid ? .granted(token: record.token) : nil
        }
    }

    /// The kept changes of `storeName` under `prefix` after `after` on this node's replica, or, when
    /// there are none yet, the first that applies within `timeout` (and any with it); empty when none
    /// came. What a client node's watch fetches from a member (``RemoteReplica/watch(store:prefix:after:)``).
    func changes(store storeName: String, prefix: String, after: UInt64, limit: Int, within timeout: Duration) async throws(WatchError) -> [StoreEvent] {
        let feed = store.feed
        let kept = try feed.changes(store: storeName, prefix: prefix, after: after, limit: limit)
        guard kept.isEmpty, timeout > .zero else { return kept }
        // The watch's backlog covers what applied since the look above: nothing falls between the two.
        let stream = try feed.watch(store: storeName, prefix: prefix, after: after)
        let arrived = await trueWithin(timeout) { ((try? await stream.first { _ in true }) ?? nil) != nil }
        guard arrived else { return [] }
        return try feed.changes(store: storeName, prefix: prefix, after: after, limit: limit)
    }

    /// Notes that `pid` holds or waits for something through this node, so its exit releases it.
    func noteOwner(_ pid: PID) {
        owners.withLock { _ = $0.insert(pid) }
    }

    /// `pid` exited (or its session ended): when it held or waited for anything through this node, its
    /// locks, names and places in queues are released through the log, in a task of its own (retried
    /// while no leader answers). Cheap for every other process: one set lookup.
    func processExited(_ pid: PID) {
        guard owners.withLock({ $0.remove(pid) != nil }) else { return }
        Task { await release(pid) }
    }

    private func release(_ pid: PID) async {
        for attempt in 1...5 {
            do {
                _ = try await append(.releaseOwner(pid))
                return
            } catch {
                logger.warning("cannot release what an exited process held yet", metadata: [
                    "pid": "\(pid)", "attempt": "\(attempt)", "error": "\(error)",
                ])
                // A departure of the node releases it anyway; until then, try again after a pause.
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// The leader's wall clock for stamping: milliseconds since the Unix epoch.
    static func wallClockMilliseconds() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970 * 1000))
    }
}

extension CohortNode {
    /// A consistent snapshot of the coordination state (every store's keys, the locks with their fencing
    /// tokens, the names), as `GET /v1/snapshot` serves it: this node's replica after a linearizable read
    /// point, so it holds every write acknowledged before the call. Serialized off the caller's thread.
    ///
    /// - Throws: ``CoordinationError/unsupported(_:)`` on a node without a replica (a client node, or a
    ///   server not added yet: take it from a Raft member); the read point's errors (no leader, no quorum).
    public func snapshotArchive(timeout: Duration? = nil) async throws(CoordinationError) -> SnapshotArchive {
        guard await coordination.log.hasReplica() else {
            throw .unsupported("this node holds no replica of the coordination state (a client node, or a server not added yet): ask a Raft member")
        }
        try await coordination.log.catchUp(timeout: timeout ?? coordination.timeout)
        let state = coordination.store.state
        let term = await raft?.status.term ?? 0
        let takenAt = Coordination.wallClockMilliseconds()
        return await Task.detached { SnapshotArchive(state: state, term: term, takenAt: takenAt) }.value
    }
}
