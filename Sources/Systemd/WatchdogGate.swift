import Observability

/// Decides, at each watchdog tick, whether to send `WATCHDOG=1`: only while every liveness check passes.
///
/// The pure core of `WatchdogService`: it reads no clock (the caller passes `now`) and performs no I/O. It also
/// reports each pause and each resumption exactly once, so the shell logs one line per transition rather than
/// one per tick. Stopping the pings is the point: systemd restarts a node whose liveness checks stay failing
/// for `WatchdogSec`.
public struct WatchdogGate<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// When the current pause began, or nil while pinging.
    public private(set) var pausedSince: Instant?

    /// A gate that starts out pinging.
    public init() {}

    /// Whether pings are currently paused.
    public var isPaused: Bool { pausedSince != nil }

    /// The decision for a tick at `now` given the current liveness report.
    public mutating func decide(now: Instant, liveness: HealthReport) -> WatchdogDecision {
        if liveness.isPassing {
            guard let since = pausedSince else { return WatchdogDecision(ping: true) }
            pausedSince = nil
            return WatchdogDecision(ping: true, transition: .resumed(pausedFor: since.duration(to: now)))
        }
        guard pausedSince == nil else { return WatchdogDecision(ping: false) }
        pausedSince = now
        return WatchdogDecision(ping: false, transition: .paused(failing: liveness.failing))
    }
}

/// A change between pinging and paused, reported once by `WatchdogGate`.
public enum WatchdogTransition: Sendable, Equatable {
    /// Pings stopped because these liveness checks fail.
    case paused(failing: [String])
    /// Pings resumed after being paused for this long.
    case resumed(pausedFor: Duration)
}

/// What `WatchdogGate` decided for one tick.
public struct WatchdogDecision: Sendable, Equatable {
    /// Whether to send `WATCHDOG=1` now.
    public var ping: Bool
    /// The transition this tick made, if any; nil while the state holds.
    public var transition: WatchdogTransition?

    /// Creates a decision.
    public init(ping: Bool, transition: WatchdogTransition? = nil) {
        self.ping = ping
        self.transition = transition
    }
}
