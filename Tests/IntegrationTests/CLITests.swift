import CohortTestKit
import Foundation
import Testing

/// `cohort status` against a real daemon.
@Suite struct CLITests {
    @Test func statusPrintsIdentityAndReadinessAsTextAndJSON() async throws {
        let node = try NodeUnderTest(name: "cli-node")
        try await node.waitUntilServing()
        try await waitUntil(within: .seconds(10)) { try await node.get("/readyz").status == 200 }

        let text = try await DaemonProcess.run("cohort", ["status", "--admin", node.base])
        #expect(text.status == 0, "\(text.output)")
        #expect(text.output.contains("node:        cli-node"))
        #expect(text.output.contains("ready:       yes"))
        #expect(text.output.contains("admin.listening"))

        let json = try await DaemonProcess.run("cohort", ["status", "--json"], environment: ["COHORT_ADMIN_URL": node.base])
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        #expect(object?["ready"] as? Bool == true)
        #expect((object?["node"] as? [String: Any])?["name"] as? String == "cli-node")
        await node.stop()
    }

    @Test func statusUsesTheTokenAndExplainsAMissingOne() async throws {
        let node = try NodeUnderTest(extraYAML: "  token: t0ken")
        try await node.waitUntilServing()
        let denied = try await DaemonProcess.run("cohort", ["status", "--admin", node.base])
        #expect(denied.status == 3)
        #expect(denied.output.contains("unauthorized"))
        let allowed = try await DaemonProcess.run("cohort", ["status", "--admin", node.base, "--token", "t0ken"])
        #expect(allowed.output.contains("node:"), "\(allowed.output)")
        await node.stop()
    }

    @Test func statusExitsThreeWhenTheNodeIsUnreachable() async throws {
        let address = uniqueLoopbackAddress()
        let result = try await DaemonProcess.run("cohort", ["status", "--admin", "http://\(address):7960"])
        #expect(result.status == 3)
        #expect(result.output.contains("cannot reach"))
    }
}
