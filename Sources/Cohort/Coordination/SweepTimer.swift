/// The sweep timer of ``CoordinationService`` and ``LocalSweepService``: armed for the coordination state's
/// next deadline (a TTL, a lock wait, a lock delay) and re-armed only when that deadline moves. Nothing polls.
struct SweepTimer {
    /// The deadline (wall-clock milliseconds) the timer is armed for; nil when not armed or once it fired.
    private var armedFor: UInt64?
    private var task: Task<Void, Never>?
    /// The shortest wait, so that a sweep that could not be made is not retried in a tight loop.
    let minimumWait: UInt64

    init(minimumWaitMilliseconds: UInt64) {
        minimumWait = minimumWaitMilliseconds
    }

    /// Arms the timer to call `fire` at `next` (at least ``minimumWait`` from now), unless it is armed for
    /// `next` already.
    mutating func arm(for next: UInt64, fire: @escaping @Sendable () -> Void) {
        guard next != armedFor else { return }
        task?.cancel()
        armedFor = next
        let now = Coordination.wallClockMilliseconds()
        let wait = Duration.milliseconds(Int64(max(next > now ? next - now : 0, minimumWait)))
        task = Task {
            try? await Task.sleep(for: wait)
            if !Task.isCancelled { fire() }
        }
    }

    /// The timer fired: the next ``arm(for:fire:)`` arms it again even for the same deadline.
    mutating func fired() {
        armedFor = nil
    }

    mutating func cancel() {
        task?.cancel()
        task = nil
        armedFor = nil
    }
}
