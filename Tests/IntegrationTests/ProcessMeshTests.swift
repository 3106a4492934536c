import CohortTestKit
import Foundation
import Testing

/// Processes across real `cohortd` daemons: sessions on different nodes talk over the internode mesh.
@Suite(.serialized)
struct ProcessMeshTests {
    /// Waits until every node has a mesh connection to every other.
    /// Waits until every node sees every other alive in gossip (so it knows each one's current boot) and
    /// its mesh knows every other (connections are made when a message needs one).
    static func waitForMesh(_ nodes: [ClusterNodeUnderTest]) async throws {
        for node in nodes {
            try await waitUntil(within: .seconds(20), "\(node.name)'s gossip view and mesh peers") {
                let alive = await node.metric(#"gossip_members{state="alive"}"#)
                let peers = await node.metric("internode_peers")
                return alive == Double(nodes.count) && peers == Double(nodes.count - 1)
            }
        }
    }

    /// Sends a marker message from `sender` (on `via`) to `target` (on `node`) and waits until it arrived:
    /// every signal `via` sent to `node` before it has then been processed there.
    static func mark(_ target: String, on node: ClusterNodeUnderTest, via: ClusterNodeUnderTest, from sender: String) async throws {
        let marker = UUID().uuidString
        let reply = try await via.post("/v1/send", #"{"to":"\#(target)","from":"\#(sender)","topic":"marker","payload":"\#(marker)"}"#)
        #expect(reply.status == 202, "\(reply.body)")
        _ = try await node.collectEvents(target) { $0.contains { $0["payload"] as? String == marker } }
    }

    static func payloads(_ events: [[String: Any]], from sender: String) -> [Int] {
        events.filter { $0["type"] as? String == "message" && $0["from"] as? String == sender }
            .compactMap { ($0["payload"] as? String).flatMap(Int.init) }
    }

    @Test func messagesByPIDCrossNodesInPerSenderOrderUnderLoad() async throws {
        try await withCluster(2, prefix: "order") { nodes in
            let (a, b) = (nodes[0], nodes[1])
            try await Self.waitForMesh(nodes)

            let receiver = try await b.openSession()
            let senders = [try await a.openSession(), try await a.openSession()]
            let perSender = 3000
            // Interleave the two senders' batches; each batch keeps its sender's order.
            for start in stride(from: 0, to: perSender, by: 250) {
                for sender in senders {
                    let batch = (start..<start + 250).map { #"{"to":"\#(receiver)","from":"\#(sender)","topic":"seq","payload":"\#($0)"}"# }
                    let reply = try await a.post("/v1/send", "[" + batch.joined(separator: ",") + "]")
                    #expect(reply.status == 202, "\(reply.body)")
                }
            }
            let events = try await b.collectEvents(receiver, within: .seconds(30)) { events in
                senders.allSatisfy { Self.payloads(events, from: $0).count >= perSender }
            }
            for sender in senders {
                #expect(Self.payloads(events, from: sender) == Array(0..<perSender), "sender \(sender)")
            }
        }
    }

    @Test func aRemoteMonitorFiresOnExitAndOnTheNodesSIGKILL() async throws {
        try await withCluster(3, prefix: "mon") { nodes in
            let (a, b) = (nodes[0], nodes[1])
            try await Self.waitForMesh(nodes)

            let watcher = try await a.openSession()
            let exiting = try await b.openSession()
            #expect(try await a.post("/v1/sessions/\(watcher)/monitor", #"{"target":"\#(exiting)"}"#).status == 204)
            // A message sent after the monitor travels the same a→b stream, so once it has arrived the
            // monitor is registered on b, and the exit is a real exit, not a "no such process".
            try await Self.mark(exiting, on: b, via: a, from: watcher)
            #expect(try await b.delete("/v1/sessions/\(exiting)").status == 204)
            var events = try await a.collectEvents(watcher) { $0.contains { $0["type"] as? String == "exit" } }
            let exit = try #require(events.first { $0["type"] as? String == "exit" })
            #expect(exit["pid"] as? String == exiting)
            #expect((exit["outcome"] as? [String: Any])?["kind"] as? String == "normal")

            let victim = try await b.openSession()
            #expect(try await a.post("/v1/sessions/\(watcher)/monitor", #"{"target":"\#(victim)"}"#).status == 204)
            // Whether or not the monitor reached b, a fires it when b leaves membership.
            b.process.signal(SIGKILL)
            events = try await a.collectEvents(watcher, within: .seconds(30)) { events in
                events.contains { $0["type"] as? String == "exit" && $0["pid"] as? String == victim }
            }
            let down = try #require(events.first { $0["pid"] as? String == victim })
            #expect((down["outcome"] as? [String: Any])?["kind"] as? String == "node_down")
        }
    }

    @Test func linkedSessionsSeeLinkDownWithTheOutcomeOfEachExit() async throws {
        try await withCluster(2, prefix: "link") { nodes in
            let (a, b) = (nodes[0], nodes[1])
            try await Self.waitForMesh(nodes)

            let local = try await a.openSession()
            let calm = try await b.openSession()
            let failing = try await b.openSession()
            #expect(try await a.post("/v1/sessions/\(local)/link", #"{"target":"\#(calm)"}"#).status == 204)
            #expect(try await a.post("/v1/sessions/\(local)/link", #"{"target":"\#(failing)"}"#).status == 204)
            // Markers sent after the links, on the same a→b stream: once they arrived, both links exist on b.
            try await Self.mark(calm, on: b, via: a, from: local)
            try await Self.mark(failing, on: b, via: a, from: local)

            #expect(try await b.delete("/v1/sessions/\(calm)").status == 204)
            #expect(try await b.delete("/v1/sessions/\(failing)?reason=boom").status == 204)
            let events = try await a.collectEvents(local) { $0.filter { $0["type"] as? String == "link_down" }.count >= 2 }
            // Sessions trap links, so both exits arrive as LINK_DOWN (as with Erlang's trap_exit), each with its outcome.
            let outcomes = Dictionary(uniqueKeysWithValues: events.filter { $0["type"] as? String == "link_down" }.map {
                ($0["pid"] as? String ?? "", $0["outcome"] as? [String: Any] ?? [:])
            })
            #expect(outcomes.count == 2)
            #expect(outcomes[calm]?["kind"] as? String == "normal")
            #expect(outcomes[failing]?["kind"] as? String == "failed")
            #expect(outcomes[failing]?["reason"] as? String == "boom")
            // The local session is still alive: it trapped both.
            #expect(try await a.post("/v1/send", #"{"to":"\#(local)","payload":"still here"}"#).status == 202)
        }
    }

    @Test func pidsOfAnEarlierIncarnationAreDead() async throws {
        try await withCluster(2, prefix: "inc") { nodes in
            let (a, b) = (nodes[0], nodes[1])
            try await Self.waitForMesh(nodes)

            let watcher = try await a.openSession()
            let old = try await b.openSession()
            b.process.signal(SIGTERM)
            _ = try await b.process.waitForExit(within: .seconds(15))
            try b.restart()
            try await b.waitUntilServing()
            try await Self.waitForMesh(nodes)
            // The restarted node has a new incarnation; the old PID must not resolve to any process.
            let fresh = try await b.openSession()
            #expect(fresh != old)
            #expect(PIDText(fresh).incarnation > PIDText(old).incarnation)
            #expect(try await a.post("/v1/sessions/\(watcher)/monitor", #"{"target":"\#(old)"}"#).status == 204)
            let events = try await a.collectEvents(watcher) { $0.contains { $0["type"] as? String == "exit" } }
            let exit = try #require(events.first { $0["type"] as? String == "exit" })
            #expect(exit["pid"] as? String == old)
            #expect((exit["outcome"] as? [String: Any])?["kind"] as? String == "no_process")
        }
    }

    @Test func aSessionMonitorsAProcessByItsName() async throws {
        let node = try ClusterNodeUnderTest(name: "byname")
        try await node.waitUntilServing()
        let watcher = try await node.openSession(), named = try await node.openSession()
        #expect(try await node.post("/v1/sessions/\(named)/register", #"{"name":"svc"}"#).status == 204)
        #expect(try await node.post("/v1/sessions/\(watcher)/monitor", #"{"target":"svc"}"#).status == 204)
        #expect(try await httpRequest("DELETE", node.base + "/v1/sessions/\(named)").status == 204)
        let events = try await node.collectEvents(watcher) { $0.contains { $0["type"] as? String == "exit" } }
        let exit = try #require(events.first { $0["type"] as? String == "exit" })
        #expect(exit["pid"] as? String == named, "the monitor watched the process the name stood for")
        await node.stop()
    }

    @Test func aSessionsEventStreamIsServerSentEvents() async throws {
        let node = try ClusterNodeUnderTest(name: "sse")
        try await node.waitUntilServing()
        let pid = try await node.openSession()
        let curl = try DaemonProcess(path: "/usr/bin/curl", arguments: ["-sN", node.base + "/v1/sessions/\(pid)/events"])
        defer { curl.signal(SIGKILL) }
        try await waitUntil(within: .seconds(10), "the stream to open") { curl.output.contains(": session") }
        #expect(try await node.post("/v1/send", #"{"to":"\#(pid)","topic":"hello","payload":"world"}"#).status == 202)
        try await waitUntil(within: .seconds(10), "the event on the stream") { curl.output.contains("event: message") }
        #expect(curl.output.contains(#""topic":"hello""#))
        #expect(curl.output.contains(#""payload":"world""#))
        // The stream closing ends the session (noticed at the next keepalive, within 5 s).
        curl.signal(SIGKILL)
        try await waitUntil(within: .seconds(20), "the session to end with its stream") {
            (try? await httpGet(node.base + "/v1/sessions/\(pid)/events?wait=0s"))?.status == 404
        }
        await node.stop()
    }

    @Test func aSessionNobodyReadsEndsAfterItsTimeToLive() async throws {
        let node = try ClusterNodeUnderTest(name: "ttl")
        try await node.waitUntilServing()
        let watcher = try await node.openSession(ttl: "60s")
        let idle = try await node.openSession(ttl: "1s")
        #expect(try await node.post("/v1/sessions/\(watcher)/monitor", #"{"target":"\#(idle)"}"#).status == 204)
        // Nobody reads `idle`: it ends after its TTL, normally, and its monitor says so.
        let events = try await node.collectEvents(watcher, within: .seconds(20)) { $0.contains { $0["type"] as? String == "exit" } }
        let exit = try #require(events.first { $0["type"] as? String == "exit" })
        #expect(exit["pid"] as? String == idle)
        #expect((exit["outcome"] as? [String: Any])?["kind"] as? String == "normal")
        #expect(try await httpGet(node.base + "/v1/sessions/\(idle)/events?wait=0s").status == 404)
        await node.stop()
    }

    @Test func badRequestsAreRefusedWithAReason() async throws {
        let node = try ClusterNodeUnderTest(name: "bad")
        try await node.waitUntilServing()
        let pid = try await node.openSession()
        let cases: [(String, String?, Int, String)] = [
            ("/v1/send", "{", 400, "not valid JSON"),
            ("/v1/send", #"{"topic":"x"}"#, 400, "to: required"),
            ("/v1/send", #"{"to":"nobody"}"#, 404, "nobody"),
            ("/v1/send", #"{"to":"\#(pid)","payload":"a","payload_b64":"YQ=="}"#, 400, "not both"),
            ("/v1/send", #"{"to":"\#(pid)","payload_b64":"%%%"}"#, 400, "base64"),
            ("/v1/sessions", #"{"ttl":"soon"}"#, 400, "ttl"),
            ("/v1/sessions/\(pid)/monitor", #"{"target":"nonsense"}"#, 404, "nonsense"),
            ("/v1/sessions/\(pid)/monitor", #"{"target":""}"#, 400, "target: required"),
            ("/v1/sessions/x@1.2/monitor", #"{"target":"\#(pid)"}"#, 404, "no open session"),
        ]
        for (path, body, status, fragment) in cases {
            let reply = try await node.post(path, body)
            #expect(reply.status == status, "\(path) \(body ?? "")")
            #expect(reply.body.contains(fragment), "\(path): \(reply.body)")
        }
        // The node still serves.
        #expect(try await node.post("/v1/send", #"{"to":"\#(pid)","payload":"ok"}"#).status == 202)
        await node.stop()
    }
}

/// The parts of a PID's text form `node@incarnation.serial`.
struct PIDText {
    var node: Substring
    var incarnation: UInt64
    var serial: UInt64

    init(_ text: String) {
        let at = text.lastIndex(of: "@")!
        let dot = text.lastIndex(of: ".")!
        node = text[..<at]
        incarnation = UInt64(text[text.index(after: at)..<dot])!
        serial = UInt64(text[text.index(after: dot)...])!
    }
}
