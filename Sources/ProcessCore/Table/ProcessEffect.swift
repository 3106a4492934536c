import CohortCore

/// Why a message or signal was not delivered: the `reason` label of `processes_messages_dropped_total`.
package enum DropReason: String, CaseIterable, Sendable {
    /// The receiving mailbox held `mailboxLimit` messages.
    case mailboxFull = "mailbox_full"
    /// The addressed process is not alive.
    case noProcess = "no_process"
    /// The PID belongs to an earlier boot of its node (or, for our node, to another boot than ours).
    case staleIncarnation = "stale_incarnation"
    /// The PID's node is not a member (never announced by `nodeUp`, or left), or there is no transport.
    case nodeDown = "node_down"
    /// An inbound signal could not be decoded.
    case decodeError = "decode_error"
    /// An inbound signal decoded but was inconsistent with the node that sent it (e.g. a watcher on another node).
    case invalidSignal = "invalid_signal"
    /// An outbound message exceeds the wire limits (``ProcessWireLimits``).
    case oversized
}

/// Something the ``ProcessTable`` decided and the runtime must carry out.
package enum ProcessEffect: Sendable, Hashable {
    /// Queue `event` in the mailbox of the local process `to`.
    case deliver(ProcessEvent, to: PID)
    /// Send `signal` to `node` through the transport.
    case signal(ProcessSignal, to: NodeID)
    /// The local process left the table with `outcome`: close its mailbox, answer waiters, count the exit.
    case exited(PID, ProcessOutcome)
    /// The local process was stopped by force: cancel its task (its ``exited(_:_:)`` is also emitted).
    case kill(PID)
    /// A message or signal was dropped.
    case dropped(DropReason)
}
