import ArgumentParser
import Foundation

/// `cohort members`: the gossip membership as the node sees it.
struct Members: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the cluster's members as this node sees them (exit 3 when unreachable)."
    )

    @OptionGroup var options: AdminOptions

    /// One row of `/v1/members`.
    struct Row: Codable {
        struct Meta: Codable {
            var role: String
            var failureDomain: String
            var version: String

            enum CodingKeys: String, CodingKey {
                case role, version
                case failureDomain = "failure_domain"
            }
        }

        var name: String
        var address: String
        var state: String
        var meta: Meta?
    }

    func run() async throws {
        let reply = try await call(options, "GET", "/v1/members")
        if options.json { return print(String(decoding: reply.body, as: UTF8.self), terminator: "") }
        let rows = try JSONDecoder().decode([Row].self, from: reply.body)
        let table = [["NAME", "ADDRESS", "STATE", "ROLE", "DOMAIN", "VERSION"]] + rows.map { row in
            [row.name, row.address, row.state, row.meta?.role ?? "-", row.meta?.failureDomain ?? "-", row.meta?.version ?? "-"]
        }
        printTable(table)
    }
}
