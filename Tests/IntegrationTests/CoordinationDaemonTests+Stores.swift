import CohortTestKit
import Foundation
import Testing

/// Stores across real daemons: TTLs, transactions, a watch across a leader failover, a full restart.
extension CoordinationDaemonTests {
    @Test("a key written with a 2 s TTL is there right after the put and gone within 5 s; a transaction applies its success branch atomically when its compare holds and only its failure branch when not")
    func ttlAndTransactions() async throws {
        let cluster = try await CoordinationCluster.ready()
        try await cluster.withLogs {
            let writer = cluster.clients[0], reader = try await cluster.follower()
            let clock = ContinuousClock()
            let putAt = clock.now
            let put = try await writer.write("it/ttl", "v", store: "config", ttl: "2s")
            #expect(put.status == 200, "\(put.body)")
            let entry = try #require(try await reader.entry("it/ttl", store: "config"), "present right after the put")
            #expect(entry.value == "v")
            #expect(entry.expiresAt != nil)
            // Not early: still there a second after the put (well inside its 2 s)... A read that only answers
            // 2 s after the put (a loaded machine) may rightly find it gone, and proves nothing either way.
            try await holdsThroughout(.milliseconds(900), "it/ttl to stay for the first second") {
                let present = (try await reader.entry("it/ttl", store: "config")) != nil
                return present || clock.now - putAt >= .seconds(2)
            }
            // ...and gone within TTL + 1 s (+ slack for this machine).
            try await waitUntil(within: .seconds(5) - (clock.now - putAt), "it/ttl to expire", pollEvery: .milliseconds(50)) {
                (try await reader.entry("it/ttl", store: "config")) == nil
            }
            report("a 2 s TTL key was gone \(clock.now - putAt) after its put")
            #expect(try await writer.entry("it/ttl", store: "config") == nil, "gone on the client's view too")

            // compare version → success: both keys at once, at the transaction's version.
            let base = try #require(try decodeReply([String: UInt64].self, try await writer.write("it/txn/base", "1"))["version"])
            let success = try await writer.transaction("""
                {"compare":[{"key":"it/txn/base","version":\(base)}],
                 "success":[{"op":"put","key":"it/txn/a","value":"A"},{"op":"put","key":"it/txn/b","value":"B"}],
                 "failure":[{"op":"put","key":"it/txn/failed","value":"F"}]}
                """)
            #expect(success.succeeded)
            #expect(success.results.map(\.op) == ["put", "put"])
            #expect(success.results.allSatisfy { $0.version == success.version })
            let a = try #require(try await reader.entry("it/txn/a")), b = try #require(try await reader.entry("it/txn/b"))
            #expect(a.value == "A" && b.value == "B")
            #expect(a.version == success.version && b.version == success.version, "both keys written by one entry")
            #expect(try await reader.entry("it/txn/failed") == nil)

            // The same compare again no longer holds (base is unchanged, but compare a stale version of a).
            let failure = try await writer.transaction("""
                {"compare":[{"key":"it/txn/base","version":\(base)},{"key":"it/txn/a","version":\(success.version - 1)}],
                 "success":[{"op":"put","key":"it/txn/a","value":"A2"},{"op":"put","key":"it/txn/b","value":"B2"}],
                 "failure":[{"op":"put","key":"it/txn/failed","value":"F"},{"op":"get","key":"it/txn/a"}]}
                """)
            #expect(!failure.succeeded)
            #expect(failure.results.map(\.op) == ["put", "get"])
            #expect(failure.results.last?.entry == a, "the failure branch's get reads the unchanged key")
            #expect(try await reader.entry("it/txn/a") == a, "the success branch did not apply")
            #expect(try await reader.entry("it/txn/b") == b)
            #expect(try await reader.entry("it/txn/failed")?.value == "F")
        }
    }

    @Test("across the leader's SIGKILL, a watch on a follower sees every write exactly once, in version order; a watch on the leader, cut by the kill and resumed on another voter from the last version it saw, misses and repeats none")
    func watchAcrossFailover() async throws {
        let cluster = try await CoordinationCluster.ready()
        try await cluster.withLogs {
            let leader = try await cluster.leader()
            let watched = try await cluster.follower()
            let other = try #require(cluster.voters.first { $0 !== leader && $0 !== watched })
            let writer = cluster.clients[0]
            let run = UUID().uuidString.prefix(8)
            let prefix = "it/watch/\(run)/"
            let from = try await writer.putOnce("it/watch-start/\(run)", "start")
            let stream = try EventStream(watched.base + "/v1/watch?from=\(from)&prefix=\(prefix)")
            defer { stream.curl.signal(SIGKILL) }
            try await stream.waitUntilOpen()
            let cut = try EventStream(leader.base + "/v1/watch?from=\(from)&prefix=\(prefix)")
            defer { cut.curl.signal(SIGKILL) }
            try await cut.waitUntilOpen()

            var written: [String: UInt64] = [:]
            for index in 0..<20 {
                let key = prefix + String(format: "%02d", index)
                written[key] = try await writer.putOnce(key, "v\(index)")
            }
            leader.process.signal(SIGKILL)
            _ = try await leader.process.waitForExit(within: .seconds(10))
            // The leader's stream ends with its process; the watcher resumes after the last version it saw.
            try await waitUntil(within: .seconds(10), "the watch on the killed leader to end") { !cut.curl.isRunning }
            let beforeCut = try cut.events.map(Self.change)
            let lastSeen = beforeCut.last?.version ?? from
            let resumed = try EventStream(other.base + "/v1/watch?from=\(lastSeen)&prefix=\(prefix)")
            defer { resumed.curl.signal(SIGKILL) }
            try await resumed.waitUntilOpen()

            let clock = ContinuousClock()
            let killedAt = clock.now
            for index in 20..<40 {
                let key = prefix + String(format: "%02d", index)
                written[key] = try await writer.putOnce(key, "v\(index)")
                if index == 20 { report("first write after the leader's SIGKILL committed \(clock.now - killedAt) after the kill") }
            }

            try await waitUntil(within: .seconds(20), "both watches to deliver all 40 writes") {
                for open in [stream, resumed] where !open.curl.isRunning { throw UnexpectedStreamEnd(output: open.curl.output) }
                return stream.events.count >= 40 && beforeCut.count + resumed.events.count >= 40
            }
            report("the watch cut by the leader's SIGKILL had seen \(beforeCut.count) of 20 writes; resumed on \(other.name) from version \(lastSeen)")
            for (what, events) in [("the follower's watch", stream.events), ("the resumed watch", resumed.events)] {
                #expect(events.allSatisfy { $0.kind == "put" }, "\(what): \(events.filter { $0.kind != "put" })")
            }
            let follower = try stream.events.map(Self.change)
            let resumedChanges = beforeCut + (try resumed.events.map(Self.change))
            for (what, changes) in [("the follower's watch", follower), ("the leader's watch, resumed", resumedChanges)] {
                #expect(changes.count == 40, "\(what): every write exactly once: \(changes.map(\.key))")
                #expect(Set(changes.map(\.key)) == Set(written.keys), "\(what)")
                for (previous, next) in zip(changes, changes.dropFirst()) {
                    #expect(previous.version < next.version, "\(what): \(next.key) (\(next.version)) after \(previous.key) (\(previous.version))")
                }
                for change in changes {
                    #expect(change.version == written[change.key], "\(what): \(change.key) watched at \(change.version), written at \(String(describing: written[change.key]))")
                    #expect(change.value == "v\(Int(change.key.suffix(2))!)")
                }
            }
            #expect(watched.process.isRunning)
        }
    }

    @Test("a watch on a client node (no replica) sees every write exactly once, in version order, and goes on across the leader's SIGKILL")
    func watchOnAClientNode() async throws {
        let cluster = try await CoordinationCluster.ready()
        try await cluster.withLogs {
            let leader = try await cluster.leader()
            let client = cluster.clients[0]
            let writer = cluster.clients[1]
            let run = UUID().uuidString.prefix(8)
            let prefix = "it/client-watch/\(run)/"
            let from = try await writer.putOnce("it/client-watch-start/\(run)", "start")
            let stream = try EventStream(client.base + "/v1/watch?from=\(from)&prefix=\(prefix)")
            defer { stream.curl.signal(SIGKILL) }
            try await stream.waitUntilOpen()
            var written: [String: UInt64] = [:]
            for index in 0..<40 {
                if index == 20 {
                    leader.process.signal(SIGKILL)
                    _ = try await leader.process.waitForExit(within: .seconds(10))
                }
                let key = prefix + String(format: "%02d", index)
                written[key] = try await writer.putOnce(key, "v\(index)")
            }
            try await waitUntil(within: .seconds(30), "the client's watch to deliver all 40 writes") {
                if !stream.curl.isRunning { throw UnexpectedStreamEnd(output: stream.curl.output) }
                return stream.events.count >= 40
            }
            let changes = try stream.events.map(Self.change)
            #expect(changes.count == 40, "every write exactly once: \(changes.map(\.key))")
            #expect(Set(changes.map(\.key)) == Set(written.keys))
            for (previous, next) in zip(changes, changes.dropFirst()) {
                #expect(previous.version < next.version, "\(next.key) (\(next.version)) after \(previous.key) (\(previous.version))")
            }
            for change in changes { #expect(change.version == written[change.key], "\(change.key)") }
        }
    }

    static func change(_ event: EventStream.Event) throws -> WatchedChange {
        try JSONDecoder().decode(WatchedChange.self, from: Data(event.data.utf8))
    }

    struct WatchedChange: Decodable {
        var key: String
        var value: String?
        var version: UInt64
    }

    @Test("a full restart of every node keeps a declared store's key and the locks' fencing counters, releases the names of the sessions it ended, accepts new registrations, and refuses a watch from before the restored snapshot with 410 COMPACTED")
    func fullRestart() async throws {
        let cluster = try await CoordinationCluster.ready()
        try await cluster.withLogs {
            let (voter, client) = (cluster.voters[0], cluster.clients[1])
            #expect(try await client.write("it/durable", "kept", store: "config").status == 200)
            let session = try await client.openSession(ttl: "5m")
            let lock = "it/restart-lock"
            let before = try await client.acquireGranted(lock, holder: session)
            #expect(try await client.release(lock, holder: session).status == 204)
            let name = "it/restart-name"
            #expect(try await client.register(name, pid: session).status == 201)
            // Enough entries that every voter restarts from a snapshot (taken every 50 applied entries).
            var filler = 0
            try await waitUntil(within: .seconds(60), "every voter to take a snapshot") {
                for _ in 0..<10 {
                    _ = try await voter.write("it/filler/\(filler % 20)", "\(filler)")
                    filler += 1
                }
                return cluster.voters.allSatisfy { $0.process.output.contains("raft snapshot taken") }
            }

            let clock = ContinuousClock()
            let stoppedAt = clock.now
            for node in cluster.nodes {
                node.process.signal(SIGTERM)
                _ = try await node.process.waitForExit(within: .seconds(15))
            }
            try await cluster.heal()
            report("full restart of 5 nodes: whole again \(clock.now - stoppedAt) after the first SIGTERM")
            for node in cluster.voters {
                #expect(node.process.output.contains("raft group founded") == false, "\(node.name) must not bootstrap again")
            }

            for node in cluster.nodes {
                #expect(try await node.entry("it/durable", store: "config")?.value == "kept", "\(node.name)")
            }
            // The session that registered the name ended with its node's old boot: the name is released.
            try await waitUntil(within: .seconds(15), "\(name) of a session of the old boot to be released") {
                (try? await voter.lookup(name, consistency: "linearizable"))?.status == 404
            }
            let fresh = try await client.openSession(ttl: "5m")
            #expect(fresh != session)
            let registered = try await client.register(name, pid: fresh)
            #expect(registered.status == 201, "\(registered.body)")
            let after = try await client.acquireGranted(lock, holder: fresh)
            #expect(after.token > before.token, "fencing tokens keep increasing across the restart")
            #expect(try await client.release(lock, holder: fresh).status == 204)

            // Each voter restored a snapshot: its watch history starts there, and older versions are refused.
            let compacted = try await httpGet(voter.base + "/v1/watch?from=1")
            #expect(compacted.status == 410, "\(compacted.body)")
            let error = try decodeReply(ErrorReply.self, compacted)
            #expect(error.code == "COMPACTED")
            let oldest = try #require(error.oldest)
            #expect(oldest > 1)
            let stream = try EventStream(voter.base + "/v1/watch?from=\(oldest)&prefix=it/after-restart")
            defer { stream.curl.signal(SIGKILL) }
            try await stream.waitUntilOpen()
            #expect(try await voter.write("it/after-restart", "yes").status == 200)
            try await waitUntil(within: .seconds(10), "the watch from the oldest kept version to see a new write") {
                stream.events.contains { $0.data.contains(#""key":"it/after-restart""#) }
            }
            _ = try? await client.delete("/v1/sessions/\(fresh)")
        }
    }
}
