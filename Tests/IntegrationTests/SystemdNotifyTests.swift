import CohortTestKit
import Foundation
import Testing

/// The sd_notify protocol spoken by the real `cohortd` to a real `NOTIFY_SOCKET` datagram listener,
/// as systemd would see it: `READY=1` only once ready, `WATCHDOG=1` only while live, `STOPPING=1` on SIGTERM.
@Suite struct SystemdNotifyTests {
    private func listener() throws -> NotifyListener {
        try NotifyListener(address: .abstract("cohort-it-\(UUID().uuidString)"))
    }

    @Test func readyArrivesOnlyAfterTheReadinessChecksPass() async throws {
        let notify = try listener()
        defer { notify.close() }
        let gate = try temporaryFile("held", suffix: ".readyz")
        defer { removeTemporary(gate) }
        let node = try NodeUnderTest(environment: [
            "NOTIFY_SOCKET": notify.notifySocket, "COHORT_FAILPOINT_READYZ_FILE": gate,
        ])
        try await node.waitUntilServing()

        // Serving, but not ready: /readyz says why, and no READY=1 has been sent.
        let readyz = try await node.get("/readyz")
        #expect(readyz.status == 503)
        #expect(readyz.body.contains("failpoint\tfail: failpoint file \(gate) exists"))
        _ = try await notify.next(matching: { $0.hasPrefix("STATUS=starting") }, within: .seconds(10))
        #expect(notify.count { $0 == "READY=1" } == 0)

        try FileManager.default.removeItem(atPath: gate)
        let ready = try await notify.next("READY=1", within: .seconds(10))
        #expect(try await node.get("/readyz").status == 200)
        #expect(notify.count { $0 == "READY=1" } == 1)
        // A STATUS line saying the node is ready follows (or accompanies) READY=1.
        let status = try await notify.nextMessage(matching: { $0.hasPrefix("STATUS=ready") }, within: .seconds(5))
        #expect(status.receivedAt >= ready.receivedAt)
        await node.stop()
    }

    @Test func watchdogPingsOnlyWhileEveryLivenessCheckPasses() async throws {
        let notify = try listener()
        defer { notify.close() }
        let failpoint = FileManager.default.temporaryDirectory.appendingPathComponent("livez-\(UUID().uuidString)").path
        let node = try NodeUnderTest(environment: [
            "NOTIFY_SOCKET": notify.notifySocket, "WATCHDOG_USEC": "200000", "COHORT_FAILPOINT_LIVEZ_FILE": failpoint,
        ])
        try await notify.next("READY=1", within: .seconds(30))

        // Pinging at WATCHDOG_USEC / 2 = 100 ms: five pings arrive well within a generous deadline.
        for _ in 0..<5 { try await notify.next("WATCHDOG=1", within: .seconds(5)) }
        let pings = notify.arrivals { $0 == "WATCHDOG=1" }
        let spacing = (pings.last! - pings.first!) / (pings.count - 1)
        #expect(spacing > .milliseconds(50) && spacing < .milliseconds(400), "mean spacing \(spacing)")

        // A failing liveness check stops the pings (systemd would now restart the node) ...
        _ = FileManager.default.createFile(atPath: failpoint, contents: nil)
        try await waitUntil(within: .seconds(10), "/livez to fail") { try await node.get("/livez").status == 503 }
        #expect(try await node.get("/livez").body.contains("failpoint\tfail:"))
        // Let any ping already under way land, then watch several intervals pass without one.
        let quietFrom = ContinuousClock.now + .milliseconds(250)
        try await waitUntil(within: .seconds(2)) { ContinuousClock.now >= quietFrom + .milliseconds(600) }
        #expect(notify.arrivals { $0 == "WATCHDOG=1" }.filter { $0 >= quietFrom }.isEmpty)

        // ... and they resume once it passes again.
        try FileManager.default.removeItem(atPath: failpoint)
        try await waitUntil(within: .seconds(5), "pings to resume") {
            notify.arrivals { $0 == "WATCHDOG=1" }.contains { $0 > quietFrom + .milliseconds(600) }
        }
        #expect(try await node.get("/livez").status == 200)
        await node.stop()
    }

    @Test func sigtermSendsStoppingAndExitsCleanlyWithinTenSeconds() async throws {
        let notify = try listener()
        defer { notify.close() }
        let node = try NodeUnderTest(environment: ["NOTIFY_SOCKET": notify.notifySocket])
        try await notify.next("READY=1", within: .seconds(30))
        #expect(notify.count { $0 == "STOPPING=1" } == 0)

        node.process.signal(SIGTERM)
        try await notify.next("STOPPING=1", within: .seconds(10))
        let status = try await node.process.waitForExit(within: .seconds(10))
        #expect(status == 0, "\(node.process.output)")
        await node.stop()
    }
}
