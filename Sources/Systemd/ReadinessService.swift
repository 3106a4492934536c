import Logging
import Observability
import ServiceLifecycle

/// Tells systemd when the node is ready, what it is doing, and when it stops.
///
/// Polls `HealthRegistry.evaluate(.readiness)` (every `Settings.pollUntilReady` until ready, then every
/// `Settings.pollWhenReady`) and sends what `ReadinessTracker` decides: `READY=1` once, when every readiness check
/// first passes and never before, and `STATUS=` whenever the status text changes. When the service ends, on graceful
/// shutdown or cancellation, it sends `STOPPING=1` and `STATUS=stopping`.
///
/// In a `ServiceGroup`, which shuts services down in reverse order, put it last so `STOPPING=1` goes out as soon as
/// shutdown begins.
public struct ReadinessService: Service {
    /// Polling periods.
    public struct Settings: Sendable, Equatable {
        /// How often readiness is polled until `READY=1` is sent. Default 20 ms, so readiness is reported promptly.
        public var pollUntilReady: Duration
        /// How often readiness and status are polled after `READY=1`. Default 1 s: only `STATUS=` can change.
        public var pollWhenReady: Duration

        /// Creates settings; the defaults are 20 ms and 1 s.
        public init(pollUntilReady: Duration = .milliseconds(20), pollWhenReady: Duration = .seconds(1)) {
            self.pollUntilReady = pollUntilReady
            self.pollWhenReady = pollWhenReady
        }
    }

    private let notifier: SystemdNotifier
    private let health: HealthRegistry
    private let settings: Settings
    private let clock: any Clock<Duration>
    private let logger: Logger
    private let status: @Sendable () -> String

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - notifier: Where notifications go.
    ///   - health: The registry whose readiness checks gate `READY=1`.
    ///   - settings: Polling periods.
    ///   - clock: The clock polls are scheduled on.
    ///   - logger: Receives a line when the node is reported ready and when a notification fails.
    ///   - status: The `STATUS=` text once ready, e.g. "ready: single node 'a', cluster disabled"; called on each
    ///     poll after ready, so it must be cheap.
    public init(
        notifier: SystemdNotifier,
        health: HealthRegistry,
        settings: Settings = Settings(),
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger,
        status: @escaping @Sendable () -> String
    ) {
        self.notifier = notifier
        self.health = health
        self.settings = settings
        self.clock = clock
        self.logger = logger
        self.status = status
    }

    /// Reports readiness and status until graceful shutdown or cancellation, then reports stopping.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.poll(on: self.clock)
        }
        send(ReadinessTracker.stoppingAssignments)
        logger.info("systemd notified: stopping")
    }

    /// The polling loop; generic so the existential clock is opened once.
    private func poll<C: Clock>(on clock: C) async where C.Duration == Duration {
        var tracker = ReadinessTracker()
        while !Task.isCancelled {
            let assignments = tracker.update(readiness: health.evaluate(.readiness), status: status)
            if !assignments.isEmpty {
                send(assignments)
                if assignments.contains("READY=1") {
                    logger.info("systemd notified: ready", metadata: ["systemd.status": "\(tracker.lastStatus ?? "")"])
                }
            }
            let period = tracker.isReady ? settings.pollWhenReady : settings.pollUntilReady
            do {
                try await clock.sleep(for: period)
            } catch {
                return  // Cancelled: graceful shutdown or the group is going down.
            }
        }
    }

    private func send(_ assignments: [String]) {
        do {
            try notifier.notify(assignments.joined(separator: "\n"))
        } catch {
            logger.error("systemd notification failed", metadata: ["error": "\(error)"])
        }
    }
}
