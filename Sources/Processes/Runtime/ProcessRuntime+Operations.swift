import CohortCore

extension ProcessRuntime {
    /// Sends a message to `to`, fire-and-forget: no error, no acknowledgement (Erlang's `!`).
    ///
    /// Messages from one sender to one process arrive in send order, locally and across nodes. A message for a dead
    /// process, a PID of another boot, a node that is not a member, or a full mailbox is dropped and counted in
    /// `processes_messages_dropped_total`. Local delivery is one lock and one enqueue.
    public func send(from: PID?, to: PID, topic: String, payload: [UInt8]) {
        let deferred: Deferred? = state.withLock { state in
            switch state.table.route(to) {
            case .local:
                var deferred = Deferred()
                let event = ProcessEvent.message(ProcessMessage(from: from, topic: topic, payload: payload))
                if deliver(event, to: to, in: &state, deferred: &deferred) { metrics.message(.local) }
                return deferred.wakes.isEmpty ? nil : deferred
            case .remote(let node):
                state.outbox.append((.message(from: from, to: to, topic: topic, payload: payload), node))
                var deferred = Deferred()
                takeOutbox(&state, into: &deferred)
                return deferred.outbound.isEmpty ? nil : deferred
            case .dropped(let reason):
                metrics.dropped(reason)
                return nil
            }
        }
        deferred?.perform(self)
    }

    /// Sends the same message to each of `pids`, as many ``send(from:to:topic:payload:)`` calls would, but
    /// decides this node's deliveries under one lock (what a group broadcast does on each node). Returns how
    /// many local deliveries succeeded; other PIDs are sent to one by one.
    @discardableResult
    public func send(from: PID?, toEach pids: some Sequence<PID>, topic: String, payload: [UInt8]) -> Int {
        var remote: [PID] = []
        let event = ProcessEvent.message(ProcessMessage(from: from, topic: topic, payload: payload))
        let (delivered, deferred): (Int, Deferred) = state.withLock { state in
            var deferred = Deferred()
            var delivered = 0
            for pid in pids {
                switch state.table.route(pid) {
                case .local:
                    if deliver(event, to: pid, in: &state, deferred: &deferred) { delivered += 1 }
                case .remote:
                    remote.append(pid)
                case .dropped(let reason):
                    metrics.dropped(reason)
                }
            }
            return (delivered, deferred)
        }
        if delivered > 0 { metrics.message(.local, count: delivered) }
        deferred.perform(self)
        for pid in remote { send(from: from, to: pid, topic: topic, payload: payload) }
        return delivered
    }

    /// Sends a message to the process named `name`: the resolvers added with ``addResolver(_:)`` are asked first, in
    /// the order they were added (cluster scopes), then this node's local names.
    ///
    /// - Throws: ``ProcessError/noSuchName(_:)`` when no scope knows the name. Delivery itself is fire-and-forget.
    public func send(from: PID?, to name: String, topic: String, payload: [UInt8]) throws(ProcessError) {
        guard let pid = resolve(name) else { throw .noSuchName(name) }
        send(from: from, to: pid, topic: topic, payload: payload)
    }

    /// The process `name` stands for: the resolver chain, then local names.
    public func resolve(_ name: String) -> PID? {
        // Copied out so a resolver is never called under a lock it might need itself.
        for resolver in resolvers.withLock({ $0 }) {
            if let pid = resolver.resolve(name) { return pid }
        }
        return whereis(name)
    }

    /// Calls `observer` after every exit of a local process, normal or not (sessions included), outside
    /// the table's lock. Keep it quick: hand work off.
    public func onExit(_ observer: @escaping @Sendable (PID, ProcessOutcome) -> Void) {
        exitObservers.withLock { $0.append(observer) }
    }

    /// Adds a name scope consulted before local names and after the resolvers added earlier.
    public func addResolver(_ resolver: any NameResolver) {
        resolvers.withLock { $0.append(resolver) }
    }

    /// Asks `pid` to stop: it receives ``ProcessEvent/cancel(reason:)`` and decides how (Erlang's `exit(Pid, Reason)`
    /// to a process that traps exits). Nothing happens if it is not alive.
    public func cancel(_ pid: PID, reason: String, from: PID?) {
        perform { $0.cancel(pid, reason: reason, from: from) }
    }

    /// Stops `pid` by force (Erlang's `exit(Pid, kill)`): it leaves the table at once with outcome `.terminated` —
    /// monitors fire, links propagate, names are released — and its task is cancelled. Until the body notices the
    /// cancellation it keeps running, but its mailbox has ended and nothing refers to it any more.
    public func terminate(_ pid: PID, from: PID?) {
        perform { $0.terminate(pid, from: from) }
    }

    /// `watcher` (a live process of this runtime) monitors `target`: `watcher` receives
    /// ``ProcessEvent/exit(_:_:)`` once, when `target` exits or its node leaves membership — at once, with
    /// `.noProcess`, if `target` is already dead, unknown or of an earlier boot, and with `.nodeDown` if its node is
    /// not a member. A watcher that is not a live local process gets a reference that never fires.
    @discardableResult
    public func monitor(_ target: PID, by watcher: PID) -> MonitorReference {
        let (ref, deferred) = state.withLock { state in
            let (ref, effects) = state.table.monitor(target, by: watcher)
            return (ref, apply(effects, to: &state))
        }
        deferred.perform(self)
        return ref
    }

    /// Removes a monitor created here. An `EXIT` already in the watcher's mailbox stays there (unlike Erlang's
    /// `demonitor(Ref, [flush])`).
    public func demonitor(_ ref: MonitorReference) {
        perform { $0.demonitor(ref) }
    }

    /// Links `a` and `b` (one of them a live process of this runtime), both ways. When either exits, the other gets
    /// ``ProcessEvent/linkDown(_:_:)`` if it traps links (``SpawnOptions/trapLinks``); otherwise an abnormal exit
    /// (anything but `.normal`) stops it by force with `.linked(pid)`, and a normal exit is ignored. Linking to a
    /// process that is already dead counts as its abnormal exit (`.noProcess`, or `.nodeDown` if its node is not a
    /// member). Linking twice is one link.
    public func link(_ a: PID, _ b: PID) {
        perform { $0.link(a, b) }
    }

    /// Removes the link between `a` and `b`.
    public func unlink(_ a: PID, _ b: PID) {
        perform { $0.unlink(a, b) }
    }

    /// Registers `name` for the local process `pid` (SPEC §9, local scope): meaningful on this node only, released
    /// when the process exits. A process may hold several names.
    ///
    /// - Throws: ``ProcessError/nameTaken(_:current:)``, ``ProcessError/noProcess(_:)``,
    ///   ``ProcessError/notLocal(_:)`` or ``ProcessError/invalidName(_:)``.
    public func register(_ name: String, _ pid: PID) throws(ProcessError) {
        try state.withLock { state throws(ProcessError) in try state.table.register(name, pid) }
    }

    /// Releases the local name `name`; nothing happens if it is not registered.
    public func unregister(_ name: String) {
        state.withLock { $0.table.unregister(name) }
    }

    /// How many local names are registered.
    public var localNameCount: Int {
        state.withLock { $0.table.names.count }
    }

    /// The local process registered as `name` (local scope only; ``resolve(_:)`` asks every scope).
    public func whereis(_ name: String) -> PID? {
        state.withLock { $0.table.whereis(name) }
    }

    /// Local names starting with `prefix`, in name order, at most `limit`.
    public func localNames(prefix: String = "", limit: Int = .max) -> [(name: String, pid: PID)] {
        let names = state.withLock { $0.table.names }
        return names.filter { $0.key.hasPrefix(prefix) }
            .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            .prefix(limit).map { (name: $0.key, pid: $0.value) }
    }

    /// Runs a table handler under the lock, applies its effects and performs the rest after unlocking.
    func perform(path: ProcessMetrics.Path = .local, _ handler: (inout ProcessTable) -> [ProcessEffect]) {
        let deferred = state.withLock { state in
            apply(handler(&state.table), to: &state, path: path)
        }
        deferred.perform(self)
    }
}
