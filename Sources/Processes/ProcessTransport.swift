import CohortCore

/// Carries encoded remote signals (see ``ProcessSignal``) to other nodes; the node implements it over the mesh.
///
/// The runtime's guarantees (per-sender FIFO, a message before the exit notification it precedes) rest on this
/// contract: delivery is reliable, exactly once and in call order per destination node while that node is a member.
/// `send` is called in the order the runtime decided the signals, from whichever thread performs the operation, never
/// while the runtime holds its lock — but it must not wait for the peer either.
public protocol ProcessTransport: Sendable {
    /// Queues `signal` for `node`. Reliable and FIFO per destination node while that node is a member; never blocks.
    func send(_ signal: [UInt8], to node: NodeID)
}

/// A source of name bindings consulted before local names by ``ProcessRuntime/send(from:to:topic:payload:)-(_,String,_,_)``,
/// e.g. the Raft (consistent/strong) and gossip (eventual) name scopes (SPEC §5: Raft → gossip → local).
public protocol NameResolver: Sendable {
    /// The process bound to `name` in this scope, or nil to let the next scope answer. Must not block.
    func resolve(_ name: String) -> PID?
}
