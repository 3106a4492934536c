import CohortTestKit
import Foundation
import Testing

/// The shipped systemd unit and example configuration.
@Suite struct DeployTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "needs systemd-analyze"))
    func systemdAnalyzeVerifyAcceptsTheUnit() async throws {
        let unit = try String(contentsOf: Self.repository.appendingPathComponent("deploy/systemd/cohortd.service"), encoding: .utf8)
        #expect(unit.contains("Type=notify"))
        #expect(unit.contains("WatchdogSec="))
        #expect(unit.contains("StateDirectory=cohort"))
        // Point ExecStart at the binary this build produced, so verify checks a real executable.
        let binary = DaemonProcess.productsDirectory.appendingPathComponent("cohortd").path
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { removeTemporary(directory.path) }
        let path = directory.appendingPathComponent("cohortd.service").path
        try unit.replacingOccurrences(of: "/usr/local/bin/cohortd", with: binary).write(toFile: path, atomically: false, encoding: .utf8)
        let (status, output) = try await runShell("/usr/bin/systemd-analyze verify \(path)")
        #expect(status == 0, "\(output)")
        #expect(!output.contains("cohortd.service:"), "\(output)")
    }

    @Test func theExampleConfigurationIsValidUnderTheUnitsStateDirectory() async throws {
        let config = Self.repository.appendingPathComponent("deploy/systemd/cohortd.yaml").path
        let (status, output) = try await DaemonProcess.run(
            "cohortd", ["--config", config, "--check"], environment: ["STATE_DIRECTORY": "/var/lib/cohort"]
        )
        #expect(status == 0, "\(output)")
        #expect(output.contains("resolves to /var/lib/cohort"))
    }
}
