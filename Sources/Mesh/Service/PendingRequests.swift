import CohortCore
import NIOCore
import Synchronization

/// Requests awaiting their reply, by request ID. Completed from the connection's reader (a reply), the
/// event loop (the timeout), the actor (peer removed) or the requester (cancelled), whichever is first.
final class PendingRequests: Sendable {
    private struct Entry {
        var peer: NodeID
        var trafficClass: TrafficClass
        var continuation: CheckedContinuation<[UInt8], any Error>
        var started: ContinuousClock.Instant
        var timer: Scheduled<Void>?
        /// The connection the request was written on; nil while queued.
        var writtenEpoch: UInt64?
    }

    private let entries = Mutex<[UInt64: Entry]>([:])

    init() {}

    /// Requests pending.
    var count: Int { entries.withLock { $0.count } }

    /// Whether any request to `peer` waits for its reply (an idle connection to it is not closed).
    func hasPending(to peer: NodeID) -> Bool {
        entries.withLock { $0.values.contains { $0.peer == peer } }
    }

    /// Registers request `id`.
    func insert(
        _ id: UInt64, peer: NodeID, trafficClass: TrafficClass, continuation: CheckedContinuation<[UInt8], any Error>
    ) {
        entries.withLock {
            $0[id] = Entry(peer: peer, trafficClass: trafficClass, continuation: continuation, started: .now)
        }
    }

    /// Attaches the timeout timer, or cancels it when the request already completed.
    func attach(_ timer: Scheduled<Void>, to id: UInt64) {
        let attached = entries.withLock { entries -> Bool in
            guard entries[id] != nil else { return false }
            entries[id]!.timer = timer
            return true
        }
        if !attached { timer.cancel() }
    }

    /// Records that requests `ids` were written on connection `epoch`.
    func markWritten(_ ids: [UInt64], epoch: UInt64) {
        entries.withLock { entries in
            for id in ids where entries[id] != nil { entries[id]!.writtenEpoch = epoch }
        }
    }

    /// Completes request `id` with a reply from `peer`. Returns how long it took, or nil when no such
    /// request is pending from that peer (timed out, failed, or a bogus reply).
    func complete(_ id: UInt64, from peer: NodeID, with result: Result<[UInt8], MeshError>) -> Duration? {
        let entry = entries.withLock { entries -> Entry? in
            guard let entry = entries[id], entry.peer == peer else { return nil }
            entries[id] = nil
            return entry
        }
        guard let entry else { return nil }
        entry.timer?.cancel()
        entry.continuation.resume(with: result.mapError { $0 as any Error })
        return entry.started.duration(to: .now)
    }

    /// Fails request `id` if it is still pending.
    func fail(_ id: UInt64, with error: any Error) {
        let entry = entries.withLock { $0.removeValue(forKey: id) }
        entry?.timer?.cancel()
        entry?.continuation.resume(throwing: error)
    }

    /// Fails the requests to `peer` that were written on connection `epoch` and will not be resent
    /// (every class but relay). Returns how many.
    @discardableResult
    func failWritten(to peer: NodeID, epoch: UInt64, with error: MeshError) -> Int {
        failAll(error: error) { $0.peer == peer && $0.writtenEpoch == epoch && $0.trafficClass != .relay }
    }

    /// Fails every request to `peer`.
    @discardableResult
    func failAll(to peer: NodeID, with error: MeshError) -> Int {
        failAll(error: error) { $0.peer == peer }
    }

    /// Fails every pending request.
    func failEverything(with error: MeshError) {
        failAll(error: error) { _ in true }
    }

    @discardableResult
    private func failAll(error: MeshError, where matches: (Entry) -> Bool) -> Int {
        let failed = entries.withLock { entries -> [Entry] in
            let ids = entries.filter { matches($0.value) }.map(\.key)
            return ids.compactMap { entries.removeValue(forKey: $0) }
        }
        for entry in failed {
            entry.timer?.cancel()
            entry.continuation.resume(throwing: error)
        }
        return failed.count
    }
}
