import CohortTestKit
import CohortCore
@testable import RaftCore

/// How Raft trace files print nodes, readies and entries. Every line starts with the node it is about;
/// lists are in a fixed order (configuration order, log order), so outputs are stable.
enum RaftTraceFormat {
    /// One line: role, term, last log entry and election timeout — what `cluster` prints per node.
    static func summary(of node: RaftNode) -> String {
        let log = node.lastIndex == 0 ? "empty log" : "last \(node.log.lastPosition)"
        let blank = node.isBlank ? ", blank" : ""
        let timeout = "election timeout \(node.randomizedElectionTimeout) ticks"
        return "\(node.id): \(node.state), term \(node.term), \(log)\(blank), \(timeout)"
    }

    /// `status a`: the node's state, configuration and, on a leader, its view of every member.
    static func status(of node: RaftNode) -> [String] {
        let vote = node.vote?.rawValue ?? "none", leader = node.leader?.rawValue ?? "none"
        var flags = node.isBlank ? ", blank" : ""
        if node.isKnownRemoved { flags += ", knows it was removed" }
        var lines = [
            "\(node.id): \(node.state), term \(node.term), vote \(vote), leader \(leader)\(flags)",
            "\(node.id): last \(node.log.lastPosition), commit \(node.commitIndex), applied \(node.appliedIndex)",
            "\(node.id): \(node.configuration)",
        ]
        if node.state == .leader {
            for member in node.configuration.members where member != node.id {
                guard let progress = node.progress[member] else { continue }
                lines.append("\(node.id): \(member) " + describe(progress))
            }
        } else {
            lines.append("\(node.id): election timer \(node.electionElapsed) of \(node.randomizedElectionTimeout) ticks")
        }
        return lines
    }

    /// `log a`: every entry the node holds, then its commit and applied indexes.
    static func log(of node: RaftNode) -> [String] {
        let entries = node.log.entries(from: node.log.firstIndex) ?? []
        var lines = entries.map { "\(node.id): \(describe($0))" }
        if node.log.snapshot.index > 0 { lines.insert("\(node.id): \(node.log.snapshot)", at: 0) }
        lines.append("\(node.id): commit \(node.commitIndex), applied \(node.appliedIndex)")
        return lines
    }

    /// A ready in the order the shell carries it out: what is persisted, what is sent (a message over a
    /// link in `cut` is marked dropped), what is applied, which reads are answered or dropped. With
    /// `readsOnly`, only the reads.
    static func ready(_ ready: Ready, of name: NodeID, droppedBy cut: Set<RaftTraceLink>, readsOnly: Bool) -> [String] {
        let reads = ready.readStates.map { "\(name): read \($0.context) may be served once index \($0.index) is applied" }
            + ready.droppedReads.map { "\(name): read \($0) dropped, retry it" }
        if readsOnly { return reads }
        var lines: [String] = []
        if let snapshot = ready.snapshot { lines.append("\(name) persists \(snapshot)") }
        lines += ready.entries.map { "\(name) persists \(describe($0))" }
        if let hardState = ready.hardState { lines.append("\(name) persists \(describe(hardState))") }
        for outgoing in ready.messages {
            let dropped = cut.contains(RaftTraceLink(from: outgoing.message.from, to: outgoing.message.to))
            lines.append("\(outgoing)" + (dropped ? " (dropped)" : ""))
        }
        lines += ready.committedEntries.map { "\(name) applies \(describe($0))" }
        return lines + reads
    }

    /// `3@2 "x"`, `2@2 noop`, `1@1 config voters [a,b,c] standbys []`.
    static func describe(_ entry: LogEntry) -> String {
        switch entry.payload {
        case .noop: "\(entry.position) noop"
        case .command(let bytes): "\(entry.position) \"\(String(decoding: bytes, as: UTF8.self))\""
        case .configuration(let configuration): "\(entry.position) config \(configuration)"
        }
    }

    /// `term 2, vote a, commit 1` (and `, blank` for a blank replica).
    static func describe(_ state: HardState) -> String {
        "term \(state.term), vote \(state.vote?.rawValue ?? "none"), commit \(state.commit)" + (state.blank ? ", blank" : "")
    }

    /// `match 3, next 4, replicate, active` as a leader sees a member.
    static func describe(_ progress: PeerProgress) -> String {
        let state = switch progress.state {
        case .probe: "probe"
        case .replicate: "replicate"
        case .snapshot(let index): "snapshot \(index)"
        }
        var parts = ["match \(progress.match)", "next \(progress.next)", state]
        if progress.recentActive { parts.append("active") }
        if progress.isBlank { parts.append("blank") }
        return parts.joined(separator: ", ")
    }
}
