import Dispatch
import RaftCore
import RaftPersistence
import NIOPosix
import Synchronization

/// A minimal in-memory ``RaftStorage`` for these tests: everything is "durable" when a call returns, so a
/// restart with the same instance models a crash that loses nothing written.
final class TestRaftStorage: RaftStorage {
    private struct State {
        var hardState = HardState()
        var snapshot: StoredSnapshot?
        var entries: [LogEntry] = []
    }

    private let state = Mutex(State())
    private let eventLoopCalls = Mutex(0)

    init() {}

    /// When set, `load()` blocks until the test signals it (a long log read at start); `loadsWaiting`
    /// counts the loads that reached the gate.
    let loadGate = Mutex<DispatchSemaphore?>(nil)
    let loadsWaiting = Atomic<Int>(0)

    /// Calls made on a NIO event loop thread (must stay 0: storage blocks on fsync).
    var callsOnEventLoop: Int { eventLoopCalls.withLock { $0 } }

    private func noteThread() {
        if MultiThreadedEventLoopGroup.currentEventLoop != nil { eventLoopCalls.withLock { $0 += 1 } }
    }

    func load() throws(RaftStorageError) -> LogStorage {
        noteThread()
        if let gate = loadGate.withLock({ $0 }) {
            loadsWaiting.add(1, ordering: .relaxed)
            gate.wait()
        }
        return state.withLock { state in
            LogStorage(hardState: state.hardState, snapshot: state.snapshot?.metadata ?? .empty, entries: state.entries)
        }
    }

    func persist(snapshot: StoredSnapshot?, entries: [LogEntry], hardState: HardState?) throws(RaftStorageError) {
        noteThread()
        try state.withLock { (state: inout State) throws(RaftStorageError) in
            if let snapshot {
                state.snapshot = snapshot
                state.entries = []
            }
            if let first = entries.first {
                let base = state.snapshot?.metadata.index ?? 0
                let last = base + LogIndex(state.entries.count)
                guard first.index <= last + 1 else { throw .gap(expected: last + 1, got: first.index) }
                if first.index <= base { throw .gap(expected: base + 1, got: first.index) }
                state.entries.removeLast(Int(last + 1 - first.index))
                state.entries += entries
            }
            if let hardState { state.hardState = hardState }
        }
    }

    func saveSnapshot(_ snapshot: StoredSnapshot) throws(RaftStorageError) {
        noteThread()
        state.withLock { state in
            guard snapshot.metadata.index > (state.snapshot?.metadata.index ?? 0) else { return }
            state.snapshot = snapshot
            state.entries.removeAll { $0.index <= snapshot.metadata.index }
        }
    }

    func latestSnapshot() throws(RaftStorageError) -> StoredSnapshot? {
        state.withLock { $0.snapshot }
    }
}
