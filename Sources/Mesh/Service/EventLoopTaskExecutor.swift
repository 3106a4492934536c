import NIOCore

/// A task executor that runs jobs on one NIO event loop.
///
/// The mesh runs its actor, its connection tasks and its sockets on one loop: no thread hop between a
/// socket read and the task that decodes it, and — like gossip — Raft heartbeats do not queue behind
/// CPU-bound work on Swift's cooperative pool. (A copy of the gossip service's executor, which is
/// internal to that module.)
final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop jobs run on; the service's channels are bound to it too.
    let eventLoop: any EventLoop

    /// Runs jobs on `eventLoop`.
    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
