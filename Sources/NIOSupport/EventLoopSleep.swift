import NIOCore

extension EventLoop {
    /// Suspends the calling task for `duration` on this loop's own timer; throws `CancellationError` when
    /// the task is cancelled first.
    ///
    /// For the periodic loops of services whose actor runs on this event loop: `Task.sleep` goes through
    /// Dispatch's timer thread and a pool thread before the loop gets the job back (three threads woken per
    /// tick), while the loop's timer wakes only the loop.
    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        let scheduled = scheduleTask(in: TimeAmount(duration)) {}
        try await withTaskCancellationHandler {
            do {
                try await scheduled.futureResult.get()
            } catch EventLoopError.cancelled {
                throw CancellationError()
            }
        } onCancel: {
            scheduled.cancel()
        }
    }
}
