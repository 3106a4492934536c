import CohortTestKit
import Testing

/// Runs `Traces/testdata/<name>` in `environment` and records a failure at the trace file's line (a file ID
/// must read `Module/File`, or Swift Testing stops the process instead of recording the issue).
func checkTrace(_ name: String, in environment: some TraceEnvironment, filePath: String = #filePath) {
    guard let failure = TraceRunner.run(name, in: environment, testFile: filePath) else { return }
    Issue.record(Comment(rawValue: failure.description), sourceLocation: SourceLocation(fileID: "RaftTests/\(name)", filePath: failure.path, line: failure.line, column: 1))
}
