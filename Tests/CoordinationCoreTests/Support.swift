import CohortCore
@testable import CoordinationCore

/// A state driven the way Raft drives it: one entry after another, each at the next index.
struct Replica {
    var state = CoordinationState()
    var nextIndex: UInt64 = 1
    /// Every change so far, in order.
    var changes: [CoordinationChange] = []

    /// Applies `operation` at the next index, at leader time `time`, through the codec (as the log does).
    @discardableResult
    mutating func apply(_ operation: CoordinationCommand.Operation, at time: UInt64) -> CoordinationResult {
        let bytes = CoordinationCommand(operation, time: time).encoded()
        let (result, changes) = state.apply(encoded: bytes, index: nextIndex)
        nextIndex += 1
        self.changes += changes
        return (try? CoordinationResult.decode(result)) ?? .malformed
    }

    /// The index the last command applied at.
    var lastIndex: UInt64 { nextIndex - 1 }
}

func pid(_ node: String, _ incarnation: UInt64 = 1, _ serial: UInt64 = 1) -> PID {
    PID(node: NodeID(node), incarnation: Incarnation(incarnation), serial: serial)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
