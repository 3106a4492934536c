import CohortCore
import Logging
import NIOSupport
import Processes
import ServiceLifecycle
import Synchronization

/// The sessions of external clients (SPEC section 11): each is a process on this node whose inbox a client
/// reads over HTTP. As a service, it ends sessions whose time-to-live lapsed without a reader.
public final class SessionRegistry: Service, Sendable {
    /// The time-to-live when the client names none.
    public static let defaultTimeToLive: Duration = .seconds(30)
    /// The longest time-to-live a client may ask for.
    public static let maximumTimeToLive: Duration = .seconds(3600)
    /// Most sessions open at once on a node.
    public static let limit = 10_000

    private let runtime: ProcessRuntime
    private let logger: Logger
    private let sessions = Mutex<[PID: Session]>([:])
    private let sweepInterval: Duration
    /// Rung when a session opens: the sweeper sleeps on it while there is none, so an idle node pays no
    /// timer for sessions it does not have.
    private let opened = Doorbell()

    /// Creates the registry over `runtime`.
    public init(runtime: ProcessRuntime, logger: Logger, sweepInterval: Duration = .seconds(1)) {
        self.runtime = runtime
        self.logger = logger
        self.sweepInterval = sweepInterval
    }

    /// Opens a session: spawns its process and returns it.
    ///
    /// - Throws: ``SessionError/tooManySessions`` past ``limit``.
    public func open(timeToLive: Duration = SessionRegistry.defaultTimeToLive) throws(SessionError) -> Session {
        guard sessions.withLock({ $0.count }) < Self.limit else { throw .tooManySessions(limit: Self.limit) }
        let session = Session(timeToLive: min(timeToLive, Self.maximumTimeToLive), now: .now)
        let pid = runtime.spawn(label: "session", options: SpawnOptions(trapLinks: true)) { context in
            defer {
                session.markEnded()
                self.remove(context.pid)
            }
            for await event in context.mailbox {
                if case .cancel = event, let request = session.closeRequest {
                    if let reason = request { throw SessionClosed(reason: reason) }
                    return nil
                }
                session.push(event)
            }
            return nil
        }
        session.setPID(pid)
        sessions.withLock { $0[pid] = session }
        opened.ring()
        return session
    }

    private func remove(_ pid: PID) {
        _ = sessions.withLock { $0.removeValue(forKey: pid) }
    }

    /// The open session with `pid`, if any.
    public func session(_ pid: PID) -> Session? {
        sessions.withLock { $0[pid] }
    }

    /// Ends a session: normally, or failed with `failure` as the reason its monitors and links see.
    public func close(_ session: Session, failure: String? = nil) {
        guard let pid = session.pid, session.requestClose(failure: failure) else { return }
        runtime.cancel(pid, reason: failure ?? "session closed", from: nil)
    }

    /// How many sessions are open.
    public var count: Int { sessions.withLock { $0.count } }

    /// Ends sessions whose time-to-live lapsed, every second while any is open, until shutdown.
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if count == 0 {
                await withGracefulShutdownHandler {
                    await opened.wait()
                } onGracefulShutdown: {
                    self.opened.ring()
                }
                continue
            }
            try? await Task.sleep(for: sweepInterval)
            sweep(now: .now)
        }
    }

    /// Ends every session that has had no reader for its time-to-live.
    func sweep(now: ContinuousClock.Instant) {
        let expired = sessions.withLock { $0.values.filter { $0.isExpired(now: now) } }
        for session in expired {
            logger.debug("session expired", metadata: ["pid": "\(session.pid.map(String.init(describing:)) ?? "?")"])
            close(session)
        }
    }
}

/// A session could not be opened.
public enum SessionError: Error, Equatable, CustomStringConvertible {
    /// The node holds its maximum number of sessions.
    case tooManySessions(limit: Int)

    public var description: String {
        switch self {
        case .tooManySessions(let limit):
            "this node holds \(limit) sessions, its limit; close idle sessions or let their TTL lapse"
        }
    }
}

/// A session closed by its client with a failure reason: the outcome its monitors and links see.
struct SessionClosed: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
