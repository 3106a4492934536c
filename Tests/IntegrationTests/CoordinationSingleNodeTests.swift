import CohortTestKit
import Foundation
import Testing

/// The `/v1` coordination routes on one `cohortd` with the cluster disabled: the stores are `kv.local`
/// (in memory), commands apply at once, and the same routes answer as on a cluster.
@Suite("Coordination on a single node with the cluster disabled")
struct CoordinationSingleNodeTests {
    @Test("with the cluster disabled, kv put/get (and TTLs), lock acquire/release by a session and name register/lookup work in memory")
    func singleNode() async throws {
        let node = try NodeUnderTest(extraYAML: """
            stores:
              - name: config
                kind: kv.local
            """, name: "solo")
        let base = node.base
        do {
            try await node.waitUntilServing()
            // Stores: the default one and the declared one.
            let stores = try await node.get("/v1/stores")
            #expect(stores.status == 200)
            #expect(stores.body.contains(#""name":"config""#), "\(stores.body)")
            let put = try await httpRequest("PUT", base + "/v1/kv/greeting?store=config", body: #"{"value":"hello"}"#)
            #expect(put.status == 200, "\(put.body)")
            let version = try #require(try decodeReply([String: UInt64].self, put)["version"])
            let got = try await node.get("/v1/kv/greeting?store=config")
            #expect(got.status == 200)
            #expect(try decodeReply(EntryReply.self, got).value == "hello")
            #expect(try decodeReply(EntryReply.self, got).version == version)
            #expect(try await node.get("/v1/kv/greeting").status == 404, "the default store is another store")
            let conflict = try await httpRequest("PUT", base + "/v1/kv/greeting?store=config&if_version=\(version + 100)", body: #"{"value":"x"}"#)
            #expect(conflict.status == 409)
            #expect(try decodeReply(ErrorReply.self, conflict).code == "CONFLICT")

            // A TTL expires on its own, with nothing else written meanwhile.
            let clock = ContinuousClock()
            let ttlAt = clock.now
            // 3 s, so that a loaded machine still reads the key before it expires (with 1 s it did not once).
            #expect(try await httpRequest("PUT", base + "/v1/kv/short", body: #"{"value":"v","ttl":"3s"}"#).status == 200)
            let read = try await node.get("/v1/kv/short").status
            #expect(read == 200 || clock.now - ttlAt > .seconds(3), "read \(clock.now - ttlAt) after the put")
            try await waitUntil(within: .seconds(10), "a 3 s TTL key to expire on a single node", pollEvery: .milliseconds(50)) {
                try await node.get("/v1/kv/short").status == 404
            }
            report("single node: a 3 s TTL key was gone \(clock.now - ttlAt) after its put")

            // Locks, held by a session of this node.
            let sessionReply = try await httpRequest("POST", base + "/v1/sessions", body: #"{"ttl":"60s"}"#)
            #expect(sessionReply.status == 201)
            let pid = try decodeReply(SessionReply.self, sessionReply).pid
            let other = try decodeReply(SessionReply.self, try await httpRequest("POST", base + "/v1/sessions", body: #"{"ttl":"60s"}"#)).pid
            let acquired = try await httpRequest("POST", base + "/v1/locks/solo-lock", body: jsonBody(["holder": pid]))
            #expect(acquired.status == 200, "\(acquired.body)")
            let grant = try decodeReply(GrantReply.self, acquired)
            #expect(grant.holder == pid)
            let busy = try await httpRequest("POST", base + "/v1/locks/solo-lock", body: jsonBody(["holder": other]))
            #expect(busy.status == 409)
            #expect(try decodeReply(ErrorReply.self, busy).code == "ALREADY_EXISTS")
            #expect(try decodeReply(ErrorReply.self, busy).holder == pid)
            let info = try await node.get("/v1/locks/solo-lock")
            #expect(try decodeReply(LockInfoReply.self, info).holder == pid)
            #expect(try await httpRequest("DELETE", base + "/v1/locks/solo-lock?holder=\(queryValue(pid))").status == 204)
            let next = try await httpRequest("POST", base + "/v1/locks/solo-lock", body: jsonBody(["holder": other, "wait": "2s"]))
            #expect(next.status == 200, "\(next.body)")
            #expect(try decodeReply(GrantReply.self, next).token > grant.token)

            // Names.
            let registered = try await httpRequest("POST", base + "/v1/names", body: jsonBody(["name": "solo-name", "pid": pid]))
            #expect(registered.status == 201, "\(registered.body)")
            let taken = try await httpRequest("POST", base + "/v1/names", body: jsonBody(["name": "solo-name", "pid": other]))
            #expect(taken.status == 409)
            #expect(try decodeReply(ErrorReply.self, taken).owner == pid)
            let lookup = try await node.get("/v1/names/solo-name")
            #expect(lookup.status == 200)
            #expect(try decodeReply(NameReply.self, lookup).pid == pid)
            // The session ends: its name is released.
            #expect(try await httpRequest("DELETE", base + "/v1/sessions/\(pid)").status == 204)
            try await waitUntil(within: .seconds(5), "the name of an ended session to be released") {
                try await node.get("/v1/names/solo-name").status == 404
            }
        } catch {
            let logs = node.process.output
            await node.stop()
            throw ClusterTestFailure(underlying: error, logs: logs)
        }
        await node.stop()
    }
}
