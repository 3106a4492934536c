import ServiceLifecycle

/// With the cluster disabled there is no leader to propose sweeps (``CoordinationService`` runs only on a
/// cluster), so this node sweeps its local state itself: when the next deadline (a TTL, a lock wait, a
/// lock delay) falls due by its clock, it appends a sweep. Without it a TTL key outlived its TTL until
/// some other write happened to advance the state's clock.
///
/// Nothing polls: a timer is armed for the next deadline and re-armed whenever an applied change moves
/// it, as the leader's ``CoordinationService`` does.
final class LocalSweepService: Service, Sendable {
    let coordination: Coordination

    init(coordination: Coordination) {
        self.coordination = coordination
    }

    private enum Input: Sendable { case changed, deadline }

    func run() async throws {
        let (inputs, sink) = AsyncStream.makeStream(of: Input.self, bufferingPolicy: .unbounded)
        coordination.store.observe { _, _ in sink.yield(.changed) }
        sink.yield(.changed)
        // At least 10 ms: a sweep that failed is not retried in a tight loop.
        var timer = SweepTimer(minimumWaitMilliseconds: 10)
        // Graceful shutdown finishes the inputs, which ends this loop (see `untilGracefulShutdown`).
        await withGracefulShutdownHandler {
            for await input in inputs {
                if input == .deadline { timer.fired() }
                if let next = coordination.store.state.nextDeadline, next <= Coordination.wallClockMilliseconds() {
                    // A local append does not wait for a leader; its change arrives here as `.changed`.
                    _ = try? await coordination.append(.sweep)
                }
                if let next = coordination.store.state.nextDeadline { timer.arm(for: next) { sink.yield(.deadline) } }
            }
        } onGracefulShutdown: {
            sink.finish()
        }
        timer.cancel()
    }
}
