import Synchronization

/// A health status that a subsystem sets and a check reads: the push side of a `HealthRegistry` check.
public final class HealthFlag: Sendable {
    private let state: Mutex<HealthStatus>

    /// Creates a flag holding `initial`.
    public init(_ initial: HealthStatus) {
        state = Mutex(initial)
    }

    /// The current status.
    public var status: HealthStatus { state.withLock { $0 } }

    /// Replaces the status.
    public func set(_ status: HealthStatus) {
        state.withLock { $0 = status }
    }
}
