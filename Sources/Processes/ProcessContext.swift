import CohortCore

/// What a process body is given: its PID, its mailbox and the runtime, with conveniences that act as this process.
public struct ProcessContext: Sendable {
    /// This process.
    public let pid: PID
    /// This process's incoming events.
    public let mailbox: Mailbox
    /// The runtime the process runs in, e.g. to spawn children.
    public let runtime: ProcessRuntime

    /// Sends a message from this process to `to` (see ``ProcessRuntime/send(from:to:topic:payload:)``).
    public func send(to: PID, topic: String, payload: [UInt8] = []) {
        runtime.send(from: pid, to: to, topic: topic, payload: payload)
    }

    /// Sends a message from this process to the process named `name`, resolved through every scope.
    public func send(to name: String, topic: String, payload: [UInt8] = []) throws(ProcessError) {
        try runtime.send(from: pid, to: name, topic: topic, payload: payload)
    }

    /// Monitors `target` from this process.
    @discardableResult
    public func monitor(_ target: PID) -> MonitorReference { runtime.monitor(target, by: pid) }

    /// Removes a monitor this process created.
    public func demonitor(_ ref: MonitorReference) { runtime.demonitor(ref) }

    /// Links this process with `other`.
    public func link(_ other: PID) { runtime.link(pid, other) }

    /// Removes the link between this process and `other`.
    public func unlink(_ other: PID) { runtime.unlink(pid, other) }

    /// Registers `name` for this process (local scope).
    public func register(_ name: String) throws(ProcessError) { try runtime.register(name, pid) }

    /// Asks `target` to stop, as this process.
    public func cancel(_ target: PID, reason: String) { runtime.cancel(target, reason: reason, from: pid) }

    /// Stops `target` by force, as this process.
    public func terminate(_ target: PID) { runtime.terminate(target, from: pid) }

    // By name: resolved once, through every scope this node can read synchronously (consistent from a
    // Raft member's replica, then local), as `send(to:topic:payload:)` does. A name that resolves to
    // nothing throws `noSuchName`, as Erlang's `monitor(process, Name)` reports `noproc` at once. On a
    // client node, consistent names resolve through `CohortNode.names.lookup` first.

    /// Monitors the process named `name` from this process.
    @discardableResult
    public func monitor(_ name: String) throws(ProcessError) -> MonitorReference { monitor(try resolved(name)) }

    /// Links this process with the process named `name`.
    public func link(_ name: String) throws(ProcessError) { link(try resolved(name)) }

    /// Asks the process named `name` to stop, as this process.
    public func cancel(_ name: String, reason: String) throws(ProcessError) { cancel(try resolved(name), reason: reason) }

    /// Stops the process named `name` by force, as this process.
    public func terminate(_ name: String) throws(ProcessError) { terminate(try resolved(name)) }

    private func resolved(_ name: String) throws(ProcessError) -> PID {
        guard let pid = runtime.resolve(name) else { throw .noSuchName(name) }
        return pid
    }

    /// Spawns a process linked to this one before it starts (Erlang's `spawn_link`).
    @discardableResult
    public func spawnLinked(
        label: String? = nil, trapLinks: Bool = false,
        _ body: @escaping @Sendable (ProcessContext) async throws -> ProcessOutcome?
    ) -> PID {
        runtime.spawn(label: label, options: SpawnOptions(trapLinks: trapLinks, link: pid), body)
    }
}
