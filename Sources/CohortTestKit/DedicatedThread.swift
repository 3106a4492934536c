import Foundation

/// Runs CPU-bound `work` on a thread of its own and waits for its result without blocking.
///
/// Swift's cooperative pool has one thread per core (two here). A long synchronous simulation on it would
/// hold a whole pool thread, and two of them would stall every test that waits on a socket or a process.
/// On its own thread the kernel shares the cores fairly instead.
public func onDedicatedThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
