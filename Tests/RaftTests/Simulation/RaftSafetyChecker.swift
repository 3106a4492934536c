import CohortCore
@testable import RaftCore

/// Checks Raft's safety properties as the simulation runs:
/// - election safety: at most one leader per term;
/// - committed entries never change: every node's committed entries agree with the longest committed
///   prefix seen so far, and a node's commit index never goes back while it runs;
/// - state machine safety: every node applies the same entry at each index, in order, without gaps, and a
///   snapshot it installs holds exactly the commands applied up to its index;
/// - linearizable reads: a ReadIndex answer is at least everything committed before the read started.
struct RaftSafetyChecker {
    var failure: String?
    private var leaderOfTerm: [Term: NodeID] = [:]
    /// The committed entry at each index, as first seen.
    private var committed: [LogIndex: LogEntry] = [:]
    /// The highest index seen committed anywhere.
    private(set) var maxCommitted: LogIndex = 0
    /// Reads in flight: the commit floor each answer must reach.
    var readFloors: [ReadContext: LogIndex] = [:]

    mutating func fail(_ message: String) {
        if failure == nil { failure = message }
    }

    /// After every event at `node`.
    mutating func check(_ node: inout RaftSimulationNode) {
        guard let core = node.core else { return }
        if core.state == .leader {
            if let other = leaderOfTerm[core.term], other != node.id {
                fail("two leaders in term \(core.term): \(other) and \(node.id)")
            }
            leaderOfTerm[core.term] = node.id
        }
        let commit = core.commitIndex
        guard commit >= node.checkedCommit else {
            fail("\(node.id)'s commit index went back from \(node.checkedCommit) to \(commit)")
            return
        }
        guard commit > node.checkedCommit else { return }
        let first = max(node.checkedCommit + 1, core.log.firstIndex)
        for index in first..<max(first, commit + 1) {
            guard let entry = core.log.entry(at: index) else {
                fail("\(node.id) has committed index \(index) but not the entry")
                return
            }
            agree(entry, at: node.id, what: "committed")
        }
        node.checkedCommit = commit
        maxCommitted = max(maxCommitted, commit)
    }

    private mutating func agree(_ entry: LogEntry, at node: NodeID, what: String) {
        if let known = committed[entry.index] {
            if known != entry { fail("\(node) has \(what) \(entry) where \(known) was committed") }
        } else {
            committed[entry.index] = entry
        }
    }

    /// A node's state machine applies `entry`.
    mutating func apply(_ entry: LogEntry, on node: inout RaftSimulationNode) {
        guard entry.index == node.stateMachine.appliedIndex + 1 else {
            fail("\(node.id) applies \(entry.index) after \(node.stateMachine.appliedIndex)")
            return
        }
        agree(entry, at: node.id, what: "applied")
        node.stateMachine.appliedIndex = entry.index
        if case .command(let bytes) = entry.payload { node.stateMachine.commands.append(Self.command(bytes)) }
    }

    /// A node installed a snapshot: its state must be what applying the committed prefix gives.
    mutating func checkInstalledSnapshot(_ node: NodeID, state: SimulatedStateMachine, metadata: SnapshotMetadata) {
        guard state.appliedIndex == metadata.index else {
            fail("\(node) installed a snapshot whose state is at \(state.appliedIndex), metadata at \(metadata.index)")
            return
        }
        if let expected = commands(through: metadata.index), expected != state.commands {
            fail("\(node) installed a snapshot through \(metadata.index) that differs from the committed prefix")
        }
    }

    /// The commands committed through `index`, when every entry up to there has been seen.
    private func commands(through index: LogIndex) -> [UInt64]? {
        guard index > 0 else { return [] }
        var result: [UInt64] = []
        for position in 1...index {
            guard let entry = committed[position] else { return nil }
            if case .command(let bytes) = entry.payload { result.append(Self.command(bytes)) }
        }
        return result
    }

    /// At the end: every running node's log agrees with the committed prefix up to its commit index, and its
    /// state machine equals the committed prefix up to its applied index.
    mutating func finalCheck(_ nodes: [RaftSimulationNode]) -> String? {
        for node in nodes {
            guard let core = node.core else { continue }
            if core.commitIndex >= core.log.firstIndex {
                for index in core.log.firstIndex...core.commitIndex {
                    if let entry = core.log.entry(at: index) { agree(entry, at: node.id, what: "committed (final check)") }
                }
            }
            if let expected = commands(through: node.stateMachine.appliedIndex), expected != node.stateMachine.commands {
                fail("\(node.id)'s state machine differs from the committed prefix through \(node.stateMachine.appliedIndex)")
            }
        }
        checkLogMatching(nodes.compactMap(\.core))
        return failure
    }

    /// Log matching: when two logs hold an entry with the same index and term, they hold the same entries
    /// up to there (committed or not).
    private mutating func checkLogMatching(_ cores: [RaftNode]) {
        for (offset, first) in cores.enumerated() {
            for second in cores[(offset + 1)...] {
                let low = max(first.log.firstIndex, second.log.firstIndex)
                let high = min(first.log.lastIndex, second.log.lastIndex)
                guard low <= high else { continue }
                // The highest index where both hold the same term; everything from `low` up to it must agree.
                guard let shared = (low...high).reversed().first(where: { first.log.term(at: $0) == second.log.term(at: $0) }) else { continue }
                for index in low...shared where first.log.entry(at: index) != second.log.entry(at: index) {
                    fail("log matching: \(first.id) and \(second.id) agree at \(shared)@\(first.log.term(at: shared) ?? 0) but differ at \(index)")
                    return
                }
            }
        }
    }

    static func command(_ bytes: [UInt8]) -> UInt64 {
        bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }
}
