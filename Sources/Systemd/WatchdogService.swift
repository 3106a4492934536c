import Logging
import Observability
import ServiceLifecycle

/// Feeds the systemd watchdog while, and only while, every liveness check passes.
///
/// Every `interval` (by default the notifier's, half of `WATCHDOG_USEC`) it evaluates
/// `HealthRegistry.evaluate(.liveness)` and sends `WATCHDOG=1` if all checks pass. While any check fails it sends
/// nothing, so systemd kills and restarts a wedged node after `WatchdogSec`; it resumes as soon as they pass.
/// Without a watchdog interval it idles until shutdown. It ends on graceful shutdown or cancellation.
public struct WatchdogService: Service {
    private let notifier: SystemdNotifier
    private let health: HealthRegistry
    private let interval: Duration?
    private let clock: any Clock<Duration>
    private let logger: Logger

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - notifier: Where pings go.
    ///   - health: The registry whose liveness checks gate each ping.
    ///   - interval: Time between ticks; nil (the default) uses `notifier.watchdogInterval`.
    ///   - clock: The clock ticks are scheduled on; tests may pass a faster or manual one.
    ///   - logger: Receives one line per pause and per resumption.
    public init(
        notifier: SystemdNotifier,
        health: HealthRegistry,
        interval: Duration? = nil,
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger
    ) {
        self.notifier = notifier
        self.health = health
        self.interval = interval ?? notifier.watchdogInterval
        self.clock = clock
        self.logger = logger
    }

    /// Pings until graceful shutdown or cancellation.
    public func run() async throws {
        guard let interval, interval > .zero else {
            logger.debug("watchdog disabled: no WATCHDOG_USEC for this process")
            // Returning would end the whole ServiceGroup, so stay until it shuts down.
            try? await gracefulShutdown()
            return
        }
        logger.info("watchdog enabled", metadata: ["watchdog.interval": "\(interval)"])
        await cancelWhenGracefulShutdown {
            await self.tick(every: interval, on: self.clock)
        }
    }

    /// The ping loop; generic so the existential clock is opened once and its instants stay typed.
    private func tick<C: Clock>(every interval: Duration, on clock: C) async where C.Duration == Duration {
        var gate = WatchdogGate<C.Instant>()
        var sendFailing = false
        var deadline = clock.now
        while !Task.isCancelled {
            let now = clock.now
            let decision = gate.decide(now: now, liveness: health.evaluate(.liveness))
            log(decision.transition)
            if decision.ping {
                do {
                    try notifier.watchdog()
                    if sendFailing {
                        sendFailing = false
                        logger.notice("watchdog ping delivered again")
                    }
                } catch {
                    if !sendFailing {
                        sendFailing = true
                        logger.error("watchdog ping failed", metadata: ["error": "\(error)"])
                    }
                }
            }
            // Fixed-rate schedule; after a stall (a paused process) restart from now rather than bursting.
            deadline = deadline.advanced(by: interval)
            if deadline < now { deadline = now.advanced(by: interval) }
            do {
                try await clock.sleep(until: deadline, tolerance: nil)
            } catch {
                return  // Cancelled: graceful shutdown or the group is going down.
            }
        }
    }

    private func log(_ transition: WatchdogTransition?) {
        switch transition {
        case .paused(let failing):
            logger.error(
                "watchdog paused: failing checks \(failing.joined(separator: ", "))",
                metadata: ["watchdog.failing": .array(failing.map { .string($0) })]
            )
        case .resumed(let pausedFor):
            logger.notice("watchdog resumed", metadata: ["watchdog.paused_for": "\(pausedFor)"])
        case nil:
            break
        }
    }
}
