import Dispatch
import NIOPosix
import RaftCore
import Synchronization
import Raft

/// The test application: an append-only list of commands. `apply` answers with the list's new length as
/// 8 big-endian bytes; snapshots are `u32 count` then `u32 length + bytes` per command.
final class ListStateMachine: RaftStateMachine {
    private let items = Mutex<[[UInt8]]>([])

    init() {}

    var all: [[UInt8]] { items.withLock { $0 } }

    func apply(_ entry: LogEntry) -> [UInt8] {
        guard case .command(let command) = entry.payload else { return [] }
        let count = items.withLock { items in
            items.append(command)
            return items.count
        }
        return Self.u64(UInt64(count))
    }

    /// When set, a snapshot's serialization (on the thread pool) blocks until the test signals it: a slow
    /// disk or a huge state, on demand. `serializationsWaiting` counts those that reached the gate.
    let snapshotGate = Mutex<DispatchSemaphore?>(nil)
    let serializationsWaiting = Atomic<Int>(0)

    func snapshot() -> @Sendable () -> [UInt8] {
        let items = items.withLock { $0 }
        let gate = snapshotGate.withLock { $0 }
        return { [self] in
            if let gate {
                serializationsWaiting.add(1, ordering: .relaxed)
                gate.wait()
            }
            var out = Self.u32(items.count)
            for item in items { out += Self.u32(item.count) + item }
            return out
        }
    }

    /// When set, a restore blocks until the test signals it: a snapshot that takes long to decode, on
    /// demand. `restores` counts every restore, `restoresWaiting` those that reached the gate,
    /// `restoresOnEventLoop` those made on a NIO event loop thread (must stay 0: a long restore there
    /// stalls the mesh and the Raft actor).
    let restoreGate = Mutex<DispatchSemaphore?>(nil)
    let restores = Atomic<Int>(0)
    let restoresWaiting = Atomic<Int>(0)
    let restoresOnEventLoop = Atomic<Int>(0)

    func restore(_ data: [UInt8]) {
        restores.add(1, ordering: .relaxed)
        if MultiThreadedEventLoopGroup.currentEventLoop != nil { restoresOnEventLoop.add(1, ordering: .relaxed) }
        if let gate = restoreGate.withLock({ $0 }) {
            restoresWaiting.add(1, ordering: .relaxed)
            gate.wait()
        }
        var offset = 0
        func u32() -> Int {
            defer { offset += 4 }
            return data[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
        }
        var restored: [[UInt8]] = []
        for _ in 0..<u32() {
            let length = u32()
            restored.append(Array(data[offset..<offset + length]))
            offset += length
        }
        items.withLock { $0 = restored }
    }

    static func u32(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(value).bigEndian, Array.init) }
    static func u64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
}
