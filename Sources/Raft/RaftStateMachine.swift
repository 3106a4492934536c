import RaftCore

/// The application a ``RaftService`` replicates: it applies committed commands in log order and can
/// serialize and restore its whole state for snapshots.
///
/// Calls come one at a time, never overlapping: `apply` and `snapshot` from the service's actor on its
/// event loop — keep them quick (no I/O, no blocking), or Raft heartbeats wait behind them — and `restore`
/// from a thread-pool thread, while the service waits for it (so a large snapshot decodes without holding
/// up the event loop). Only a capture returned by `snapshot()` may run at the same time as a later call.
public protocol RaftStateMachine: Sendable {
    /// Applies one committed command entry (only `.command` payloads are handed over; no-ops and
    /// configuration entries are Raft's own). The result goes back to the proposer.
    func apply(_ entry: LogEntry) -> [UInt8]
    /// A capture of the whole state as of the last entry applied, serialized when called. The service
    /// calls the capture on a thread-pool thread, so a large state is written out without holding up the
    /// event loop: capture cheaply (a copy-on-write copy, an immutable version), serialize in the closure.
    func snapshot() -> @Sendable () -> [UInt8]
    /// Replaces the whole state with a snapshot taken by ``snapshot()`` (on this node or another). Called
    /// on a thread-pool thread: at start, and when a leader's snapshot is installed. Throws,
    /// leaving the state as it was, when the bytes are not a whole snapshot: the service then refuses to
    /// go on (at start, `run()` fails; later, the service stops) rather than serve a partial state.
    func restore(_ data: [UInt8]) throws
}
