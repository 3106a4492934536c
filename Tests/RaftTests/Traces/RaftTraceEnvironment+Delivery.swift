import CohortTestKit
import CohortCore
@testable import RaftCore

/// Handing inputs to cores, carrying out their readies and delivering their messages.
extension RaftTraceEnvironment {
    /// Gives node `name` an input and returns what it printed: the lines `body` returns, how its role,
    /// term, leader and configuration changed, then each ready it produced (carried out at once).
    mutating func input(_ name: NodeID, _ body: (inout RaftNode) -> [String]) -> [String] {
        var node = nodes[name]!
        let before = RaftNodeView(node)
        var lines = body(&node)
        var readyLines: [String] = []
        while node.hasReady {
            let ready = node.ready()
            readyLines += RaftTraceFormat.ready(ready, of: name, droppedBy: cut, readsOnly: isQuiet)
            queue += ready.messages.map(\.message).filter { !cut.contains(RaftTraceLink(from: $0.from, to: $0.to)) }
            node.advance()
        }
        lines += before.changes(to: RaftNodeView(node)) + readyLines
        nodes[name] = node
        return lines
    }

    /// `deliver [from=a] [to=b]`: delivers every queued message that matches, in order, once. Each message
    /// is printed with what its receiver did, indented under it.
    mutating func deliver(_ command: TraceCommand) throws(TraceError) -> [String] {
        let from = command.options["from"].map(NodeID.init), to = command.options["to"].map(NodeID.init)
        let batch = queue
        queue = []
        var kept: [Message] = []
        var lines: [String] = []
        for message in batch {
            if let from, message.from != from { kept.append(message); continue }
            if let to, message.to != to { kept.append(message); continue }
            lines += deliver(message)
        }
        queue = kept + queue
        return lines
    }

    /// `stabilize`: delivers until nothing is queued.
    mutating func stabilize() throws(TraceError) -> [String] {
        var lines: [String] = []
        for _ in 0..<100 {
            guard !queue.isEmpty else { return lines }
            let batch = queue
            queue = []
            for message in batch { lines += deliver(message) }
        }
        throw TraceError("`stabilize`: messages still flow after 100 rounds")
    }

    /// Delivers one message; prints it, then what its receiver printed, indented. When quiet, a message
    /// whose receiver printed nothing is left out.
    private mutating func deliver(_ message: Message) -> [String] {
        guard !cut.contains(RaftTraceLink(from: message.from, to: message.to)), nodes[message.to] != nil else {
            return isQuiet ? [] : ["\(message) (dropped)"]
        }
        let printed = input(message.to) { $0.step(message); return [] }
        return isQuiet && printed.isEmpty ? [] : ["\(message)"] + printed.map { "  " + $0 }
    }
}

/// What the trace reports about a node when it changes: role, term, leader, configuration, admission.
struct RaftNodeView: Equatable, Sendable {
    /// The node.
    var id: NodeID
    /// What it is doing.
    var role: RaftNodeState
    /// Its term.
    var term: Term
    /// The leader it knows of.
    var leader: NodeID?
    /// The configuration in force on it.
    var configuration: Configuration
    /// True while it is a blank replica.
    var isBlank: Bool
    /// True once it knows it was removed.
    var isKnownRemoved: Bool

    /// The view of `node` now.
    init(_ node: RaftNode) {
        id = node.id
        role = node.state
        term = node.term
        leader = node.leader
        configuration = node.configuration
        isBlank = node.isBlank
        isKnownRemoved = node.isKnownRemoved
    }

    /// Lines describing what differs in `after`, e.g. `a: preCandidate → candidate, term 1 → 2`.
    func changes(to after: RaftNodeView) -> [String] {
        var lines: [String] = []
        if role != after.role || term != after.term || leader != after.leader {
            var parts = [role == after.role ? "\(role)" : "\(role) → \(after.role)"]
            parts.append(term == after.term ? "term \(term)" : "term \(term) → \(after.term)")
            let leadsItself = after.role == .leader && after.leader == id
            if leader != after.leader, !leadsItself { parts.append("leader \(after.leader?.rawValue ?? "none")") }
            lines.append("\(id): " + parts.joined(separator: ", "))
        }
        if configuration != after.configuration { lines.append("\(id): configuration \(after.configuration)") }
        if isBlank != after.isBlank { lines.append(after.isBlank ? "\(id): blank" : "\(id): admitted (no longer blank)") }
        if isKnownRemoved != after.isKnownRemoved {
            lines.append(after.isKnownRemoved ? "\(id): learns it was removed" : "\(id): back in the configuration")
        }
        return lines
    }
}
