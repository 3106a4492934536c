import CohortCore
import GroupsCore

/// A PID of node `node` (boot 1 unless told) with `serial`.
func pid(_ node: String, _ serial: UInt64, boot: UInt64 = 1) -> PID {
    PID(node: NodeID(node), incarnation: Incarnation(boot), serial: serial)
}

func core(_ node: String, boot: UInt64 = 1, settings: ScopeSettings = ScopeSettings()) -> ScopeCore {
    ScopeCore(node: NodeID(node), incarnation: Incarnation(boot), settings: settings)
}

/// Delivers every message among `cores` (by node name), in order, until none is left; returns how many.
@discardableResult
func exchange(_ cores: inout [String: ScopeCore], now: UInt64 = 1, dropping: (String, String, GroupMessage) -> Bool = { _, _, _ in false }) -> Int {
    var delivered = 0
    var queue: [(String, String, GroupMessage)] = []
    func collect(_ cores: inout [String: ScopeCore]) {
        for name in cores.keys.sorted() {
            let output = cores[name]!.takeOutput()
            // Every message survives its own codec (the wire is exercised on every delivery).
            for (to, message) in output.sends {
                let frame = GroupFrame.encode(scope: "s", message)
                let decoded = try! GroupFrame.decode(frame)
                precondition(decoded.message == message && decoded.scope == "s")
                queue.append((name, to.rawValue, message))
            }
        }
    }
    collect(&cores)
    var steps = 0
    while !queue.isEmpty {
        steps += 1
        precondition(steps < 100_000, "the exchange does not settle")
        let (from, to, message) = queue.removeFirst()
        guard cores[to] != nil, !dropping(from, to, message) else { continue }
        let incarnation = cores[from]?.incarnation ?? Incarnation(1)
        cores[to]!.receive(message, from: NodeID(from), incarnation: incarnation, now: now)
        delivered += 1
        collect(&cores)
    }
    return delivered
}

/// Every node's copy of every other node's memberships equals that node's own.
func converged(_ cores: [String: ScopeCore]) -> Bool {
    for (name, core) in cores {
        for (other, peer) in cores where other != name {
            let copy = core.views[NodeID(other)]
            if peer.local.count == 0 {
                if let copy, copy.members.count != 0 { return false }
            } else if copy?.members != peer.local || copy?.incarnation != peer.incarnation {
                return false
            }
        }
    }
    return true
}
