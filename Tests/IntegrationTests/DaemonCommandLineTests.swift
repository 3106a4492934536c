import CohortCore
import CohortTestKit
import Foundation
import Testing

/// `cohortd --version`, `--check` and configuration errors, against the real binary.
@Suite struct DaemonCommandLineTests {
    @Test func versionPrintsTheBuildVersion() async throws {
        let (status, output) = try await DaemonProcess.run("cohortd", ["--version"])
        #expect(status == 0)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == CohortVersion.current)
    }

    @Test func checkPrintsTheEffectiveConfigurationAndExitsZero() async throws {
        let file = try temporaryFile("""
            cluster:
              enabled: true
              name: node-1
              raft:
                bootstrap_expect: 3
            """)
        defer { removeTemporary(file) }
        let (status, output) = try await DaemonProcess.run("cohortd", ["--config", file, "--check"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("name: node-1"))
        #expect(output.contains("bootstrap_expect: 3"))
        #expect(output.contains("max_voters: 5"))  // defaults are shown too
    }

    @Test func aMisspeltKeyExitsTwoWithOneLineNamingTheKeyAndTheFix() async throws {
        let file = try temporaryFile("""
            cluster:
              raft:
                max_votrs: 5
            """)
        defer { removeTemporary(file) }
        let (status, output) = try await DaemonProcess.run("cohortd", ["--config", file, "--check"])
        #expect(status == 2)
        let lines = output.split(separator: "\n")
        #expect(lines.count == 1, "\(output)")
        #expect(output.contains("cluster.raft.max_votrs: unknown key; did you mean max_voters?"))
    }

    @Test func anEvenMaxVotersIsRejectedAtStartupNotOnlyByCheck() async throws {
        let file = try temporaryFile("cluster:\n  raft:\n    max_voters: 4\n")
        defer { removeTemporary(file) }
        let (status, output) = try await DaemonProcess.run("cohortd", ["--config", file])
        #expect(status == 2)
        #expect(output.contains("cluster.raft.max_voters: 4"))
    }

    @Test func aMissingConfigFileExitsTwoAndNamesTheFile() async throws {
        let (status, output) = try await DaemonProcess.run("cohortd", ["--config", "/nonexistent/cohortd.yaml", "--check"])
        #expect(status == 2)
        #expect(output.contains("/nonexistent/cohortd.yaml"))
    }

    @Test func aBadEnvironmentOverrideExitsTwoAndNamesTheVariable() async throws {
        let (status, output) = try await DaemonProcess.run(
            "cohortd", ["--check"], environment: ["COHORT_CLUSTER_MEMBERSHIP_PROBE_INTERVAL": "fast"]
        )
        #expect(status == 2)
        #expect(output.contains("COHORT_CLUSTER_MEMBERSHIP_PROBE_INTERVAL"))
        #expect(output.contains("fast"))
    }
}

/// Writes `contents` to a fresh file in the temporary directory (not atomically: Foundation's atomic write
/// leaves a `TemporaryDirectory.*` behind in /tmp). Pair it with ``removeTemporary(_:)``.
func temporaryFile(_ contents: String, suffix: String = ".yaml") throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-\(UUID().uuidString)\(suffix)").path
    try contents.write(toFile: path, atomically: false, encoding: .utf8)
    return path
}

/// Removes a test's temporary file or directory (what it left behind is not the test's result).
func removeTemporary(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}
