import Observability
import ServiceLifecycle

/// A liveness check and a readiness check whose verdicts a service refreshes by polling its subsystem
/// (an actor the synchronous health registry cannot ask directly).
struct PolledChecks: Sendable {
    let liveness: HealthFlag
    let readiness: HealthFlag

    /// Registers `livenessName` (passing until the first poll) and `readinessName` (failing with
    /// `notReadyYet` until the first poll) with `health`.
    init(health: HealthRegistry, liveness livenessName: String, readiness readinessName: String, notReadyYet: String) {
        let liveness = HealthFlag(.ok)
        let readiness = HealthFlag(.fail(notReadyYet))
        health.register(livenessName, kind: .liveness) { liveness.status }
        health.register(readinessName, kind: .readiness) { readiness.status }
        self.liveness = liveness
        self.readiness = readiness
    }

    /// Runs `update` now and then every `interval`, until graceful shutdown or cancellation.
    func poll(every interval: Duration, _ update: () async -> Void) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await update()
            try? await Task.sleep(for: interval)
        }
    }
}
