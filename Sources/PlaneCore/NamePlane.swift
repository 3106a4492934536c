import CohortCore

/// The rules of the `names` plane (eventual names), as pure functions of a ``PlaneState`` so that every
/// node — and a simulation — decides the same from the same entries.
///
/// A registration is one entry keyed by the name's UTF-8 bytes, a 0 byte and the owner's PID as text
/// (`node@incarnation.serial`), with the one-byte value ``value``; its owner's node is its only writer. The
/// binding of a name is its live entry with the earliest stamp (clock, then node ID); every other live entry
/// of the name has lost, and its owner's node revokes it.
public enum NamePlane {
    /// The value of every registration (format 1).
    public static let value: [UInt8] = [1]

    /// The longest name: the key must fit ``PlaneLimits/maxKeyBytes`` with the separator and a PID text of
    /// up to 300 bytes.
    public static let maxNameBytes = PlaneLimits.maxKeyBytes - 1 - 300

    /// The key of `pid`'s registration of `name`.
    public static func key(name: String, pid: PID) -> [UInt8] {
        prefix(name) + Array(pid.description.utf8)
    }

    /// The prefix every registration of `name` starts with.
    public static func prefix(_ name: String) -> [UInt8] {
        Array(name.utf8) + [0]
    }

    /// The name and owner of a registration's key, or nil when it is not one.
    public static func decode(_ key: [UInt8]) -> (name: String, pid: PID)? {
        guard let zero = key.firstIndex(of: 0), zero > 0,
              let name = String(validating: key[..<zero], as: UTF8.self),
              let text = String(validating: key[(zero + 1)...], as: UTF8.self),
              let pid = PID(text) else { return nil }
        return (name, pid)
    }

    /// The binding of `name` in `state`: the owner and stamp of its earliest live registration.
    public static func binding(of name: String, in state: PlaneState) -> (pid: PID, stamp: PlaneStamp)? {
        guard let winner = registrations(of: name, in: state).min(by: { $0.stamp < $1.stamp }),
              let (_, pid) = decode(winner.key) else { return nil }
        return (pid, winner.stamp)
    }

    /// The live registrations of `names` in `state` that lose to an earlier one and belong to `node`'s
    /// processes: what `node` must revoke.
    public static func losers(of names: some Sequence<String>, in state: PlaneState, node: NodeID) -> [(name: String, pid: PID, key: [UInt8])] {
        var losers: [(name: String, pid: PID, key: [UInt8])] = []
        for name in names {
            let entries = registrations(of: name, in: state)
            guard let winner = entries.min(by: { $0.stamp < $1.stamp }) else { continue }
            for entry in entries where entry.stamp != winner.stamp {
                guard let (_, pid) = decode(entry.key), pid.node == node else { continue }
                losers.append((name, pid, entry.key))
            }
        }
        return losers
    }

    /// The bindings of names starting with `prefix`, in name order, at most `limit`.
    public static func bindings(prefix: String = "", limit: Int = .max, in state: PlaneState) -> [(name: String, pid: PID)] {
        var found: [(name: String, pid: PID)] = []
        var current: (name: String, pid: PID, stamp: PlaneStamp)?
        for entry in state.values(prefix: Array(prefix.utf8), physicalMillis: 0) {
            guard let (name, pid) = decode(entry.key) else { continue }
            if let held = current, held.name == name {
                if entry.stamp < held.stamp { current = (name, pid, entry.stamp) }
                continue
            }
            if let held = current {
                found.append((held.name, held.pid))
                if found.count == limit { return found }
            }
            current = (name, pid, entry.stamp)
        }
        if let held = current, found.count < limit { found.append((held.name, held.pid)) }
        return found
    }

    /// The number of names with at least one live registration.
    public static func bindingCount(in state: PlaneState) -> Int {
        var count = 0
        var last: String?
        for entry in state.values(physicalMillis: 0) {
            guard let (name, _) = decode(entry.key), name != last else { continue }
            last = name
            count += 1
        }
        return count
    }

    /// The live registrations of `name`.
    static func registrations(of name: String, in state: PlaneState) -> [PlaneEntry] {
        state.values(prefix: prefix(name), physicalMillis: 0)
    }
}
