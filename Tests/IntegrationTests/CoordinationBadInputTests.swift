import CohortTestKit
import Foundation
import Testing

/// Malformed, oversized and hostile requests to every coordination route: each gets its status, its
/// machine-readable `code` and a message naming what is wrong, and nothing stored is lost or changed.
@Suite(.serialized)
struct CoordinationBadInputTests {
    @Test("every coordination route refuses bad input with its status, code and reason, and loses nothing")
    func badInputIsRefusedWithACodeAndLosesNothing() async throws {
        let node = try ClusterNodeUnderTest(name: "hostile", raft: ["bootstrap_expect: 1"])
        try await node.waitUntilServing()
        try await node.putEventually("keep", "safe")
        let pid = try await node.openSession()
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let txn200 = "{\"compare\":[],\"success\":[" + (0..<200).map { "{\"op\":\"put\",\"key\":\"k\($0)\",\"value\":\"v\"}" }.joined(separator: ",") + "]}"
        let cases: [(method: String, path: String, body: String?, status: Int, code: String, fragment: String)] = [
            ("PUT", "/v1/kv/keep", "{", 400, "BAD_REQUEST", "not valid JSON"),
            ("PUT", "/v1/kv/keep", deep, 400, "BAD_REQUEST", "not valid JSON"),
            ("PUT", "/v1/kv/keep", #"{"value":"\ud800"}"#, 400, "BAD_REQUEST", "not valid JSON"),
            ("PUT", "/v1/kv/keep", "{}", 400, "BAD_REQUEST", "value"),
            ("PUT", "/v1/kv/keep", #"{"value":"a","value_b64":"YQ=="}"#, 400, "BAD_REQUEST", "exactly one"),
            ("PUT", "/v1/kv/keep", #"{"value_b64":"%%%"}"#, 400, "BAD_REQUEST", "base64"),
            ("PUT", "/v1/kv/keep", #"{"value":"x","ttl":"soon"}"#, 400, "BAD_REQUEST", "ttl"),
            ("PUT", "/v1/kv/keep?if_version=abc", #"{"value":"x"}"#, 400, "BAD_REQUEST", "if_version"),
            ("PUT", "/v1/kv/keep?store=nope", #"{"value":"x"}"#, 404, "NOT_FOUND", "nope"),
            ("PUT", "/v1/kv/_sys", #"{"value":"x"}"#, 400, "BAD_REQUEST", "reserved"),
            ("PUT", "/v1/kv/keep", "{\"value\":\"" + String(repeating: "x", count: 600_000) + "\"}", 413, "TOO_LARGE", "value"),
            ("PUT", "/v1/kv/" + String(repeating: "k", count: 2000), #"{"value":"x"}"#, 413, "TOO_LARGE", "key"),
            ("PUT", "/v1/kv/keep", String(repeating: "x", count: 9 << 20), 413, "TOO_LARGE", "body"),
            ("PUT", "/v1/kv/keep?if_version=1", #"{"value":"x"}"#, 409, "CONFLICT", "keep"),
            ("DELETE", "/v1/kv/keep?if_version=1", nil, 409, "CONFLICT", "keep"),
            ("GET", "/v1/kv?limit=0", nil, 400, "BAD_REQUEST", "limit"),
            ("GET", "/v1/kv/keep?consistency=maybe", nil, 400, "BAD_REQUEST", "consistency"),
            ("GET", "/v1/kv/nothing-here", nil, 404, "NOT_FOUND", "nothing-here"),
            ("POST", "/v1/txn", #"{"compare":"nope"}"#, 400, "BAD_REQUEST", "compare: wrong type"),
            ("POST", "/v1/txn", #"{"compare":[],"success":[{"op":"explode","key":"keep"}]}"#, 400, "BAD_REQUEST", "explode"),
            ("POST", "/v1/txn", txn200, 413, "TOO_LARGE", "success"),
            ("GET", "/v1/watch?prefix=k", nil, 400, "BAD_REQUEST", "from"),
            ("POST", "/v1/locks/l", #"{"holder":"nonsense"}"#, 400, "BAD_REQUEST", "holder"),
            ("POST", "/v1/locks/l", #"{"holder":"\#(pid)","wait":"forever"}"#, 400, "BAD_REQUEST", "wait"),
            ("POST", "/v1/locks/l", #"{"holder":"\#(pid)","lock_delay":"2h"}"#, 413, "TOO_LARGE", "lock_delay"),
            ("DELETE", "/v1/locks/l?holder=\(pid)", nil, 404, "NOT_FOUND", "not held"),
            ("POST", "/v1/names", #"{"name":"","pid":"\#(pid)"}"#, 400, "BAD_REQUEST", "name"),
            ("POST", "/v1/names", #"{"name":"x","pid":"\#(pid)","scope":"galactic"}"#, 400, "BAD_REQUEST", "galactic"),
            ("POST", "/v1/names", #"{"name":"x","pid":"elsewhere@1.1","scope":"eventual"}"#, 400, "BAD_REQUEST", "its process's own node"),
            ("POST", "/v1/names", #"{"name":"a\u0000b","pid":"\#(pid)","scope":"eventual"}"#, 400, "BAD_REQUEST", "NUL"),
            ("POST", "/v1/names", #"{"name":"\#(String(repeating: "n", count: 800))","pid":"\#(pid)","scope":"eventual"}"#, 413, "TOO_LARGE", "eventual name"),
            ("DELETE", "/v1/names/ghost?pid=\(pid)&scope=eventual", nil, 404, "NOT_FOUND", "ghost"),
            ("POST", "/v1/names", #"{"name":"x","pid":"\#(pid)","timeout":"3s"}"#, 400, "BAD_REQUEST", "timeout: only the strong scope"),
            ("POST", "/v1/names", #"{"name":"x","pid":"\#(pid)","scope":"strong","timeout":"forever"}"#, 400, "BAD_REQUEST", "timeout"),
            ("POST", "/v1/names", #"{"name":"x","pid":"\#(pid)","scope":"strong","timeout":"2m"}"#, 400, "BAD_REQUEST", "timeout"),
            ("GET", "/v1/names?scope=nowhere", nil, 400, "BAD_REQUEST", "nowhere"),
            ("DELETE", "/v1/names/ghost?pid=\(pid)", nil, 404, "NOT_FOUND", "ghost"),
        ]
        for (method, path, body, status, code, fragment) in cases {
            let reply = try await httpRequest(method, node.base + path, body: body, timeout: 30)
            let shown = "\(method) \(path.prefix(60)) → \(reply.status) \(reply.body.prefix(200))"
            #expect(reply.status == status, "\(shown)")
            let object = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
            #expect(object?["code"] as? String == code, "\(shown)")
            #expect((object?["error"] as? String)?.contains(fragment) == true, "\(shown)")
        }
        // Nothing was lost or changed, and the node still serves writes.
        #expect(await node.value("keep") == "safe")
        #expect(try await node.put("after", "ok").status == 200)
        #expect(await node.value("after") == "ok")
        await node.stop()
    }
}
