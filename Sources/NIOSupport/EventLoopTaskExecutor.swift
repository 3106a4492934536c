import NIOCore

/// A task executor that runs jobs on one NIO event loop.
///
/// The gossip and mesh services run their actor and every child task on one, next to their sockets (no
/// thread hop per datagram or frame), and — what matters more — off Swift's cooperative pool: a failure
/// detector whose acks, or Raft heartbeats that wait behind CPU-bound work elsewhere in the process get a
/// healthy node declared dead by the others.
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop jobs run on; the service's channels are bound to it too.
    public let eventLoop: any EventLoop

    /// Runs jobs on `eventLoop`.
    public init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
