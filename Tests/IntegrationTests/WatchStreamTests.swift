import CohortTestKit
import Foundation
import Testing

/// `/v1/watch` as a client sees it on the wire: Server-Sent Events with keep-alive comments.
@Suite(.serialized)
struct WatchStreamTests {
    @Test("a quiet watch sends a keep-alive comment every 5 s, between its changes, and a client that goes away is noticed at the next one")
    func aQuietWatchKeepsItsStreamAlive() async throws {
        let node = try ClusterNodeUnderTest(name: "watch", raft: ["bootstrap_expect: 1"])
        try await node.waitUntilServing()
        try await node.putEventually("warm", "up")
        let curl = try DaemonProcess(path: "/usr/bin/curl", arguments: ["-sN", node.base + "/v1/watch?prefix=w/&from=0"])
        defer { curl.signal(SIGKILL) }
        try await waitUntil(within: .seconds(10), "the stream to open") { curl.output.contains(": watching") }
        #expect(await node.metric("watch_streams") == 1)
        #expect(try await node.put("w/1", "one").status == 200)
        try await waitUntil(within: .seconds(10), "the change on the stream") { curl.output.contains("event: put") }
        // One may have come before the change too (a put slower than 5 s on a loaded machine): wait for one after it.
        try await waitUntil(within: .seconds(15), "a keep-alive comment after the change") {
            let output = curl.output
            guard let change = output.range(of: "event: put") else { return false }
            return output[change.upperBound...].contains(": keepalive")
        }
        // Gone: the next keep-alive's write fails and the watch ends.
        curl.signal(SIGKILL)
        try await waitUntil(within: .seconds(15), "the watch to end with its client") { await node.metric("watch_streams") == 0 }
        await node.stop()
    }
}
