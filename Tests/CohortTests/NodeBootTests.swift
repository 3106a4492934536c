@testable import Cohort
import Foundation
import Logging
import Testing

@Suite("Node construction and boot")
struct NodeBootTests {
    static func settings(data: String) throws -> CohortSettings {
        let yaml = """
            cluster:
              enabled: true
              name: n1
              membership:
                bind_addr: 127.0.0.1
              internode:
                bind_addr: 127.0.0.1
              raft:
                data_dir: \(data)
            """
        return try ConfigLoader(environment: [:], hostName: "test", homeDirectory: nil) { _ in [] }.load(yaml: yaml)
    }

    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("cohort-boot-\(UUID().uuidString)").path
    }

    @Test("building a node touches nothing: no data directory, no incarnation file; it takes the boot it is given")
    func constructionDoesNoIO() throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let node = CohortNode(settings: try Self.settings(data: data), logger: Logger(label: "test"), boot: NodeBoot(incarnation: Incarnation(42)))
        #expect(node.incarnation == Incarnation(42))
        #expect(!FileManager.default.fileExists(atPath: data), "construction created \(data)")
        #expect(node.services.count > 2, "the clustered services are built")
    }

    @Test("prepare persists the incarnation and every later boot exceeds it, even with the clock standing still or going back")
    func prepareBumpsThePersistedIncarnation() throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let settings = try Self.settings(data: data)
        let logger = Logger(label: "test")
        let first = try CohortNode.prepare(settings: settings, logger: logger, environment: [:], nowMilliseconds: 5000)
        #expect(first.incarnation == Incarnation(5000))
        let text = try String(contentsOfFile: data + "/_sys/incarnation", encoding: .utf8)
        #expect(text == "5000\n")
        let same = try CohortNode.prepare(settings: settings, logger: logger, environment: [:], nowMilliseconds: 5000)
        #expect(same.incarnation == Incarnation(5001))
        let back = try CohortNode.prepare(settings: settings, logger: logger, environment: [:], nowMilliseconds: 10)
        #expect(back.incarnation == Incarnation(5002))
        let later = try CohortNode.prepare(settings: settings, logger: logger, environment: [:], nowMilliseconds: 9000)
        #expect(later.incarnation == Incarnation(9000))
    }
}
