@testable import Cohort
import CohortCore
import Logging
import Testing

/// The Swift API of stores, locks and names as the README shows it, on one node with the cluster disabled
/// (the same calls go through Raft on a clustered node; `IntegrationTests` run them across daemons).
@Suite("Coordination API, cluster disabled")
struct CoordinationAPITests {
    static func node() throws -> CohortNode {
        let yaml = """
            cluster:
              enabled: false
            stores:
              - name: config
                kind: kv.raft
              - name: scratch
                kind: kv.local
            """
        let settings = try ConfigLoader(environment: [:], hostName: "solo", homeDirectory: nil) { _ in [] }.load(yaml: yaml)
        return CohortNode(settings: settings, logger: Logger(label: "test"), boot: NodeBoot(incarnation: Incarnation(7)))
    }

    @Test("the README's example: a versioned set, a compare-and-set, a watch, a lock with a fencing token, a unique name")
    func readmeExample() async throws {
        let node = try Self.node()
        let config = try node.store("config")
        let version = try await config.set("feature/x", Array("on".utf8), ttl: .seconds(30))
        let next = try await config.put("feature/x", Array("off".utf8), condition: .ifVersion(version))
        #expect(next > version)
        await #expect(throws: CoordinationError.self) {
            try await config.put("feature/x", Array("stale".utf8), condition: .ifVersion(version))
        }
        var changes = try await config.watch(prefix: "feature/", after: version).makeAsyncIterator()
        let change = try await changes.next()
        #expect(change?.key == "feature/x" && change?.version == next)

        let worker = node.processes.spawn { context in
            for await _ in context.mailbox {}
            return nil
        }
        let grant = try await node.locks.acquire("nightly-report", holder: worker, wait: .seconds(10), lockDelay: .seconds(5))
        #expect(grant.holder == worker && grant.token > 0)
        #expect(try await node.names.register("report-writer", pid: worker) != nil)
        #expect(try await node.names.lookup("report-writer")?.pid == worker)
        try await node.locks.release("nightly-report", holder: worker)
        #expect(try await node.locks.info("nightly-report")?.holder == nil)

        let scratch = try node.store("scratch")
        try await scratch.set("k", [1])
        #expect(try await scratch.get("k") == [1], "a kv.local store serves with the cluster disabled")
        #expect(throws: CoordinationError.self) { try node.store("undeclared") }
    }
}
