import NIOCore
import NIOPosix
import Synchronization
#if os(Linux)
import CTimerFD
import Glibc
#endif

/// A one-shot timer on an event loop whose deadline can move later as well as earlier without waking the
/// loop at the deadline it no longer has.
///
/// NIO's scheduled tasks share the loop's one `timerfd`, which NIO re-arms only for an earlier deadline: a
/// task cancelled because its deadline moved later still wakes the loop at the old time. Gossip moves its
/// deadline later on nearly every probe (the ack ends the round long before the probe timeout it armed), so
/// every node woke once a second for nothing. On Linux this timer is a `timerfd` of its own, read by the loop
/// like a pipe: arming it again replaces its deadline in the kernel, and disarming it cancels it. Elsewhere
/// (and should the descriptor not open) it falls back to a scheduled task, with the old stale wake-up.
///
/// `fired` runs on the loop when the deadline passes. A deadline that moved while the expiry was being read
/// may still fire once early: callers re-check what is due, as after any wake-up.
public final class LoopTimer: Sendable {
    private enum Backend {
        /// The timer's own `timerfd`, read by `channel` on the loop.
        case timerFD(descriptor: CInt, channel: any Channel)
        /// A scheduled task on the loop, replaced on every arm.
        case scheduled(Scheduled<Void>?)
        case closed
    }

    private let eventLoop: any EventLoop
    private let fired: @Sendable () -> Void
    private let backend: Mutex<Backend>

    private init(eventLoop: any EventLoop, backend: Backend, fired: @escaping @Sendable () -> Void) {
        self.eventLoop = eventLoop
        self.backend = Mutex(backend)
        self.fired = fired
    }

    /// Whether the timer has a descriptor of its own (it moves without stale wake-ups).
    public var ownsDescriptor: Bool {
        backend.withLock { if case .timerFD = $0 { true } else { false } }
    }

    /// A disarmed timer on `eventLoop` that calls `fired` there at each deadline it reaches.
    public static func make(on eventLoop: any EventLoop, fired: @escaping @Sendable () -> Void) async -> LoopTimer {
        #if os(Linux)
        let descriptor = cohort_timerfd_create()
        if descriptor >= 0 {
            do {
                let channel = try await NIOPipeBootstrap(group: eventLoop)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(ExpiryHandler(fired: fired))
                        }
                    }
                    .takingOwnershipOfDescriptor(input: descriptor)
                    .get()
                return LoopTimer(eventLoop: eventLoop, backend: .timerFD(descriptor: descriptor, channel: channel), fired: fired)
            } catch {
                // A bootstrap that fails leaves the descriptor to its caller.
                Glibc.close(descriptor)
            }
        }
        #endif
        return LoopTimer(eventLoop: eventLoop, backend: .scheduled(nil), fired: fired)
    }

    /// Sets the deadline to `deadline`, replacing any earlier or later one; a deadline already past fires
    /// at once (on the loop's next turn).
    ///
    /// The descriptor is re-armed by a task on the loop, after the I/O the loop is handling: re-arming a
    /// `timerfd` that has expired clears its expiry, and if the loop had already been told it was readable
    /// (the expiry and the I/O that moved the deadline reported in one wake-up), NIO would find nothing to
    /// read, which it asserts never happens.
    public func arm(at deadline: ContinuousClock.Instant) {
        apply(deadline)
    }

    /// Cancels the deadline, if any.
    public func disarm() {
        apply(nil)
    }

    /// Arms (a deadline) or disarms (nil) the timer.
    private func apply(_ deadline: ContinuousClock.Instant?) {
        let descriptor: CInt? = backend.withLock { backend in
            switch backend {
            case .timerFD(let descriptor, _):
                return descriptor
            case .scheduled(let task):
                task?.cancel()
                backend = .scheduled(deadline.map { deadline in
                    eventLoop.scheduleTask(in: TimeAmount(max(.zero, deadline - .now))) { [fired] in fired() }
                })
                return nil
            case .closed:
                return nil
            }
        }
        guard let descriptor else { return }
        eventLoop.execute { [self] in
            // Under the lock, so that a close in between leaves the descriptor alone.
            backend.withLock { backend in
                guard case .timerFD = backend else { return }
                // Zero disarms: a deadline already past is one nanosecond away.
                let nanoseconds = deadline.map { max(1, TimeAmount(max(.zero, $0 - .now)).nanoseconds) } ?? 0
                Self.set(descriptor, nanoseconds: nanoseconds)
            }
        }
    }

    /// Disarms the timer for good and closes its descriptor; later arms do nothing.
    public func close() async {
        let channel: (any Channel)? = backend.withLock { backend in
            defer { backend = .closed }
            switch backend {
            case .timerFD(_, let channel): return channel
            case .scheduled(let task):
                task?.cancel()
                return nil
            case .closed: return nil
            }
        }
        try? await channel?.close()
    }

    /// Arms the descriptor `nanoseconds` from now; 0 disarms it.
    private static func set(_ descriptor: CInt, nanoseconds: Int64) {
        #if os(Linux)
        _ = cohort_timerfd_set(descriptor, nanoseconds)
        #endif
    }
}

/// Reads the `timerfd`'s expiry count (the pipe channel hands it over as bytes) and reports the expiry.
private final class ExpiryHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let fired: @Sendable () -> Void

    init(fired: @escaping @Sendable () -> Void) {
        self.fired = fired
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        fired()
    }
}
