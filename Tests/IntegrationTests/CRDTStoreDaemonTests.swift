import CohortTestKit
import Foundation
import Testing

/// `kv.crdt` stores on real daemons: the `/v1` routes on one node with the cluster disabled, and a store
/// replicated by gossip across three nodes that all restart at once.
@Suite(.serialized)
struct CRDTStoreDaemonTests {
    static let storeYAML = """
        stores:
          - name: cache
            kind: kv.crdt
        """

    /// The bytes of the store's log on disk (0 when absent).
    static func logSize(_ dataDirectory: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: dataDirectory + "/_sys/crdt/cache/log")[.size] as? Int) ?? 0
    }

    static func metric(_ base: String, _ series: String) async -> Double? {
        guard let reply = try? await httpGet(base + "/metrics") else { return nil }
        for line in reply.body.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test("with the cluster disabled, a kv.crdt store serves kv routes, lists, watches over SSE, answers UNSUPPORTED for CAS and txn, and survives a kill and a restart from its own files")
    func singleNodeRoutesAndDurability() async throws {
        let node = try NodeUnderTest(extraYAML: Self.storeYAML, name: "solo")
        let base = node.base
        var restarted: DaemonProcess?
        do {
            try await node.waitUntilServing()
            let stores = try await node.get("/v1/stores")
            #expect(stores.body.contains(#"{"durable":true,"kind":"kv.crdt","name":"cache"}"#) || stores.body.contains(#""kind":"kv.crdt""#), "\(stores.body)")
            #expect(await Self.metric(base, #"crdt_keys{store="cache"}"#) == 0, "at zero from the start")

            let curl = try DaemonProcess(path: "/usr/bin/curl", arguments: ["-sN", base + "/v1/watch?store=cache&prefix=w/&from=0"])
            defer { curl.signal(SIGKILL) }
            try await waitUntil(within: .seconds(10), "the watch to open") { curl.output.contains(": watching") }

            let put = try await httpRequest("PUT", base + "/v1/kv/w/1?store=cache", body: #"{"value":"one"}"#)
            #expect(put.status == 200, "\(put.body)")
            let version = try #require(try decodeReply([String: UInt64].self, put)["version"])
            let got = try await node.get("/v1/kv/w/1?store=cache&consistency=linearizable")
            #expect(try decodeReply(EntryReply.self, got).value == "one")
            #expect(try decodeReply(EntryReply.self, got).version == version)
            #expect(try await httpRequest("PUT", base + "/v1/kv/w/2?store=cache", body: #"{"value":"two","ttl":"1h"}"#).status == 200)
            #expect(try decodeReply(EntryReply.self, try await node.get("/v1/kv/w/2?store=cache")).expiresAt != nil)
            try await waitUntil(within: .seconds(10), "both changes on the stream") {
                curl.output.contains(#""key":"w/1""#) && curl.output.contains(#""key":"w/2""#)
            }
            #expect(curl.output.contains("event: put"))
            let listed = try await node.get("/v1/kv?store=cache&prefix=w/")
            #expect(listed.status == 200)
            #expect(try decodeReply([EntryReply].self, listed).map(\.key) == ["w/1", "w/2"])

            // What needs one order of all writes is refused, and writes nothing.
            let absent = try await httpRequest("PUT", base + "/v1/kv/w/1?store=cache&if_absent=true", body: #"{"value":"x"}"#)
            #expect(absent.status == 501, "\(absent.body)")
            #expect(try decodeReply(ErrorReply.self, absent).code == "UNSUPPORTED")
            let cas = try await httpRequest("PUT", base + "/v1/kv/w/1?store=cache&if_version=\(version)", body: #"{"value":"x"}"#)
            #expect(cas.status == 501)
            let txn = try await httpRequest("POST", base + "/v1/txn?store=cache", body: #"{"compare":[],"success":[{"op":"put","key":"w/3","value":"3"}]}"#)
            #expect(txn.status == 501, "\(txn.body)")
            #expect(try decodeReply(ErrorReply.self, txn).code == "UNSUPPORTED")
            #expect(try decodeReply(EntryReply.self, try await node.get("/v1/kv/w/1?store=cache")).value == "one")
            #expect(try await node.get("/v1/kv/_reserved?store=cache").status == 400)

            let deleted = try await httpRequest("DELETE", base + "/v1/kv/w/2?store=cache")
            #expect(deleted.status == 204)
            try await waitUntil(within: .seconds(10), "the delete on the stream") { curl.output.contains("event: delete") }
            try await waitUntil(within: .seconds(10), "crdt_keys to count the live key") {
                await Self.metric(base, #"crdt_keys{store="cache"}"#) == 1
            }
            #expect(await Self.metric(base, #"store_writes_total{store="cache",op="put",result="ok"}"#) == 2)
            #expect(await Self.metric(base, #"store_writes_total{store="cache",op="txn",result="error"}"#) == 1)
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") {
                let file = try temporaryFile(try await node.get("/metrics").body, suffix: ".prom")
                defer { removeTemporary(file) }
                let (status, output) = try await runShell("/usr/bin/promtool check metrics < \(file)")
                #expect(status == 0, "promtool: \(output)")
            }

            // A crash once the writes are on disk: the restart reads them back from the log.
            try await waitUntil(within: .seconds(10), "the writes to reach the log") { Self.logSize(node.dataDirectory) > 9 }
            await node.process.stop()
            let second = try DaemonProcess(executable: "cohortd", arguments: ["--config", node.configPath])
            restarted = second
            try await waitUntil(within: .seconds(30), "the restarted node to serve") {
                guard second.isRunning else { throw NodeExited(output: second.output) }
                return (try? await httpGet(base + "/livez")) != nil
            }
            #expect(try decodeReply(EntryReply.self, try await node.get("/v1/kv/w/1?store=cache")).value == "one")
            #expect(try await node.get("/v1/kv/w/2?store=cache").status == 404, "the tombstone came back too")
            // A watch from a number of the previous run is refused, not misread.
            let stale = try await node.get("/v1/watch?store=cache&from=\(UInt64.max / 2)")
            #expect(stale.status == 410, "\(stale.body)")
            #expect(try decodeReply(ErrorReply.self, stale).code == "COMPACTED")

            // A graceful stop compacts into the snapshot; the next start reads it.
            second.signal(SIGTERM)
            _ = try await second.waitForExit(within: .seconds(15))
            #expect(FileManager.default.fileExists(atPath: node.dataDirectory + "/_sys/crdt/cache/snapshot"))
            #expect(Self.logSize(node.dataDirectory) == 9, "the log starts empty after the snapshot")
            let third = try DaemonProcess(executable: "cohortd", arguments: ["--config", node.configPath])
            restarted = third
            try await waitUntil(within: .seconds(30), "the node to serve again") {
                guard third.isRunning else { throw NodeExited(output: third.output) }
                return (try? await httpGet(base + "/livez")) != nil
            }
            #expect(try decodeReply(EntryReply.self, try await node.get("/v1/kv/w/1?store=cache")).value == "one")
        } catch {
            let logs = node.process.output + "\n--- restarted ---\n" + (restarted?.output ?? "")
            await restarted?.stop()
            await node.stop()
            throw ClusterTestFailure(underlying: error, logs: logs)
        }
        await restarted?.stop()
        await node.stop()
    }

    @Test("a node refuses to start over a corrupt kv.crdt store file and names it")
    func corruptFileRefusesTheStart() async throws {
        let node = try NodeUnderTest(extraYAML: Self.storeYAML, name: "corrupt")
        await node.process.stop()
        let directory = node.dataDirectory + "/_sys/crdt/cache"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data("garbage!garbage!".utf8).write(to: URL(fileURLWithPath: directory + "/snapshot"))
        let refused = try DaemonProcess(executable: "cohortd", arguments: ["--config", node.configPath])
        let status = try await refused.waitForExit(within: .seconds(30))
        #expect(status != 0)
        #expect(refused.output.contains(directory + "/snapshot"), "\(refused.output)")
        await node.stop()
    }

    @Test("across three gossiping nodes (one a Raft client) a write on one is read on the others, and a durable store survives a restart of every node")
    func replicatedAndDurableAcrossAFullRestart() async throws {
        let first = try ClusterNodeUnderTest(name: "crdt1", extraYAML: Self.storeYAML)
        let second = try ClusterNodeUnderTest(name: "crdt2", join: [first], extraYAML: Self.storeYAML)
        // A Raft client node holds every kv.crdt store as a server does.
        let third = try ClusterNodeUnderTest(name: "crdt3", join: [first], raft: ["bootstrap_expect: 0", "role: client"], extraYAML: Self.storeYAML)
        let nodes = [first, second, third]
        try await withNodes(nodes) { nodes in
            for node in nodes { try await node.waitUntilServing() }
            let names = Set(nodes.map(\.name))
            for node in nodes {
                try await waitUntil(within: .seconds(30), "\(node.name) to see every member") { await node.aliveMembers() == names }
            }
            #expect(try await httpRequest("PUT", first.base + "/v1/kv/greeting?store=cache", body: #"{"value":"hello"}"#).status == 200)
            #expect(try await httpRequest("PUT", third.base + "/v1/kv/gone?store=cache", body: #"{"value":"soon"}"#).status == 200)
            for node in nodes {
                try await waitUntil(within: .seconds(20), "\(node.name) to read both writes") {
                    let greeting = try? await httpGet(node.base + "/v1/kv/greeting?store=cache")
                    let gone = try? await httpGet(node.base + "/v1/kv/gone?store=cache")
                    return greeting?.body.contains(#""value":"hello""#) == true && gone?.status == 200
                }
            }
            #expect(try await httpRequest("DELETE", second.base + "/v1/kv/gone?store=cache").status == 204)
            for node in nodes {
                try await waitUntil(within: .seconds(20), "\(node.name) to apply the delete") {
                    (try? await httpGet(node.base + "/v1/kv/gone?store=cache"))?.status == 404
                }
                // Every node keeps its own copy: wait until the three records reached its log.
                try await waitUntil(within: .seconds(10), "\(node.name)'s log") { Self.logSize(node.dataDirectory) > 9 + 3 * 30 }
            }
            // Every node killed at once, then restarted: nobody holds the store but the disks.
            for node in nodes { await node.process.stop() }
            for node in nodes { try node.restart() }
            for node in nodes { try await node.waitUntilServing() }
            for node in nodes {
                let greeting = try await httpGet(node.base + "/v1/kv/greeting?store=cache")
                #expect(greeting.body.contains(#""value":"hello""#), "\(node.name): \(greeting.body)")
                #expect(try await httpGet(node.base + "/v1/kv/gone?store=cache").status == 404, "\(node.name)")
            }
            // And the store still replicates after the restart.
            #expect(try await httpRequest("PUT", second.base + "/v1/kv/after?store=cache", body: #"{"value":"again"}"#).status == 200)
            for node in nodes {
                try await waitUntil(within: .seconds(30), "\(node.name) to read the write made after the restart") {
                    (try? await httpGet(node.base + "/v1/kv/after?store=cache"))?.status == 200
                }
            }
        }
    }
}
