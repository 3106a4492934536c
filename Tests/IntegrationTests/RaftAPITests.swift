import CohortTestKit
import Foundation
import Testing

/// `/v1/raft`, `/v1/kv`, `cohort raft` and `cohort kv` on a one-node Raft group (`bootstrap_expect: 1`).
@Suite("Raft API and CLI")
struct RaftAPITests {
    func singleNode(_ name: String) async throws -> ClusterNodeUnderTest {
        let node = try ClusterNodeUnderTest(name: name, raft: ["bootstrap_expect: 1"])
        try await node.waitUntilServing()
        try await waitUntil(within: .seconds(30), "\(name) to lead its one-node group") {
            await node.raft()?.state == "leader"
        }
        return node
    }

    @Test("GET /v1/raft reports the guide's fields; /readyz and /livez carry the raft checks; raft_state is 2 on the leader")
    func status() async throws {
        let node = try await singleNode("api1")
        try await withNodes([node]) { _ in
            let reply = try await httpGet(node.base + "/v1/raft")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any])
            for field in ["state", "term", "leader", "commit_index", "applied_index", "role", "voters", "standbys"] {
                #expect(object[field] != nil, "missing \(field)")
            }
            #expect(object["state"] as? String == "leader")
            #expect(object["role"] as? String == "voter")
            #expect(object["voters"] as? [String] == ["api1"])
            // The health checks follow Raft once a second.
            try await waitUntil(within: .seconds(10), "readiness to see the leader") {
                try await httpGet(node.base + "/readyz").body.contains("raft\tok")
            }
            #expect(try await httpGet(node.base + "/livez").body.contains("raft.last_contact\tok"))
            #expect(await node.metric("raft_state") == 2)
            #expect(await node.metric(#"raft_voter_operations_total{op="promote",result="ok"}"#) == 0, "counters exist at zero")
            #expect(await node.metric("raft_voter_churn_burst_total") == 0)
        }
    }

    @Test("PUT, GET, list and DELETE through Raft; conditional writes; bad input answers 400 with the reason")
    func keyValue() async throws {
        let node = try await singleNode("api2")
        try await withNodes([node]) { _ in
            let put = try await node.put("app/color", "blue")
            #expect(put.status == 200)
            let version = try #require((try JSONSerialization.jsonObject(with: Data(put.body.utf8)) as? [String: Any])?["version"] as? Int)
            #expect(await node.value("app/color") == "blue")
            #expect(await node.value("app/color", stale: true) == "blue")

            #expect(try await node.put("app/color", "red", query: "?if_version=\(version + 100)").status == 409)
            #expect(try await node.put("app/color", "red", query: "?if_version=\(version)").status == 200)
            #expect(try await node.put("app/size", "xl", query: "?if_absent=true").status == 200)
            let list = try await httpGet(node.base + "/v1/kv?prefix=app/")
            let keys = (try JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [[String: Any]])?.compactMap { $0["key"] as? String }
            #expect(keys == ["app/color", "app/size"])
            // The group id lives under a reserved key and is never listed.
            let all = try await httpGet(node.base + "/v1/kv")
            #expect(!all.body.contains("_sys"))

            #expect(try await httpRequest("DELETE", node.base + "/v1/kv/app/size").status == 204)
            #expect(try await httpRequest("DELETE", node.base + "/v1/kv/app/size").status == 404)
            #expect(try await httpGet(node.base + "/v1/kv/app/size").status == 404)

            let bad: [(String, String, String?, String)] = [
                ("PUT", "/v1/kv/_sys:raft_group", #"{"value":"x"}"#, "reserved"),
                ("PUT", "/v1/kv/k", #"{"value":"x","value_b64":"eA=="}"#, "exactly one"),
                ("PUT", "/v1/kv/k", #"{"value_b64":"***"}"#, "base64"),
                ("PUT", "/v1/kv/k", "not json", "JSON"),
                ("PUT", "/v1/kv/k?if_version=abc", #"{"value":"x"}"#, "if_version"),
                ("PUT", "/v1/kv/k?timeout=forever", #"{"value":"x"}"#, "timeout"),
                ("GET", "/v1/kv/k?consistency=eventual", nil, "consistency"),
                ("GET", "/v1/kv?limit=0", nil, "limit"),
            ]
            for (method, path, body, reason) in bad {
                let reply = try await httpRequest(method, node.base + path, body: body)
                #expect(reply.status == 400, "\(method) \(path): \(reply.status) \(reply.body)")
                #expect(reply.body.contains(reason), "\(method) \(path): \(reply.body)")
            }
            // The node keeps serving.
            #expect(await node.value("app/color") == "red")
        }
    }

    @Test("cohort members, cohort raft and cohort kv, as text and JSON; unreachable exits 3")
    func cli() async throws {
        let node = try await singleNode("api3")
        try await withNodes([node]) { _ in
            let members = try await DaemonProcess.run("cohort", ["members", "--admin", node.base])
            #expect(members.status == 0, "\(members.output)")
            #expect(members.output.hasPrefix("NAME"))
            #expect(members.output.contains("api3") && members.output.contains("alive"))
            let membersJSON = try await DaemonProcess.run("cohort", ["members", "--json", "--admin", node.base])
            #expect((try JSONSerialization.jsonObject(with: Data(membersJSON.output.utf8)) as? [[String: Any]])?.first?["name"] as? String == "api3")
            let unreachable = try await DaemonProcess.run("cohort", ["members", "--admin", "http://\(uniqueLoopbackAddress()):7960"])
            #expect(unreachable.status == 3)

            let raft = try await DaemonProcess.run("cohort", ["raft", "--admin", node.base])
            #expect(raft.status == 0, "\(raft.output)")
            #expect(raft.output.contains("state:          leader"))
            #expect(raft.output.contains("voters:         api3"))
            let json = try await DaemonProcess.run("cohort", ["raft", "--json", "--admin", node.base])
            #expect((try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])?["leader"] as? String == "api3")

            let put = try await DaemonProcess.run("cohort", ["kv", "put", "--admin", node.base, "greeting", "hello there"])
            #expect(put.status == 0, "\(put.output)")
            #expect(put.output.hasPrefix("version "))
            let get = try await DaemonProcess.run("cohort", ["kv", "get", "--admin", node.base, "greeting"])
            #expect(get.output == "hello there\n")
            let again = try await DaemonProcess.run("cohort", ["kv", "put", "--if-absent", "--admin", node.base, "greeting", "x"])
            #expect(again.status == 1)
            #expect(again.output.hasPrefix("error: CONFLICT: "), "\(again.output)")
            let list = try await DaemonProcess.run("cohort", ["kv", "list", "--admin", node.base])
            #expect(list.output.contains("greeting") && list.output.contains("hello there"))
            #expect(try await DaemonProcess.run("cohort", ["kv", "delete", "--admin", node.base, "greeting"]).status == 0)
            #expect(try await DaemonProcess.run("cohort", ["kv", "get", "--admin", node.base, "greeting"]).status == 1)
        }
    }
}
