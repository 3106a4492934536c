import Logging
import ServiceLifecycle

/// Services running in a `ServiceGroup` of their own, in a task, for tests: stop them gracefully or
/// cancel them at once as a crash would.
public final class RunningServices: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// Starts `services` (in order; they stop in reverse).
    public init(_ services: [any Service], logger: Logger) {
        let group = ServiceGroup(services: services, logger: logger)
        self.group = group
        task = Task { try await group.run() }
    }

    /// Graceful shutdown, waiting for every service to return; rethrows the group's error.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    /// Cancels everything at once and waits for it to end.
    public func crash() async {
        task.cancel()
        _ = try? await task.value
    }

    /// Waits for the services to end by themselves; rethrows the group's error.
    public func result() async throws {
        try await task.value
    }
}
