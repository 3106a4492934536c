import ArgumentParser
import Foundation

/// `cohort`: the operator and scripting client of a node's `/v1` API.
@main
struct CohortCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort",
        abstract: "Talk to a Cohort node's admin API.",
        subcommands: [Status.self, Members.self, Raft.self, Stores.self, KV.self, Lock.self, Names.self, Groups.self, Snapshot.self]
    )
}

/// Options every subcommand shares: where the node is and how to authenticate.
struct AdminOptions: ParsableArguments {
    @Option(name: .long, help: "The node's admin URL (default: $COHORT_ADMIN_URL, else http://127.0.0.1:7960).")
    var admin: String?

    @Option(name: .long, help: "Bearer token for /v1 (default: $COHORT_ADMIN_TOKEN).")
    var token: String?

    @Flag(name: .long, help: "Print JSON for scripts instead of text.")
    var json = false

    func client() throws -> AdminClient {
        let environment = ProcessInfo.processInfo.environment
        let text = admin ?? environment["COHORT_ADMIN_URL"] ?? "http://127.0.0.1:7960"
        guard let url = URL(string: text.contains("://") ? text : "http://\(text)"), url.host != nil else {
            throw ValidationError("--admin \(text): not a URL; use e.g. http://127.0.0.1:7960")
        }
        return AdminClient(base: url, token: token ?? environment["COHORT_ADMIN_TOKEN"])
    }
}

/// `cohort status`: who the node is and whether it is ready.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the node's identity and readiness (exit 0 ready, 1 not ready, 3 unreachable)."
    )

    @OptionGroup var options: AdminOptions

    func run() async throws {
        let client = try options.client()
        let node: NodeStatus
        let readiness: AdminClient.Reply
        do {
            node = try await client.json(NodeStatus.self, path: "/v1/node")
            readiness = try await client.get("/readyz")
        } catch {
            fail("\(error)", exitCode: 3)
        }
        let ready = readiness.status == 200
        let checks = String(decoding: readiness.body, as: UTF8.self)
            .split(separator: "\n").map { line -> CheckLine in
                let parts = line.split(separator: "\t", maxSplits: 1)
                return CheckLine(name: String(parts[0]), result: parts.count > 1 ? String(parts[1]) : "")
            }
        if options.json {
            let report = StatusReport(node: node, ready: ready, checks: checks)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("node:        \(node.name)")
            print("incarnation: \(node.incarnation)")
            print("cluster:     \(node.clusterEnabled ? "enabled" : "disabled")")
            print("role:        \(node.role)")
            print("version:     \(node.version)")
            print("ready:       \(ready ? "yes" : "no")")
            for check in checks {
                print("  \(check.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(check.result)")
            }
        }
        if !ready { throw ExitCode(1) }
    }
}

/// `/v1/node` as the CLI reads it.
struct NodeStatus: Codable {
    var name: String
    var incarnation: UInt64
    var clusterEnabled: Bool
    var role: String
    var version: String

    enum CodingKeys: String, CodingKey {
        case name, incarnation, role, version
        case clusterEnabled = "cluster_enabled"
    }
}

/// One line of `/readyz`.
struct CheckLine: Codable {
    var name: String
    var result: String
}

/// What `cohort status --json` prints.
struct StatusReport: Codable {
    var node: NodeStatus
    var ready: Bool
    var checks: [CheckLine]
}
