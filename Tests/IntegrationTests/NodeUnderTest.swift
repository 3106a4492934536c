import CohortTestKit
import Foundation

/// A real `cohortd` started by a test on its own loopback address and data directory.
final class NodeUnderTest {
    let process: DaemonProcess
    let address: String
    let dataDirectory: String
    let configPath: String

    var base: String { "http://\(address):7960" }

    /// Writes a config file (admin on a fresh loopback address, a fresh data_dir, then `extraYAML`)
    /// and starts `cohortd --config` on it.
    init(extraYAML: String = "", name: String = "test-node", environment: [String: String] = [:]) throws {
        address = uniqueLoopbackAddress()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        dataDirectory = directory.appendingPathComponent("data").path
        configPath = directory.appendingPathComponent("cohortd.yaml").path
        let yaml = """
            cluster:
              name: \(name)
              raft:
                data_dir: \(dataDirectory)
            admin:
              address: \(address):7960
            \(extraYAML)
            """
        try yaml.write(toFile: configPath, atomically: false, encoding: .utf8)
        process = try DaemonProcess(executable: "cohortd", arguments: ["--config", configPath], environment: environment)
    }

    /// GET `path` on the admin endpoint.
    func get(_ path: String, headers: [String: String] = [:]) async throws -> HTTPReply {
        try await httpGet(base + path, headers: headers)
    }

    /// Waits until the admin endpoint answers `/livez` at all.
    func waitUntilServing(within: Duration = .seconds(30)) async throws {
        try await waitUntil(within: within) {
            guard self.process.isRunning else { throw NodeExited(output: self.process.output) }
            return (try? await self.get("/livez")) != nil
        }
    }

    func stop() async {
        await process.stop()
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: configPath).deletingLastPathComponent().path)
    }
}

/// The daemon exited while a test waited for it.
struct NodeExited: Error, CustomStringConvertible {
    var output: String
    var description: String { "cohortd exited early; its output:\n\(output)" }
}
