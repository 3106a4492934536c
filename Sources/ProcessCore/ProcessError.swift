import CohortCore

/// Why a process operation was refused.
public enum ProcessError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No resolver and no local registration knows the name. Register it first or check the spelling.
    case noSuchName(String)
    /// The local name is registered to another process; unregister it or pick another name.
    case nameTaken(String, current: PID)
    /// The process is not alive (it exited, never existed or is of an earlier boot).
    case noProcess(PID)
    /// Local names can only point at processes of this node (SPEC §9 local scope); register remote processes
    /// in a cluster-wide scope instead.
    case notLocal(PID)
    /// A name must be non-empty and at most ``ProcessWireLimits/maxNameBytes`` bytes of UTF-8.
    case invalidName(String)

    public var description: String {
        switch self {
        case .noSuchName(let name): "no process is registered as '\(name)'"
        case .nameTaken(let name, let current): "name '\(name)' is already registered to \(current); unregister it first"
        case .noProcess(let pid): "process \(pid) is not alive"
        case .notLocal(let pid): "process \(pid) is not on this node; local names only name local processes"
        case .invalidName(let name):
            "invalid process name '\(name.prefix(64))': use 1 to \(ProcessWireLimits.maxNameBytes) bytes of UTF-8"
        }
    }
}
