import ArgumentParser
import Foundation

/// `cohort raft`: the node's Raft status.
struct Raft: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show this node's Raft state: leader, term, indexes, voters and standbys (exit 3 when unreachable)."
    )

    @OptionGroup var options: AdminOptions

    /// `/v1/raft`.
    struct View: Codable {
        var state: String
        var term: UInt64
        var leader: String?
        var commitIndex: UInt64
        var appliedIndex: UInt64
        var role: String
        var voters: [String]
        var standbys: [String]

        enum CodingKeys: String, CodingKey {
            case state, term, leader, role, voters, standbys
            case commitIndex = "commit_index"
            case appliedIndex = "applied_index"
        }
    }

    func run() async throws {
        let reply = try await call(options, "GET", "/v1/raft")
        if options.json { return print(String(decoding: reply.body, as: UTF8.self), terminator: "") }
        let view = try JSONDecoder().decode(View.self, from: reply.body)
        printTable([
            ["state:", view.state],
            ["role:", view.role],
            ["term:", "\(view.term)"],
            ["leader:", view.leader ?? "(none known)"],
            ["commit index:", "\(view.commitIndex)"],
            ["applied index:", "\(view.appliedIndex)"],
            ["voters:", view.voters.isEmpty ? "-" : view.voters.joined(separator: ", ")],
            ["standbys:", view.standbys.isEmpty ? "-" : view.standbys.joined(separator: ", ")],
        ])
    }
}
