import ServiceLifecycle

/// With the cluster disabled there is no leader to propose sweeps (``CoordinationService`` runs only on a
/// cluster), so this node sweeps its local state itself: when the next deadline (a TTL, a lock wait)
/// falls due by its clock, it appends a sweep. Without it a TTL key outlived its TTL until some other
/// write happened to advance the state's clock.
///
/// It looks at the next deadline at least every `recheck` (a pointer copy of the state), so a deadline
/// written while it sleeps toward a later one is at most that late.
final class LocalSweepService: Service, Sendable {
    let coordination: Coordination
    let recheck: Duration

    init(coordination: Coordination, recheck: Duration = .milliseconds(250)) {
        self.coordination = coordination
        self.recheck = recheck
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let now = Coordination.wallClockMilliseconds()
            var wait = recheck
            if let next = coordination.store.state.nextDeadline {
                if next <= now {
                    // A local append cannot fail for want of a leader; should it fail, the pause below keeps
                    // this from spinning.
                    if (try? await coordination.append(.sweep)) != nil { continue }
                } else {
                    wait = min(wait, .milliseconds(Int64(next - now)))
                }
            }
            try? await Task.sleep(for: wait)
        }
    }
}
