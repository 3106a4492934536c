import Cohort
import CohortConfig
import CohortTestKit
import Foundation
import Logging
import Processes
import ServiceLifecycle
import Testing

/// Two whole nodes in this test process, talking over real gossip and mesh sockets on loopback.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct InProcessMeshTests {
    static func settings(name: String, ip: String, join: String?, data: String) throws -> CohortSettings {
        let yaml = """
            cluster:
              enabled: true
              name: \(name)
              membership:
                bind_addr: \(ip)
                join_addrs: "\(join.map { "\($0):7946" } ?? "")"
                probe_interval: 400ms
                probe_timeout: 200ms
                gossip_interval: 100ms
                suspicion_mult: 3
              internode:
                bind_addr: \(ip)
              raft:
                data_dir: \(data)
            """
        return try ConfigLoader(environment: [:], hostName: "test", homeDirectory: nil) { _ in [] }.load(yaml: yaml)
    }

    /// Runs two nodes (`b` joins `a`) while `body` runs, then shuts both down gracefully.
    static func withTwoNodes(_ body: @Sendable (CohortNode, CohortNode) async throws -> Void) async throws {
        let (ipA, ipB) = (uniqueLoopbackAddress(), uniqueLoopbackAddress())
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-inproc-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let a = try CohortNode.prepare(settings: try settings(name: "a", ip: ipA, join: nil, data: data + "/a"), logger: logger)
        let b = try CohortNode.prepare(settings: try settings(name: "b", ip: ipB, join: ipA, data: data + "/b"), logger: logger)
        let groups = [a, b].map {
            ServiceGroup(configuration: .init(services: $0.services.map { .init(service: $0) }, logger: logger))
        }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for group in groups { tasks.addTask { try await group.run() } }
            do {
                // 60 s: alone this takes about a second, but in the parallel suite the synchronous
                // simulations hold the cooperative threads for seconds at a time (20 s ran out twice).
                // The mesh connects on demand: a dials b once membership has told it where b is.
                try await waitUntil(within: .seconds(60), "both meshes connected") {
                    a.mesh!.connect(to: b.id)
                    return a.mesh!.isConnected(to: b.id) && b.mesh!.isConnected(to: a.id)
                }
                try await body(a, b)
            } catch {
                for group in groups { await group.triggerGracefulShutdown() }
                throw error
            }
            for group in groups { await group.triggerGracefulShutdown() }
            try await tasks.waitForAll()
        }
    }

    @Test func anEchoOnAnotherNodeAnswersInOrderAndItsExitFiresTheMonitor() async throws {
        try await Self.withTwoNodes { a, b in
            let echo = b.processes.spawn(label: "echo") { context in
                for await event in context.mailbox {
                    guard case .message(let message) = event, let from = message.from else { continue }
                    context.send(to: from, topic: "echo", payload: message.payload)
                }
                return nil
            }
            let count = 2000
            let client = a.processes.spawn(label: "client") { context in
                _ = context.monitor(echo)
                for index in 0..<count {
                    context.send(to: echo, topic: "ping", payload: Array(String(index).utf8))
                }
                var replies: [Int] = []
                for await event in context.mailbox {
                    if case .message(let message) = event, let number = Int(String(decoding: message.payload, as: UTF8.self)) {
                        replies.append(number)
                        if replies.count == count { break }
                    }
                }
                return .normal(replies == Array(0..<count) ? [1] : [0])
            }
            #expect(await a.processes.result(of: client) == .normal([1]))

            let (ready, signalReady) = AsyncStream<Void>.makeStream()
            let watcher = a.processes.spawn(label: "watcher") { context in
                _ = context.monitor(echo)
                // The echo's answer travels after the monitor on the same a→b stream: once it is back, the
                // monitor is registered on b.
                context.send(to: echo, topic: "ping", payload: [])
                for await event in context.mailbox {
                    switch event {
                    case .message: signalReady.yield()
                    case .exit(let pid, let outcome) where pid == echo: return .normal(Array(outcome.label.utf8))
                    default: continue
                    }
                }
                return nil
            }
            var iterator = ready.makeAsyncIterator()
            _ = await iterator.next()
            b.processes.terminate(echo, from: nil)
            #expect(await a.processes.result(of: watcher) == .normal(Array("terminated".utf8)))
        }
    }
}
