import NIOCore

/// A task executor that runs jobs on one NIO event loop.
///
/// The gossip service runs its actor and every child task here, next to its sockets (no thread hop per
/// datagram), and — what matters more — off Swift's cooperative pool: a failure detector whose acks
/// wait behind CPU-bound work elsewhere in the process gets its node declared dead by the others.
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
