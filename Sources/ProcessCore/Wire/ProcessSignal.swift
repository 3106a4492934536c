import CohortCore

/// One signal between the process runtimes of two nodes. Every remote operation is one of these, and all signals to a
/// node travel in one FIFO stream, so messages and the exits they precede stay in order.
///
/// The wire form is described in `docs/processes.md` and implemented by ``ProcessSignalCodec``.
public enum ProcessSignal: Sendable, Hashable {
    /// A message for `to`, a process of the receiving node.
    case message(from: PID?, to: PID, topic: String, payload: [UInt8])
    /// `watcher` (on the sending node) monitors `target` (on the receiving node) under `ref`.
    case monitor(ref: MonitorReference, watcher: PID, target: PID)
    /// `ref` (created by the sending node) on `target` (on the receiving node) is no longer wanted.
    case demonitor(ref: MonitorReference, target: PID)
    /// The monitor `ref` fired: `target` (on the sending node) exited with `outcome`, or was not alive.
    case down(ref: MonitorReference, target: PID, outcome: ProcessOutcome)
    /// Link `a` (on the sending node) with `b` (on the receiving node).
    case link(PID, PID)
    /// Remove the link between `a` (on the sending node) and `b` (on the receiving node).
    case unlink(PID, PID)
    /// The linked process `from` (on the sending node) exited with `outcome`; `to` is on the receiving node.
    case linkDown(from: PID, to: PID, outcome: ProcessOutcome)
    /// Ask `target` to stop (delivered as ``ProcessEvent/cancel(reason:)``).
    case cancel(target: PID, reason: String, from: PID?)
    /// Stop `target` by force (its outcome is ``ProcessOutcome/terminated``).
    case terminate(target: PID, from: PID?)
}
