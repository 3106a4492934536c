import CohortTestKit
import CohortCore
import Foundation
import Gossip
import Synchronization
import Testing

/// GossipService nodes in one cluster with Go memberlist 0.2.2 peers (`Tools/memberlist-peer`): joins both
/// ways, user messages both ways, metadata updates, leaves and deaths seen both ways; plain, encrypted and
/// uncompressed. Runs only when `MEMBERLIST_PEER_BINARY` names the peer binary
/// (`MEMBERLIST_PEER_BINARY=$(Tools/memberlist-peer/build.sh) swift test --filter ServiceGoInterop`).
@Suite(
    "GossipService with Go memberlist peers", .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["MEMBERLIST_PEER_BINARY"] != nil)
)
struct ServiceGoInteropTests {
    static let key = [UInt8](repeating: 3, count: 32)

    @Test(arguments: ["plain", "key", "nocompress"])
    func swiftAndGoNodesFormOneMembership(_ variant: String) async throws {
        let goFlags = variant == "key" ? ["-key", Data(Self.key).base64EncodedString()] : variant == "nocompress" ? ["-compress=false"] : []
        let configure: (inout GossipServiceSettings) -> Void = { settings in
            if variant == "key" { settings.keyring = [Self.key] }
        }
        let go1 = try GoPeer.start("go1", flags: goFlags)
        defer { go1.kill() }
        try await withCluster { cluster in
            do {
                try await waitFor("go1 to serve HTTP") { await go1.get("/health") != nil }
                let s1 = try await cluster.start("s1", port: 7946, joining: [go1.joinAddress]) { settings in
                    configure(&settings)
                    settings.compression = variant != "nocompress"
                    settings.meta = [0xC7, 1]
                }
                let go2 = try GoPeer.start("go2", flags: goFlags + ["-join", "\(s1.host):7946"])
                defer { go2.kill() }
                let s2 = try await cluster.start("s2", port: 7946, joining: [go2.joinAddress], configure: configure)
                let everyone: Set<String> = ["go1", "go2", "s1", "s2"]
                try await waitFor("the Go peers to see everyone alive") {
                    let (seen1, seen2) = (await go1.alive(), await go2.alive())
                    return seen1 == everyone && seen2 == everyone
                }
                try await cluster.waitForConvergence([s1, s2], alive: everyone)
                #expect(await go1.members()["s1"]?.meta == "c701")

                // Push/pull user state (memberlist's LocalState/MergeRemoteState): Go peers read it and
                // ignore it (they have no delegate state), Swift peers hand it to their delegate.
                let states = Mutex<[String]>([])
                for (name, node) in [("s1", s1), ("s2", s2)] {
                    node.service.setStateDelegate(GossipStateDelegate(
                        localState: { _ in Array("state-\(name)".utf8) },
                        mergeRemoteState: { bytes, _, peer in
                            states.withLock { $0.append("\(name)<-\(String(decoding: bytes, as: UTF8.self))@\(peer?.rawValue ?? "?")") }
                        }
                    ))
                }
                try await waitFor("a Swift node to merge the other's push/pull state") {
                    states.withLock { $0.contains { $0.hasPrefix("s2<-state-s1") || $0.hasPrefix("s1<-state-s2") } }
                }
                // Only Swift peers' states arrive, and a named sender is the right one.
                #expect(states.withLock { $0 }.allSatisfy { $0 == "s2<-state-s1@s1" || $0 == "s1<-state-s2@s2" || $0.hasSuffix("@?") && !$0.contains("go") })
                try await waitFor("the Go peers to still see everyone alive") {
                    let (seen1, seen2) = (await go1.alive(), await go2.alive())
                    return seen1 == everyone && seen2 == everyone
                }

                let heard = Collector(s2.service.userMessages(kind: UInt8(ascii: "h")))
                var lastSent: ContinuousClock.Instant?
                try await waitFor("go2 to hear s1's gossiped user message") {
                    if await go2.messagesHex().contains("0568656c6c6f") { return true }
                    if lastSent.map({ $0.duration(to: .now) > .milliseconds(300) }) ?? true {
                        await s1.service.broadcast(kind: 5, payload: Array("hello".utf8))
                        lastSent = .now
                    }
                    return false
                }
                await go1.post("/broadcast?msg=hi-there")
                try await waitFor("s2 to hear go1's SendReliable") { heard.all.contains { $0.payload == Array("i-there".utf8) } }

                await s1.service.updateMeta([0xC7, 2])
                try await waitFor("go2 to see s1's new metadata") { await go2.members()["s1"]?.meta == "c702" }

                await go2.post("/leave")
                try await waitFor("s1 to see go2 leave") { await s1.view()["go2"] == .left }
                try await s2.stop()
                try await waitFor("go1 to see s2 leave") { await go1.members()["s2"]?.state == "left" }
                await s1.crash()
                try await waitFor("go1 to declare s1 dead") { await go1.members()["s1"]?.state == "dead" }

                let s3 = try await cluster.start("s3", port: 7946, joining: [go1.joinAddress], configure: configure)
                try await waitFor("s3 to see go1") { await s3.view()["go1"] == .alive }
                go1.kill()
                try await waitFor("s3 to declare go1 dead") { await s3.view()["go1"] == .dead }
                #expect(s3.registry.emitToString().split(separator: "\n").filter {
                    $0.hasPrefix("gossip_dropped_total") && !$0.hasSuffix(" 0")
                }.isEmpty)
            } catch {
                go1.printLog()
                throw error
            }
        }
    }
}

/// One `memberlist-peer` process on its own loopback address (port 7946, HTTP on 7999), fast timings.
private struct GoPeer {
    let process: Process
    let host: String
    let log: URL

    var joinAddress: JoinAddress { JoinAddress(host: host, port: 7946) }

    static func start(_ name: String, flags: [String]) throws -> GoPeer {
        let host = uniqueLoopbackAddress()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["MEMBERLIST_PEER_BINARY"] ?? "")
        process.arguments = [
            "-name", name, "-bind", host, "-port", "7946", "-http", "\(host):7999", "-config", "local",
            "-probe-interval", "200ms", "-probe-timeout", "100ms", "-gossip-interval", "50ms", "-suspicion-mult", "4",
            "-leave-propagate-delay", "200ms",
        ] + flags
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("gossip-interop-\(host)-\(name).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return GoPeer(process: process, host: host, log: log)
    }

    func get(_ path: String) async -> Data? { await request("GET", path) }
    @discardableResult
    func post(_ path: String) async -> Data? { await request("POST", path) }

    /// Name → (state, metadata as hex) in the peer's table.
    func members() async -> [String: (state: String, meta: String)] {
        guard let data = await get("/members"), let rows = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [:] }
        var members: [String: (state: String, meta: String)] = [:]
        for row in rows {
            guard let name = row["name"] as? String, let state = row["state"] as? String else { continue }
            members[name] = (state, row["meta_hex"] as? String ?? "")
        }
        return members
    }

    func alive() async -> Set<String> { Set(await members().filter { $0.value.state == "alive" }.keys) }

    func messagesHex() async -> [String] {
        guard let data = await get("/messages"), let rows = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        return rows.compactMap { $0["hex"] as? String }
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: log)
    }

    func printLog() {
        print((try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    /// The body of a 2xx answer to `method path` on the peer's HTTP port; nil for anything else. Through the
    /// test kit's NIO client: a `curl` process per poll blocked one of the pool's two threads while it ran.
    private func request(_ method: String, _ path: String) async -> Data? {
        guard let reply = try? await httpRequest(method, "http://\(host):7999\(path)", timeout: 2),
              (200..<300).contains(reply.status) else { return nil }
        return Data(reply.body.utf8)
    }
}
