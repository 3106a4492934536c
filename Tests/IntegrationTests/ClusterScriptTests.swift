import CohortTestKit
import Foundation
import Testing

/// `scripts/cluster.sh`, the README's way to try a cluster on one machine: up, status, down, and up again
/// over the same data.
@Suite("scripts/cluster.sh")
struct ClusterScriptTests {
    static var script: String {
        // Tests/IntegrationTests/ClusterScriptTests.swift → the package root.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/cluster.sh").path
    }

    func run(_ arguments: [String], directory: String) async throws -> (status: Int32, output: String) {
        let cohortd = DaemonProcess.productsDirectory.appendingPathComponent("cohortd").path
        let result = try await DaemonProcess.run(
            path: "/bin/bash", [Self.script] + arguments,
            environment: [
                // Not 127.0.1.x, where a developer's own `cluster.sh up` runs.
                "CLUSTER_DIR": directory, "CLUSTER_COHORTD": cohortd, "CLUSTER_READY_TIMEOUT": "90", "CLUSTER_NET": "127.0.2",
            ]
        )
        return (result.status, result.output)
    }

    func pids(_ directory: String) throws -> [Int32] {
        try FileManager.default.contentsOfDirectory(atPath: directory).compactMap { node in
            (try? String(contentsOfFile: "\(directory)/\(node)/pid", encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }

    @Test("up 3 forms one Raft group on 127.0.2.1–3; down stops every node; up again restarts the same group")
    func upStatusDown() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-sh-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let up = try await run(["up", "3"], directory: directory)
        let started = try pids(directory)
        do {
            #expect(up.status == 0, "\(up.output)")
            #expect(started.count == 3)
            var leaders: Set<String> = []
            try await waitUntil(within: .seconds(60), "the three nodes to agree on a leader") {
                let status = try await run(["status"], directory: directory)
                let lines = status.output.split(separator: "\n").filter { $0.hasPrefix("n") }
                leaders = Set(lines.compactMap { line in
                    guard let json = line.firstIndex(of: "{"),
                          let object = try? JSONSerialization.jsonObject(with: Data(line[json...].utf8)) as? [String: Any],
                          (object["voters"] as? [String])?.count == 3
                    else { return nil }
                    return object["leader"] as? String
                })
                return lines.count == 3 && leaders.count == 1
            }
            let down = try await run(["down"], directory: directory)
            #expect(down.status == 0)
            #expect(down.output.contains("stopped 3 nodes"))
            for pid in started { #expect(kill(pid, 0) != 0, "node \(pid) still running after down") }

            // Same data directory: the same group comes back, without a second bootstrap.
            let again = try await run(["up", "3"], directory: directory)
            #expect(again.status == 0, "\(again.output)")
            let log = try String(contentsOfFile: "\(directory)/n1/log", encoding: .utf8)
            #expect(log.contains("raft state present"))
        } catch {
            _ = try? await run(["down"], directory: directory)
            throw error
        }
        _ = try await run(["down"], directory: directory)
        for pid in try pids(directory) { #expect(kill(pid, 0) != 0) }
    }
}
