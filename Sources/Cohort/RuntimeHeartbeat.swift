import NIOSupport
import Observability
import ServiceLifecycle
import Synchronization

/// A liveness signal from the Swift concurrency runtime: whenever the `runtime.heartbeat` check is
/// evaluated and the last beat is older than `interval`, it asks the service's task (parked on the
/// cooperative pool) for a beat; the check fails once a beat asked for has not come for `staleAfter`.
///
/// When the cooperative thread pool is wedged (a blocked executor, a deadlock, a runaway loop) the beats
/// stop, `/livez` fails and the systemd watchdog (which evaluates liveness at its interval) stops being
/// fed, so systemd restarts the node. Nobody asking means no beat: an idle node is not woken for it.
public final class RuntimeHeartbeat: Service, Sendable {
    /// The name of the health check.
    public static let checkName = "runtime.heartbeat"

    private struct Beats {
        /// The last beat; nil before `run()` started.
        var last: ContinuousClock.Instant?
        /// When a beat was asked for that has not come yet.
        var askedAt: ContinuousClock.Instant?
    }

    private let interval: Duration
    private let staleAfter: Duration
    private let beats = Mutex(Beats())
    private let bell = Doorbell()

    /// A check evaluated more than `interval` after the last beat asks for one; it fails once a beat
    /// asked for has not come for `staleAfter`.
    public init(interval: Duration = .seconds(2), staleAfter: Duration = .seconds(10)) {
        self.interval = interval
        self.staleAfter = staleAfter
    }

    /// Registers the liveness check (passing until the first beat asked for is late) and the readiness
    /// check that the runtime has started beating.
    public func register(with health: HealthRegistry) {
        health.register(Self.checkName, kind: .liveness) { [self] in status(now: .now) }
        health.register(Self.checkName, kind: .readiness) { [self] in
            beats.withLock { $0.last } == nil ? .fail("runtime not started") : .ok
        }
    }

    /// The check's verdict at `now`; asks for a beat when the last one is older than `interval`.
    func status(now: ContinuousClock.Instant) -> HealthStatus {
        let (verdict, ask) = beats.withLock { beats -> (HealthStatus, Bool) in
            guard let last = beats.last else { return (.ok, false) }  // not started yet: boot grace
            if let asked = beats.askedAt {
                let age = now - asked
                guard age > staleAfter else { return (.ok, false) }
                return (.fail("no heartbeat for \(age.components.seconds)s after one was asked for (limit \(staleAfter.components.seconds)s)"), false)
            }
            guard now - last > interval else { return (.ok, false) }
            beats.askedAt = now
            return (.ok, true)
        }
        if ask { bell.ring() }
        return verdict
    }

    /// Beats when asked, until graceful shutdown.
    public func run() async throws {
        beat()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await withGracefulShutdownHandler {
                await bell.wait()
            } onGracefulShutdown: {
                self.bell.ring()
            }
            beat()
        }
    }

    /// The last beat (nil before `run()` started); for tests.
    var lastBeat: ContinuousClock.Instant? { beats.withLock { $0.last } }

    func beat() {
        beats.withLock { beats in
            beats.last = .now
            beats.askedAt = nil
        }
    }
}
