import CohortTestKit
import Foundation

/// A real one-node Raft group (`bootstrap_expect: 1`) declaring the store `config`, once it leads.
func startSingleNodeGroup(_ name: String) async throws -> ClusterNodeUnderTest {
    let node = try ClusterNodeUnderTest(
        name: name, raft: ["bootstrap_expect: 1"], extraYAML: "stores: [{name: config, kind: kv.raft}]"
    )
    do {
        try await node.waitUntilServing()
        try await waitUntil(within: .seconds(30), "\(name) to lead its one-node group") {
            guard node.process.isRunning else { throw NodeExited(output: node.process.output) }
            return await node.raft()?.state == "leader"
        }
    } catch {
        await node.stop()
        throw error
    }
    return node
}

/// Runs `cohort` with `arguments` against `node`; its exit status and output (standard output and error).
func cohort(_ node: ClusterNodeUnderTest, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await DaemonProcess.run("cohort", arguments + ["--admin", node.base])
}

/// The version `cohort kv put` printed (`version N`).
func printedVersion(_ output: String) throws -> UInt64 {
    let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
    guard text.hasPrefix("version "), let version = UInt64(text.dropFirst("version ".count)) else {
        throw UnexpectedOutput(output: output)
    }
    return version
}

/// `cohort` printed something a test did not expect.
struct UnexpectedOutput: Error, CustomStringConvertible {
    var output: String
    var description: String { "unexpected output: \(output)" }
}

/// The non-empty lines of `text`.
func lines(_ text: String) -> [String] {
    text.split(separator: "\n").map(String.init)
}

/// `text` parsed as JSON.
func json(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8))
}

/// The value after `label` in a `label  value` listing (`cohort lock info`), nil when no line has it.
func field(_ label: String, in output: String) -> String? {
    lines(output).first { $0.hasPrefix(label + " ") }.map { $0.dropFirst(label.count).trimmingCharacters(in: .whitespaces) }
}
