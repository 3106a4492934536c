import CohortTestKit
import Foundation
import Testing

/// The Kubernetes manifests, alert rules and Grafana dashboard in deploy/, validated offline by
/// scripts/check-deploy.sh (docs/deploy.md) with the cohortd of this build. Without promtool or
/// kubernetes-validate the script fails, saying how to install them, and so does this test.
@Suite struct DeployArtifactsTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func checkDeployAcceptsTheShippedManifestsRulesAndDashboard() async throws {
        let script = Self.repository.appendingPathComponent("scripts/check-deploy.sh").path
        let cohortd = DaemonProcess.productsDirectory.appendingPathComponent("cohortd").path
        let (status, output) = try await DaemonProcess.run(
            path: "/bin/bash", [script], environment: ["COHORTD": cohortd], within: .seconds(300)
        )
        #expect(status == 0, "scripts/check-deploy.sh failed:\n\(output)")
        // Each stage ran, not only the ones whose tools happened to be there.
        for stage in ["promtool test rules", "kubernetes-validate --strict", "all exported by cohortd", "cohortd --check accepts"] {
            #expect(output.contains(stage), "no \"\(stage)\" in:\n\(output)")
        }
    }
}
