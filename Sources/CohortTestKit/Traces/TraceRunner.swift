import Foundation  // reading and rewriting files, the environment variable

/// Runs trace commands and answers each with the lines it prints. A fresh environment runs each file.
public protocol TraceEnvironment {
    /// Runs one command; throws when the command itself is malformed (unknown name, missing argument).
    mutating func run(_ command: TraceCommand) throws(TraceError) -> [String]
}

/// Where a trace run failed: the trace file, the line of the block, and what to tell the reader.
public struct TraceFailure: Sendable, CustomStringConvertible {
    /// The trace file.
    public var path: String
    /// The line of the failing block (1 for the file as a whole).
    public var line: Int
    /// The message: the error, or the expected/actual diff.
    public var description: String
}

/// Runs etcd-style data-driven trace files (a command, `----`, the expected output) against an environment
/// and compares every block's output with the file; the protocol cores' tests use it to keep readable
/// stories of their behaviour (`Tests/*/Traces/testdata/*.txt`).
///
/// On the first block whose output differs it returns a failure at that block's line, with a line diff of
/// expected (`-`) and actual (`+`) output. With `COHORT_REWRITE_TRACES=1` in the environment it writes the
/// actual outputs into the file instead (read the `git diff` before committing it).
public enum TraceRunner {
    /// The environment variable that turns checking into rewriting.
    public static let rewriteVariable = "COHORT_REWRITE_TRACES"

    /// Runs `testdata/<name>`, next to the test file at `filePath`, in `environment`; nil when every block
    /// printed what the file says (or the file was rewritten).
    public static func run(_ name: String, in environment: some TraceEnvironment, testFile filePath: String) -> TraceFailure? {
        var environment = environment
        let directory = URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("testdata")
        let path = directory.appendingPathComponent(name).path
        let file: TraceFile
        do {
            file = try TraceFile(parsing: String(contentsOfFile: path, encoding: .utf8))
        } catch let error as TraceError {
            return TraceFailure(path: path, line: error.line ?? 1, description: "\(path):\(error.line ?? 1): \(error)")
        } catch {
            return TraceFailure(path: path, line: 1, description: "\(path): cannot read the trace file: \(error)")
        }
        let rewriting = ProcessInfo.processInfo.environment[rewriteVariable] == "1"
        var outputs: [[String]] = []
        for block in file.blocks {
            let actual: [String]
            do {
                actual = try environment.run(block.command)
            } catch {
                return TraceFailure(path: path, line: block.line, description: "\(path):\(block.line): \(error)")
            }
            outputs.append(actual.isEmpty ? ["ok"] : actual)
            if !rewriting, outputs[outputs.count - 1] != block.expected {
                return TraceFailure(path: path, line: block.line, description: mismatch(path, block, actual: outputs[outputs.count - 1]))
            }
        }
        guard rewriting else { return nil }
        do {
            try file.rendered(with: outputs).write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            return TraceFailure(path: path, line: 1, description: "\(path): cannot rewrite: \(error)")
        }
        return nil
    }

    /// The failure message for a block of the file at `path` whose output differs.
    static func mismatch(_ path: String, _ block: TraceBlock, actual: [String]) -> String {
        var message = ["\(path):\(block.line): `\(block.command)` printed something else", "--- expected", "+++ actual"]
        message += LineDiff(expected: block.expected, actual: actual).lines
        message.append("If the new output is right, rerun with \(rewriteVariable)=1 to rewrite the file.")
        return message.joined(separator: "\n")
    }
}

/// A line diff of two short outputs (longest common subsequence): common lines start with two spaces,
/// expected-only lines with `- `, actual-only lines with `+ `.
struct LineDiff: Sendable {
    /// The diff, line by line.
    var lines: [String]

    /// The diff of `expected` and `actual`.
    init(expected: [String], actual: [String]) {
        let rows = expected.count, columns = actual.count
        // common[i][j]: length of the longest common subsequence of expected[i...] and actual[j...].
        var common = Array(repeating: Array(repeating: 0, count: columns + 1), count: rows + 1)
        for i in stride(from: rows - 1, through: 0, by: -1) {
            for j in stride(from: columns - 1, through: 0, by: -1) {
                common[i][j] = expected[i] == actual[j] ? common[i + 1][j + 1] + 1 : max(common[i + 1][j], common[i][j + 1])
            }
        }
        var i = 0, j = 0
        lines = []
        while i < rows || j < columns {
            if i < rows, j < columns, expected[i] == actual[j] {
                lines.append("  " + expected[i])
                i += 1
                j += 1
            } else if i < rows, j == columns || common[i + 1][j] >= common[i][j + 1] {
                lines.append("- " + expected[i])
                i += 1
            } else {
                lines.append("+ " + actual[j])
                j += 1
            }
        }
    }
}
