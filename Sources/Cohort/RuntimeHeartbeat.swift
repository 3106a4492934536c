import Observability
import ServiceLifecycle
import Synchronization

/// A liveness signal from the Swift concurrency runtime: a service beats every `interval`, and the
/// `runtime.heartbeat` check fails when the last beat is older than `staleAfter`.
///
/// When the cooperative thread pool is wedged (a blocked executor, a deadlock, a runaway loop) the beats
/// stop, `/livez` fails and the systemd watchdog stops being fed, so systemd restarts the node.
public final class RuntimeHeartbeat: Service, Sendable {
    /// The name of the health check.
    public static let checkName = "runtime.heartbeat"

    private let interval: Duration
    private let staleAfter: Duration
    private let lastBeat: Mutex<ContinuousClock.Instant?>

    /// Beats every `interval`; the check fails once no beat came for `staleAfter`.
    /// The default beat, every 2 s, leaves five beats in the 10 s window and wakes an idle node half as
    /// often as a beat a second would.
    public init(interval: Duration = .seconds(2), staleAfter: Duration = .seconds(10)) {
        self.interval = interval
        self.staleAfter = staleAfter
        lastBeat = Mutex(nil)
    }

    /// Registers the liveness check (pending until the first beat) and the readiness check that the
    /// runtime has started beating.
    public func register(with health: HealthRegistry) {
        health.register(Self.checkName, kind: .liveness) { [self] in status(now: .now) }
        health.register(Self.checkName, kind: .readiness) { [self] in
            lastBeat.withLock { $0 } == nil ? .fail("runtime not started") : .ok
        }
    }

    /// The check's verdict at `now`.
    func status(now: ContinuousClock.Instant) -> HealthStatus {
        guard let last = lastBeat.withLock({ $0 }) else { return .ok }  // not started yet: boot grace
        let age = now - last
        if age > staleAfter {
            return .fail("no heartbeat for \(age.components.seconds)s (limit \(staleAfter.components.seconds)s)")
        }
        return .ok
    }

    /// Beats until graceful shutdown.
    public func run() async throws {
        lastBeat.withLock { $0 = .now }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: interval)
            lastBeat.withLock { $0 = .now }
        }
    }
}
