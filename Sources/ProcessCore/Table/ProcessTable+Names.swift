import CohortCore

extension ProcessTable {
    /// Registers `name` for the live local process `pid` (SPEC §9, local scope). A process may hold several names;
    /// each is released when it exits.
    package mutating func register(_ name: String, _ pid: PID) throws(ProcessError) {
        guard !name.isEmpty, name.utf8.count <= ProcessWireLimits.maxNameBytes else { throw .invalidName(name) }
        guard pid.node == node else { throw .notLocal(pid) }
        guard record(of: pid) != nil else { throw .noProcess(pid) }
        if let current = names[name] { throw .nameTaken(name, current: current) }
        names[name] = pid
        processes[pid.serial]?.names.insert(name)
    }

    /// Releases `name`; nothing happens if it is not registered.
    package mutating func unregister(_ name: String) {
        guard let pid = names.removeValue(forKey: name) else { return }
        processes[pid.serial]?.names.remove(name)
    }
}
