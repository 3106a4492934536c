import CohortTestKit
import Testing

/// The SWIM cluster simulations: CPU-bound and synchronous, so they run one at a time, each on a thread of
/// its own (``simulate(_:)``). On the cooperative pool, which has one thread per core (two here), a run
/// would hold a pool thread for seconds and starve the suites that wait on real sockets and processes with
/// deadlines.
@Suite(.serialized) struct SWIMSimulations {}

/// What a simulation found wrong, collected on the simulation's own thread and recorded as issues on the
/// test's task by ``simulate(_:)``: Swift Testing attributes an issue to its test through task-locals, which
/// a plain thread does not have, so `#expect` and `#require` cannot run there.
struct SimulationChecks: Sendable {
    struct Failure: Sendable {
        var message: String
        var sourceLocation: SourceLocation
    }

    private(set) var failures: [Failure] = []

    /// `#expect(condition, message)`: notes a failure, at the caller's line, when `condition` is false.
    /// Returns `condition`.
    @discardableResult
    mutating func expect(
        _ condition: Bool, _ message: @autoclosure () -> String,
        fileID: String = #fileID, filePath: String = #filePath, line: Int = #line, column: Int = #column
    ) -> Bool {
        if !condition {
            let location = SourceLocation(fileID: fileID, filePath: filePath, line: line, column: column)
            failures.append(Failure(message: message(), sourceLocation: location))
        }
        return condition
    }
}

/// Runs `simulation` on a dedicated thread (see `onDedicatedThread`), then records each failed check as an
/// issue of the calling test, at the check's own line. `#require` becomes
/// `guard checks.expect(…) else { return }`.
func simulate(_ simulation: @escaping @Sendable (inout SimulationChecks) -> Void) async {
    let failures = await onDedicatedThread {
        var checks = SimulationChecks()
        simulation(&checks)
        return checks.failures
    }
    for failure in failures {
        Issue.record(Comment(rawValue: failure.message), sourceLocation: failure.sourceLocation)
    }
}
