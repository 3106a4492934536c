@testable import Cohort
import CohortCore
@testable import CohortHTTP
import CohortTestKit
import Foundation
import Logging
import Testing

/// `GET /v1/pg/{scope}/{group}/events` served in process, so the test can see the scope's monitors: each
/// stream holds one, and gives it back when its client goes away.
@Suite("pg event streams and their monitors")
struct GroupEventStreamTests {
    @Test("a client that goes away from a group's event stream cancels its monitor, noticed at the next keep-alive")
    func aClientThatGoesAwayCancelsItsMonitor() async throws {
        let settings = try ConfigLoader(environment: [:], hostName: "solo", homeDirectory: nil) { _ in [] }
            .load(yaml: "cluster:\n  enabled: false\n")
        let logger = Logger(label: "test")
        let node = CohortNode(settings: settings, logger: logger, boot: NodeBoot(incarnation: Incarnation(7)))
        let host = uniqueLoopbackAddress()
        let server = RunningServices([AdminServer.make(node: node, host: host, port: 7960, logger: logger)], logger: logger)
        let scope = try node.groups()
        let worker = node.processes.spawn { context in
            for await _ in context.mailbox {}
            return nil
        }
        do {
            // A full parallel run keeps both cooperative threads busy for its first 40 s or so (CPU-bound
            // suites), and this server runs on them: the wait is generous, not a measure.
            try await waitUntil(within: .seconds(90), "the admin server to listen") {
                (try? await httpGet("http://\(host):7960/livez")) != nil
            }
            let curl = try DaemonProcess(path: "/usr/bin/curl", arguments: ["-sN", "http://\(host):7960/v1/pg/default/room/events"])
            defer { curl.signal(SIGKILL) }
            try await waitUntil(within: .seconds(30), "the stream's snapshot") { curl.output.contains("event: snapshot") }
            #expect(scope.monitorCount == 1)
            try scope.join("room", worker)
            try await waitUntil(within: .seconds(30), "the join on the stream") { curl.output.contains("event: join") }
            curl.signal(SIGKILL)
            try await waitUntil(within: GroupRoutes.keepAlive * 4, "the monitor to be cancelled") { scope.monitorCount == 0 }
        } catch {
            await server.crash()
            throw error
        }
        try await server.stop()
    }
}

