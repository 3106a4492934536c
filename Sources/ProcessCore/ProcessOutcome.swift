import CohortCore

/// How a process ended: the "result" carried by an exit notification (`EXIT(result)`, `LINK_DOWN`).
///
/// Only ``normal(_:)`` is a normal exit. Every other outcome is abnormal and, like an Erlang exit reason
/// other than `normal`, stops a linked process that does not trap links (see ``SpawnOptions/trapLinks``).
public enum ProcessOutcome: Sendable, Hashable, CustomStringConvertible {
    /// The body returned; the bytes are its optional result (a returned `nil` body result is `.normal(nil)`).
    case normal([UInt8]?)
    /// The body threw; the text describes the error.
    case failed(String)
    /// The body stopped on its own after a cancel request and said why (returned by the body itself).
    case cancelled(String)
    /// The process was stopped by force (``ProcessRuntime/terminate(_:from:)`` or runtime shutdown).
    case terminated
    /// The process was stopped by force because the linked process `PID` exited abnormally.
    case linked(PID)
    /// There was no such process: it had already exited, never existed, or belongs to an earlier boot.
    case noProcess
    /// The process's node left membership (or rebooted), so its fate is unknown and treated as dead.
    case nodeDown

    /// True only for ``normal(_:)``; a normal exit does not stop linked processes.
    public var isNormal: Bool {
        if case .normal = self { return true }
        return false
    }

    /// The value of the `outcome` label of `processes_exited_total`.
    public var label: String {
        switch self {
        case .normal: "normal"
        case .failed: "failed"
        case .cancelled: "cancelled"
        case .terminated: "terminated"
        case .linked: "linked"
        case .noProcess: "no_process"
        case .nodeDown: "node_down"
        }
    }

    /// Every value of ``label``, so metrics can be created at zero.
    public static let labels = ["normal", "failed", "cancelled", "terminated", "linked", "no_process", "node_down"]

    public var description: String {
        switch self {
        case .normal(nil): "normal"
        case .normal(let bytes?): "normal(\(bytes.count) bytes)"
        case .failed(let why): "failed(\(why))"
        case .cancelled(let why): "cancelled(\(why))"
        case .terminated: "terminated"
        case .linked(let pid): "linked(\(pid))"
        case .noProcess: "noProcess"
        case .nodeDown: "nodeDown"
        }
    }
}
