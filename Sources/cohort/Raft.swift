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

/// Makes one call and turns every failure into the CLI's exit codes: 3 unreachable or unauthorized,
/// 1 any other HTTP error (its body printed to standard error).
func call(_ options: AdminOptions, _ method: String, _ path: String, json body: Data? = nil, accepting: Set<Int> = [200]) async throws -> AdminClient.Reply {
    let client = try options.client()
    let reply: AdminClient.Reply
    do {
        reply = try await client.send(method, path, json: body)
    } catch {
        FileHandle.standardError.write(Data("cohort: \(error)\n".utf8))
        throw ExitCode(3)
    }
    guard accepting.contains(reply.status) else {
        if options.json { print(String(decoding: reply.body, as: UTF8.self), terminator: "") }
        FileHandle.standardError.write(Data("cohort: \(path): HTTP \(reply.status): \(String(decoding: reply.body, as: UTF8.self))".utf8))
        throw ExitCode(reply.status == 401 ? 3 : 1)
    }
    return reply
}
