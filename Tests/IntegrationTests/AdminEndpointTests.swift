import CohortCore
import CohortTestKit
import Foundation
import Testing

/// `/livez`, `/readyz`, `/metrics` and `/v1/node` served by the real `cohortd` binary.
@Suite struct AdminEndpointTests {
    @Test func healthEndpointsAnswerWithOneLinePerCheck() async throws {
        let node = try NodeUnderTest()
        try await node.waitUntilServing()
        try await waitUntil(within: .seconds(10)) { try await node.get("/readyz").status == 200 }

        let livez = try await node.get("/livez")
        #expect(livez.status == 200)
        #expect(livez.body.contains("runtime.heartbeat\tok\n"))
        let readyz = try await node.get("/readyz")
        #expect(readyz.body.contains("admin.listening\tok\n"))
        #expect(readyz.body.contains("runtime.heartbeat\tok\n"))
        #expect(readyz.contentType?.hasPrefix("text/plain") == true)
        await node.stop()
    }

    @Test func metricsServeProcessFiguresAndCountersFromZero() async throws {
        let node = try NodeUnderTest()
        try await node.waitUntilServing()
        let metrics = try await node.get("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.contentType?.hasPrefix("text/plain; version=0.0.4") == true)
        for name in ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"] {
            #expect(metrics.body.contains("# HELP \(name) "), "no \(name)")
        }
        #expect(metrics.body.contains(#"cohort_build_info{version="\#(CohortVersion.current)"} 1"#))
        #expect(metrics.body.contains(#"cohort_admin_requests_total{endpoint="v1"} 0"#))
        // The resident memory of a real daemon is a plausible figure, not a placeholder.
        let rss = metrics.body.split(separator: "\n").first { $0.hasPrefix("process_resident_memory_bytes ") }
        let bytes = Double(rss?.split(separator: " ").last ?? "") ?? 0
        #expect(bytes > 1_000_000 && bytes < 1_000_000_000)
        await node.stop()
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool"), "needs promtool (apt prometheus)"))
    func metricsPassPromtoolLint() async throws {
        let node = try NodeUnderTest()
        try await node.waitUntilServing()
        _ = try await node.get("/livez")
        let metrics = try await node.get("/metrics")
        let file = try temporaryFile(metrics.body, suffix: ".prom")
        defer { removeTemporary(file) }
        let (status, output) = try await runShell("/usr/bin/promtool check metrics < \(file)")
        #expect(status == 0, "promtool: \(output)")
        await node.stop()
    }

    @Test func nodeInfoDescribesTheNodeAsJSON() async throws {
        let node = try NodeUnderTest(name: "alpha")
        try await node.waitUntilServing()
        let reply = try await node.get("/v1/node")
        #expect(reply.status == 200)
        #expect(reply.contentType == "application/json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any])
        #expect(object["name"] as? String == "alpha")
        #expect(object["cluster_enabled"] as? Bool == false)
        #expect(object["role"] as? String == "standalone")
        #expect(object["version"] as? String == CohortVersion.current)
        #expect((object["incarnation"] as? NSNumber)?.uint64Value ?? 0 > 0)
        // A cluster API on a single node answers with a clear error, not a crash or a hang.
        let members = try await node.get("/v1/members")
        #expect(members.status == 409)
        #expect(members.body.contains("cluster disabled"))
        await node.stop()
    }

    @Test func theAdminTokenGuardsV1ButNotHealthOrMetrics() async throws {
        let node = try NodeUnderTest(extraYAML: "  token: s3cret-token")
        try await node.waitUntilServing()
        #expect(try await node.get("/v1/node").status == 401)
        #expect(try await node.get("/v1/node", headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try await node.get("/v1/node", headers: ["Authorization": "Bearer s3cret-token"]).status == 200)
        #expect(try await node.get("/livez").status == 200)
        let metrics = try await node.get("/metrics")
        #expect(metrics.body.contains("cohort_admin_unauthorized_total 2"))
        await node.stop()
    }

    @Test func theIncarnationGrowsAcrossRestartsOnTheSameDataDirectory() async throws {
        let first = try NodeUnderTest()
        try await first.waitUntilServing()
        let before = try incarnation(try await first.get("/v1/node").body)
        first.process.signal(SIGTERM)
        #expect(try await first.process.waitForExit(within: .seconds(10)) == 0)

        let again = try DaemonProcess(executable: "cohortd", arguments: ["--config", first.configPath])
        try await waitUntil(within: .seconds(30)) { (try? await first.get("/v1/node")) != nil }
        let after = try incarnation(try await first.get("/v1/node").body)
        #expect(after > before)
        await again.stop()
        await first.stop()
    }

    @Test func withNoConfigFileTheNodeRunsOnDefaultsAndEnvironmentOverrides() async throws {
        let address = uniqueLoopbackAddress()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-env-\(UUID().uuidString)").path
        let process = try DaemonProcess(
            executable: "cohortd", arguments: [],
            environment: ["COHORT_ADMIN_ADDRESS": "\(address):7960", "COHORT_DATA_DIR": data, "COHORT_CLUSTER_NAME": "from-env"]
        )
        defer { removeTemporary(data) }
        try await waitUntil(within: .seconds(30)) { (try? await httpGet("http://\(address):7960/livez")) != nil }
        let body = try await httpGet("http://\(address):7960/v1/node").body
        #expect(body.contains(#""name":"from-env""#))
        #expect(FileManager.default.fileExists(atPath: data + "/_sys/incarnation"))
        await process.stop()
    }
}

private func incarnation(_ json: String) throws -> UInt64 {
    let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    return (object?["incarnation"] as? NSNumber)?.uint64Value ?? 0
}

/// Runs `command` under /bin/sh and returns its status and combined output.
func runShell(_ command: String) async throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command + " 2>&1"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
