import CohortCore
import CoordinationCore
import Synchronization

/// Callers waiting for a queued lock request to be granted, woken by the changes this node's replica
/// applies. A Raft member serves its own callers and, over the mesh, those of client nodes.
///
/// A wait is for the request queued at a log index: the replica it reads may be behind that index, and
/// what it holds before it (an earlier grant to the same process, since released) is not this request's
/// answer. Only what the replica applies after the index ends the wait.
final class LockWaits: Sendable {
    /// How a wait ended.
    enum Outcome: Sendable, Hashable {
        /// The lock is the caller's, with this fencing token.
        case granted(token: UInt64)
        /// The caller left the queue without the lock (its wait expired in the state, or it was released).
        case ended
    }

    private struct Key: Hashable {
        let name: String
        let pid: PID
    }

    private struct Waiter {
        let id: Int
        /// The index the request was queued at: changes at or before it concern an earlier request.
        let after: UInt64
        let continuation: CheckedContinuation<Outcome?, Never>
    }

    private struct State {
        var waiters: [Key: [Waiter]] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    /// Wakes the waiters a batch of changes, applied at `index`, concerns.
    func observe(_ changes: [CoordinationChange], index: UInt64) {
        var woken: [(CheckedContinuation<Outcome?, Never>, Outcome)] = []
        state.withLock { state in
            guard !state.waiters.isEmpty else { return }
            for change in changes {
                let key: Key, outcome: Outcome
                switch change {
                case .lockGranted(let name, let holder, let token):
                    (key, outcome) = (Key(name: name.string, pid: holder), .granted(token: token))
                case .lockWaitEnded(let name, let pid):
                    (key, outcome) = (Key(name: name.string, pid: pid), .ended)
                default:
                    continue
                }
                guard let list = state.waiters[key] else { continue }
                let (due, later) = (list.filter { $0.after < index }, list.filter { $0.after >= index })
                state.waiters[key] = later.isEmpty ? nil : later
                for waiter in due { woken.append((waiter.continuation, outcome)) }
            }
        }
        for (continuation, outcome) in woken { continuation.resume(returning: outcome) }
    }

    /// Waits until `pid`'s request queued at index `after` is granted `name` or leaves its queue, at most
    /// `timeout`; nil when the time ran out. `current` reads the replica after registering (answering only
    /// once the replica has applied `after`), so a grant applied just before is not missed.
    func wait(name: String, pid: PID, after: UInt64, timeout: Duration, current: @escaping @Sendable () -> Outcome?) async -> Outcome? {
        let key = Key(name: name, pid: pid)
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    self.state.withLock { $0.waiters[key, default: []].append(Waiter(id: id, after: after, continuation: continuation)) }
                    if let outcome = current() {
                        self.resume(key, id: id, with: outcome)
                    } else if Task.isCancelled {
                        // Registered after the group gave up and swept: nobody else will resume it.
                        self.resume(key, id: id, with: nil)
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                self.resume(key, id: id, with: nil)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            // The waiter may still be registered (the timeout won): resume it so the group can end.
            resume(key, id: id, with: nil)
            return first
        }
    }

    /// Resumes waiter `id` of `key` once (later calls find it gone).
    private func resume(_ key: Key, id: Int, with outcome: Outcome?) {
        let waiter = state.withLock { state -> Waiter? in
            guard var list = state.waiters[key], let position = list.firstIndex(where: { $0.id == id }) else { return nil }
            let waiter = list.remove(at: position)
            state.waiters[key] = list.isEmpty ? nil : list
            return waiter
        }
        waiter?.continuation.resume(returning: outcome)
    }
}
