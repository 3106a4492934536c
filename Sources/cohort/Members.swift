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
        let client = try options.client()
        let reply: AdminClient.Reply
        do {
            reply = try await client.get("/v1/members")
        } catch {
            FileHandle.standardError.write(Data("cohort: \(error)\n".utf8))
            throw ExitCode(3)
        }
        if options.json {
            print(String(decoding: reply.body, as: UTF8.self), terminator: "")
            if reply.status != 200 { throw ExitCode(1) }
            return
        }
        guard reply.status == 200 else {
            FileHandle.standardError.write(Data("cohort: /v1/members: HTTP \(reply.status): \(String(decoding: reply.body, as: UTF8.self))".utf8))
            throw ExitCode(reply.status == 401 ? 3 : 1)
        }
        let rows = try JSONDecoder().decode([Row].self, from: reply.body)
        let table = [["NAME", "ADDRESS", "STATE", "ROLE", "DOMAIN", "VERSION"]] + rows.map { row in
            [row.name, row.address, row.state, row.meta?.role ?? "-", row.meta?.failureDomain ?? "-", row.meta?.version ?? "-"]
        }
        printTable(table)
    }
}
