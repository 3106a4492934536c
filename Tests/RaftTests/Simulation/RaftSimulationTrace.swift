import CohortCore
@testable import RaftCore

/// The last events of a run, kept cheaply and formatted only when a run fails.
struct RaftSimulationTrace {
    enum Event {
        case tick
        case deliver(Message)
        case crash
        case restart
        case heal
        case partition([[NodeID]])
        case block(NodeID)
        case propose(UInt64)
        case refused(String)
        case change(ConfigurationChange)
        case read(ReadContext)
        case compact(LogIndex)
        case transfer(NodeID)
        case wipe
        case pause
        case delay(NodeID)
    }

    private var ring: [(offset: Duration, node: NodeID?, event: Event)] = []
    private var next = 0
    let capacity = 150

    mutating func record(_ offset: Duration, _ node: NodeID?, _ event: Event) {
        if ring.count < capacity {
            ring.append((offset, node, event))
        } else {
            ring[next] = (offset, node, event)
        }
        next = (next + 1) % capacity
    }

    /// The recorded events, oldest first, one per line (ticks left out).
    func tail() -> String {
        let ordered = ring.count < capacity ? ring : Array(ring[next...] + ring[..<next])
        return ordered.compactMap { offset, node, event -> String? in
            let who = node?.rawValue ?? "*"
            switch event {
            case .tick: return nil
            case .deliver(let message): return "\(offset) \(who) ← \(message)"
            default: return "\(offset) \(who) \(event)"
            }
        }.joined(separator: "\n")
    }
}
