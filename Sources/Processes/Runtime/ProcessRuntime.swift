import CohortCore
import Logging
import Prometheus
import Synchronization

/// Runs Erlang-style processes on one node: spawn, mailboxes, monitors, links, local names, and the same operations
/// on processes of other nodes through a ``ProcessTransport``.
///
/// The decisions are made by a pure ``ProcessTable`` held in a `Mutex`; this shell carries them out (mailbox
/// enqueues, task cancellation, transport sends) after releasing the lock where it can. There is no actor hop on the
/// hot path: a local send is one lock and one enqueue.
///
/// Ordering: every operation is decided under the one lock, so the runtime's decisions form a single order. Mailbox
/// events are queued in that order, and remote signals leave through one outbox in that order (sent outside the lock
/// by whichever caller finds the outbox idle), which is what gives per-sender FIFO locally and across nodes.
public final class ProcessRuntime: Sendable {
    /// Everything the lock protects.
    struct State: ~Copyable {
        var table: ProcessTable
        /// Mailboxes of live local processes, by serial.
        var mailboxes: [UInt64: MailboxStorage] = [:]
        /// Bodies still running, by serial (a process stopped by force leaves the table before its body ends).
        var tasks: [UInt64: Task<Void, Never>] = [:]
        /// Callers of ``result(of:)``, by serial.
        var resultWaiters: [UInt64: [CheckedContinuation<ProcessOutcome, Never>]] = [:]
        /// Signals decided but not yet handed to the transport, in decision order.
        var outbox: [(ProcessSignal, NodeID)] = []
        /// Whether some caller is handing the outbox to the transport (only one does, to keep the order).
        var draining = false
        /// Set by ``shutdown()``: new processes are stopped at once.
        var shuttingDown = false
    }

    /// This node.
    public let node: NodeID
    /// This node's boot; part of every PID spawned here.
    public let incarnation: Incarnation
    /// The most messages a mailbox holds; see ``Mailbox``.
    public let mailboxLimit: Int
    let transport: (any ProcessTransport)?
    let logger: Logger
    let metrics: ProcessMetrics
    let state: Mutex<State>
    let resolvers = Mutex<[any NameResolver]>([])
    /// Called after every local exit (see ``onExit(_:)``).
    let exitObservers = Mutex<[@Sendable (PID, ProcessOutcome) -> Void]>([])

    /// Creates a runtime for `node` in boot `incarnation`.
    ///
    /// - Parameters:
    ///   - transport: Carries signals to other nodes; nil on a single node (remote PIDs are then unreachable).
    ///   - logger: For operators: exits at debug, undecodable signals at warning.
    ///   - metrics: Where the `process_*` metrics are registered; nil keeps them in a private registry.
    ///   - mailboxLimit: The most messages one mailbox holds before new ones are dropped (default 100 000).
    public init(
        node: NodeID, incarnation: Incarnation, transport: (any ProcessTransport)? = nil,
        logger: Logger = Logger(label: "cohort.processes"), metrics: PrometheusCollectorRegistry? = nil,
        mailboxLimit: Int = 100_000
    ) {
        self.node = node
        self.incarnation = incarnation
        self.transport = transport
        var logger = logger
        logger[metadataKey: "node"] = "\(node)"
        self.logger = logger
        self.metrics = ProcessMetrics(registry: metrics ?? PrometheusCollectorRegistry())
        self.mailboxLimit = max(1, mailboxLimit)
        self.state = Mutex(State(table: ProcessTable(node: node, incarnation: incarnation)))
    }

    /// Starts a process running `body` and returns its PID at once.
    ///
    /// The body's return value is the process's outcome (`nil` is `.normal(nil)`); a thrown error is
    /// `.failed(description)`; if the process is stopped by force its task is cancelled and its outcome is
    /// `.terminated` (or `.linked(pid)`) whatever the body does afterwards. A body that never reads its mailbox
    /// still exits normally when it returns. After ``shutdown()`` the process is stopped before its body runs.
    @discardableResult
    public func spawn(
        label: String? = nil, options: SpawnOptions = .init(),
        _ body: @escaping @Sendable (ProcessContext) async throws -> ProcessOutcome?
    ) -> PID {
        let mailbox = MailboxStorage(limit: mailboxLimit)
        let (pid, deferred) = state.withLock { state in
            let pid = state.table.spawn(trapLinks: options.trapLinks)
            state.mailboxes[pid.serial] = mailbox
            metrics.spawned(alive: state.table.count)
            if state.shuttingDown {
                return (pid, apply(state.table.terminate(pid, from: nil), to: &state))
            }
            let context = ProcessContext(pid: pid, mailbox: Mailbox(storage: mailbox), runtime: self)
            // Created under the lock so a stop that races the spawn always finds the task to cancel.
            state.tasks[pid.serial] = Task { await self.run(body, context: context) }
            guard let partner = options.link else { return (pid, Deferred()) }
            return (pid, apply(state.table.link(pid, partner), to: &state))
        }
        deferred.perform(self)
        if let label, logger.logLevel <= .debug {
            logger.debug("process spawned", metadata: ["process.pid": "\(pid)", "process.label": "\(label)"])
        }
        return pid
    }

    /// Runs a body to its end and records its outcome.
    private func run(
        _ body: @Sendable (ProcessContext) async throws -> ProcessOutcome?, context: ProcessContext
    ) async {
        let pid = context.pid
        var outcome = ProcessOutcome.terminated
        // Stopped between spawn and start (shutdown, or linked to a dead process): the body never runs.
        if isAlive(pid) {
            do {
                outcome = try await body(context) ?? .normal(nil)
            } catch {
                outcome = .failed(String(describing: error))
            }
        }
        let deferred = state.withLock { state in
            state.tasks[pid.serial] = nil
            return apply(state.table.exit(pid, outcome: outcome), to: &state)
        }
        deferred.perform(self)
    }

    /// Waits until `pid` exits and returns its outcome; `.noProcess` at once if it is not a live process of this
    /// runtime (outcomes are not kept after exit, and remote processes are watched with ``monitor(_:by:)`` instead).
    public func result(of pid: PID) async -> ProcessOutcome {
        await withCheckedContinuation { continuation in
            let waiting = state.withLock { state in
                guard state.table.isAlive(pid) else { return false }
                state.resultWaiters[pid.serial, default: []].append(continuation)
                return true
            }
            if !waiting { continuation.resume(returning: .noProcess) }
        }
    }

    /// How many callers wait in ``result(of:)`` for `pid` (lets tests release a process only once someone waits).
    func resultWaiterCount(_ pid: PID) -> Int {
        state.withLock { $0.resultWaiters[pid.serial]?.count ?? 0 }
    }

    /// Whether `pid` is a live process of this runtime; false for every PID of another node or boot (the runtime does
    /// not track remote processes: monitor them instead).
    public func isAlive(_ pid: PID) -> Bool {
        state.withLock { $0.table.isAlive(pid) }
    }

    /// False when `pid` is surely dead as far as this node can tell: a local process that is not alive, or a
    /// process of a node that is not up or of an earlier boot of it. True does not promise the process lives
    /// (only its node knows): it is what a cache of names uses to drop bindings that cannot be right.
    public func mayBeAlive(_ pid: PID) -> Bool {
        state.withLock { $0.table.mayBeAlive(pid) }
    }

    /// Live processes on this node.
    public var processCount: Int {
        state.withLock { $0.table.count }
    }

    /// Stops every process by force (outcome `.terminated`) and waits for their bodies to end; processes spawned
    /// afterwards are stopped at once. A body that ignores task cancellation delays this until it returns.
    public func shutdown() async {
        let (deferred, tasks) = state.withLock { state in
            state.shuttingDown = true
            return (apply(state.table.terminateAll(), to: &state), Array(state.tasks.values))
        }
        deferred.perform(self)
        for task in tasks {
            await task.value
        }
    }
}
