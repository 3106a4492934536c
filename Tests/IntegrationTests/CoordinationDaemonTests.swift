import CohortTestKit
import Foundation
import Synchronization
import Testing

/// Locks, names and stores (`/v1`) across real `cohortd` daemons: 3 voters and 2 Raft clients sharing one
/// cluster (``CoordinationCluster``). Tests that kill a node restore it at the start of the next test.
/// The figures measured (lock throughput, release after SIGKILL) are printed as `[coordination] ...`.
@Suite("Coordination across real daemons", .serialized, SharedCoordinationCluster())
struct CoordinationDaemonTests {
    /// One hold of the contended lock, as its holder saw it on the test's one clock.
    struct Hold: Sendable {
        var worker: Int
        var token: UInt64
        /// When the acquire's grant arrived.
        var granted: ContinuousClock.Instant
        /// When the holder sent its release.
        var releasing: ContinuousClock.Instant
    }

    struct MutualExclusionBroken: Error, CustomStringConvertible {
        var description: String
    }

    @Test("four sessions on four nodes (both clients among them) take one lock 500 times: grants never overlap and fencing tokens strictly increase")
    func lockMutualExclusion() async throws {
        let cluster = try await CoordinationCluster.ready()
        try await cluster.withLogs {
            let lock = "it/mutex"
            let guardKey = "it/mutex-guard"
            let contenders = [cluster.voters[0], cluster.voters[1], cluster.clients[0], cluster.clients[1]]
            var sessions: [String] = []
            for node in contenders { sessions.append(try await node.openSession(ttl: "5m")) }
            let perWorker = 125
            let clock = ContinuousClock()
            let start = clock.now
            let deadline = start.advanced(by: .seconds(150))
            let holds = try await withThrowingTaskGroup(of: [Hold].self) { group in
                for (worker, node) in contenders.enumerated() {
                    let pid = sessions[worker]
                    group.addTask {
                        try await Self.contend(
                            worker: worker, node: node, pid: pid, lock: lock, guardKey: guardKey, times: perWorker, deadline: deadline
                        )
                    }
                }
                var all: [Hold] = []
                for try await holds in group { all += holds }
                return all
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            report("lock contention: \(holds.count) acquisitions by 4 sessions on 4 nodes in \(elapsed) (\(String(format: "%.1f", Double(holds.count) / seconds))/s)")

            #expect(holds.count == perWorker * contenders.count)
            let byToken = holds.sorted { $0.token < $1.token }
            for (previous, next) in zip(byToken, byToken.dropFirst()) {
                // Strictly increasing: no token is handed out twice.
                #expect(previous.token < next.token, "token \(next.token) repeated")
                // The next grant (in token order) arrived only after the previous holder began to release:
                // the holds, as the clients saw them, are disjoint and ordered by their tokens.
                #expect(previous.releasing < next.granted, "grant \(next.token) (worker \(next.worker)) overlaps grant \(previous.token) (worker \(previous.worker))")
            }
            // Each worker's own tokens increase too (fair queueing gives every worker its turns).
            for worker in contenders.indices {
                let tokens = holds.filter { $0.worker == worker }.map(\.token)
                #expect(tokens == tokens.sorted() && Set(tokens).count == tokens.count)
            }
            #expect(try await cluster.voters[2].entry(guardKey) == nil, "the last holder left the guard key empty")
            for (node, pid) in zip(contenders, sessions) { _ = try? await node.delete("/v1/sessions/\(pid)") }
        }
    }

    /// Takes `lock` `times` times for `pid` through `node`. Inside each hold the holder creates the guard
    /// key (only if absent) and deletes it (only if it still holds its token), both in transactions: a
    /// second holder inside the same window would find the key taken, or gone.
    static func contend(
        worker: Int, node: ClusterNodeUnderTest, pid: String, lock: String, guardKey: String, times: Int,
        deadline: ContinuousClock.Instant
    ) async throws -> [Hold] {
        let clock = ContinuousClock()
        var holds: [Hold] = []
        for _ in 0..<times {
            guard clock.now < deadline else {
                throw MutualExclusionBroken(description: "worker \(worker) ran out of time after \(holds.count) holds")
            }
            let grant = try await node.acquireGranted(lock, holder: pid, wait: "20s")
            let granted = clock.now
            let enter = try await node.transaction("""
                {"compare":[{"key":"\(guardKey)","absent":true}],
                 "success":[{"op":"put","key":"\(guardKey)","value":"\(grant.token)"}],
                 "failure":[{"op":"get","key":"\(guardKey)"}]}
                """)
            guard enter.succeeded else {
                throw MutualExclusionBroken(description: "holder of token \(grant.token) found the guard held: \(String(describing: enter.results.first?.entry))")
            }
            let exit = try await node.transaction("""
                {"compare":[{"key":"\(guardKey)","value":"\(grant.token)"}],
                 "success":[{"op":"delete","key":"\(guardKey)"}],
                 "failure":[{"op":"get","key":"\(guardKey)"}]}
                """)
            guard exit.succeeded else {
                throw MutualExclusionBroken(description: "holder of token \(grant.token) found the guard changed: \(String(describing: exit.results.first?.entry))")
            }
            let releasing = clock.now
            let release = try await node.release(lock, holder: pid)
            guard release.status == 204 else { throw UnexpectedReply(reply: release) }
            holds.append(Hold(worker: worker, token: grant.token, granted: granted, releasing: releasing))
        }
        return holds
    }

    @Test("SIGKILL of a lock holder's node releases the lock to a waiter on another node, with a higher token, not before the lock delay")
    func holderNodeKilled() async throws {
        let cluster = try await CoordinationCluster.ready()
        try await cluster.withLogs {
            let lock = "it/killed-holder"
            let x = try await cluster.follower()
            let y = cluster.clients[1]
            let observer = try #require(cluster.voters.first { $0 !== x })
            let holder = try await x.openSession(ttl: "5m")
            let waiter = try await y.openSession(ttl: "5m")
            let first = try await x.acquireGranted(lock, holder: holder, lockDelay: "2s")

            let clock = ContinuousClock()
            let waiting = Task { () throws -> (HTTPReply, ContinuousClock.Instant, UInt64) in
                let reply = try await y.acquire(lock, holder: waiter, wait: "30s")
                return (reply, clock.now, UInt64(Date().timeIntervalSince1970 * 1000))
            }
            defer { waiting.cancel() }
            try await waitUntil(within: .seconds(10), "\(waiter) to queue for \(lock)") {
                await observer.lockInfo(lock)?.waiters == [waiter]
            }

            let killedAt = clock.now
            let killedAtWall = UInt64(Date().timeIntervalSince1970 * 1000)
            x.process.signal(SIGKILL)
            _ = try await x.process.waitForExit(within: .seconds(10))
            // The departure's release starts the lock delay: the record shows it, with no holder, until it ends.
            var delayedUntil: UInt64?
            try await waitUntil(within: .seconds(30), "the lock delay to start or the lock to pass on", pollEvery: .milliseconds(50)) {
                guard let info = await observer.lockInfo(lock) else { return false }
                if let until = info.delayedUntil {
                    #expect(info.holder == nil, "nobody holds a lock in its delay")
                    delayedUntil = until
                    return true
                }
                return info.holder == waiter
            }
            let until = try #require(delayedUntil, "the lock record showed its delay after the departure")
            #expect(until >= killedAtWall + 2000, "the delay starts at the departure, after the kill")
            // Nobody holds it while the delay runs (as a voter's replica sees it), up to shortly before its end.
            let remaining = Int64(until) - Int64(Date().timeIntervalSince1970 * 1000) - 150
            if remaining > 0 {
                try await holdsThroughout(.milliseconds(remaining), "\(lock) to stay unheld during its lock delay", pollEvery: .milliseconds(50)) {
                    guard let info = await observer.lockInfo(lock) else { return true }
                    return info.holder == nil
                }
            }
            let (reply, grantedAt, grantedAtWall) = try await waiting.value
            #expect(reply.status == 200, "\(reply.body)")
            let second = try decodeReply(GrantReply.self, reply)
            #expect(second.holder == waiter)
            #expect(second.token > first.token)
            let elapsed = grantedAt - killedAt
            #expect(elapsed >= .seconds(2), "the waiter got the lock \(elapsed) after the kill, inside the 2 s lock delay")
            #expect(grantedAtWall >= until, "granted at \(grantedAtWall) ms, before the delay ended at \(until) ms")
            report("lock released after SIGKILL of its holder's node: the waiter got it \(elapsed) after the kill (departure noticed ~\(Int64(until) - 2000 - Int64(killedAtWall)) ms after the kill, then the 2 s lock delay)")
            #expect(try await y.release(lock, holder: waiter).status == 204)
        }
    }

    @Test("four nodes register one consistent name at once: one wins, the others get ALREADY_EXISTS with the owner; it resolves and routes from a client; it is released when its session ends or its node is killed")
    func consistentNames() async throws {
        let cluster = try await CoordinationCluster.ready()
        try await cluster.withLogs {
            let name = "it/name"
            let contenders = [cluster.voters[0], cluster.voters[1], cluster.clients[0], cluster.clients[1]]
            var sessions: [String] = []
            for node in contenders { sessions.append(try await node.openSession(ttl: "5m")) }
            let replies = try await withThrowingTaskGroup(of: (Int, HTTPReply).self) { group in
                for (index, node) in contenders.enumerated() {
                    let pid = sessions[index]
                    group.addTask { (index, try await node.register(name, pid: pid)) }
                }
                var replies: [Int: HTTPReply] = [:]
                for try await (index, reply) in group { replies[index] = reply }
                return replies
            }
            let winners = replies.filter { $0.value.status == 201 }
            try #require(winners.count == 1, "exactly one registration wins: \(replies.mapValues(\.status))")
            let (winnerIndex, winnerReply) = try #require(winners.first)
            let winner = sessions[winnerIndex], winnerNode = contenders[winnerIndex]
            let registered = try decodeReply(NameReply.self, winnerReply)
            #expect(registered.pid == winner)
            #expect(registered.scope == "consistent")
            #expect(registered.token != nil)
            for (index, reply) in replies where index != winnerIndex {
                #expect(reply.status == 409, "\(reply.body)")
                let error = try decodeReply(ErrorReply.self, reply)
                #expect(error.code == "ALREADY_EXISTS")
                #expect(error.owner == winner)
            }

            // It resolves from a client node (which reads through a member).
            let client = cluster.clients[1]
            let resolved = try await client.lookup(name, consistency: "linearizable")
            #expect(resolved.status == 200, "\(resolved.body)")
            #expect(try decodeReply(NameReply.self, resolved).pid == winner)
            try await waitUntil(within: .seconds(5), "a stale lookup on \(cluster.clients[0].name) to see the name") {
                guard let reply = try? await cluster.clients[0].lookup(name), reply.status == 200 else { return false }
                return (try? decodeReply(NameReply.self, reply))?.pid == winner
            }

            // A message sent to the name from a client node reaches the winner's session.
            let marker = UUID().uuidString
            let sent = try await client.post("/v1/send", #"{"to":"\#(name)","topic":"by-name","payload":"\#(marker)"}"#)
            #expect(sent.status == 202, "\(sent.body)")
            let events = try await winnerNode.collectEvents(winner, within: .seconds(10)) { events in
                events.contains { $0["payload"] as? String == marker }
            }
            #expect(events.contains { $0["topic"] as? String == "by-name" && $0["payload"] as? String == marker })

            // The winner's session ends: the name is released, and another contender can take it.
            #expect(try await winnerNode.delete("/v1/sessions/\(winner)").status == 204)
            try await waitUntil(within: .seconds(15), "\(name) to be released with its session", pollEvery: .milliseconds(100)) {
                (try? await client.lookup(name, consistency: "linearizable"))?.status == 404
            }
            let nextIndex = contenders.indices.first { $0 != winnerIndex }!
            #expect(try await contenders[nextIndex].register(name, pid: sessions[nextIndex]).status == 201)

            // A name owned by a session on a node that is SIGKILLed is released when the node departs.
            let doomed = cluster.clients[0]
            let doomedSession = try await doomed.openSession(ttl: "5m")
            let orphan = "it/orphan-name"
            #expect(try await doomed.register(orphan, pid: doomedSession).status == 201)
            let observer = cluster.voters[2]
            #expect(try await observer.lookup(orphan, consistency: "linearizable").status == 200)
            let clock = ContinuousClock()
            let killedAt = clock.now
            doomed.process.signal(SIGKILL)
            _ = try await doomed.process.waitForExit(within: .seconds(10))
            try await waitUntil(within: .seconds(30), "\(orphan) to be released after \(doomed.name)'s SIGKILL", pollEvery: .milliseconds(100)) {
                (try? await observer.lookup(orphan, consistency: "linearizable"))?.status == 404
            }
            report("a name of a session on a SIGKILLed node was released \(clock.now - killedAt) after the kill")
            for (node, pid) in zip(contenders, sessions) where node !== doomed && pid != winner {
                _ = try? await node.delete("/v1/sessions/\(pid)")
            }
        }
    }
}
