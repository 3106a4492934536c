import ArgumentParser
import Foundation

/// `cohort raft`: the node's Raft status (the default), and the operator's commands: `peers`,
/// `remove-peer`, `transfer-leader`, `operations`.
struct Raft: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the Raft state (the default), list its peers, remove a dead peer, hand leadership over, or show the reconciler's recent operations.",
        subcommands: [Show.self, Peers.self, RemovePeer.self, TransferLeader.self, Operations.self],
        defaultSubcommand: Show.self
    )

    /// `cohort raft [status]`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
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
            let view = decodeReply(View.self, reply, path: "/v1/raft")
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

    /// `cohort raft peers`.
    struct Peers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the Raft configuration as the leader sees it: suffrage, match index, last contact (any node asks the leader)."
        )

        @OptionGroup var options: AdminOptions

        /// `/v1/raft/peers`.
        struct View: Codable {
            struct Peer: Codable {
                var name: String
                var suffrage: String
                var leader: Bool
                var matchIndex: UInt64
                var lastContactMs: UInt64
                var caughtUp: Bool
                var gossip: String

                enum CodingKeys: String, CodingKey {
                    case name, suffrage, leader, gossip
                    case matchIndex = "match_index"
                    case lastContactMs = "last_contact_ms"
                    case caughtUp = "caught_up"
                }
            }

            var leader: String
            var term: UInt64
            var commitIndex: UInt64
            var lastLogIndex: UInt64
            var peers: [Peer]

            enum CodingKeys: String, CodingKey {
                case leader, term, peers
                case commitIndex = "commit_index"
                case lastLogIndex = "last_log_index"
            }
        }

        func run() async throws {
            let path = "/v1/raft/peers"
            let reply = try await call(options, "GET", path)
            if options.json { return print(String(decoding: reply.body, as: UTF8.self), terminator: "") }
            let view = decodeReply(View.self, reply, path: path)
            print("leader \(view.leader), term \(view.term), commit index \(view.commitIndex), last log index \(view.lastLogIndex)")
            printTable([["NAME", "SUFFRAGE", "LEADER", "MATCH", "LAST CONTACT", "CAUGHT UP", "GOSSIP"]] + view.peers.map { peer in
                [
                    peer.name, peer.suffrage, peer.leader ? "yes" : "no", "\(peer.matchIndex)",
                    peer.leader ? "-" : "\(peer.lastContactMs)ms", peer.caughtUp ? "yes" : "no", peer.gossip,
                ]
            })
        }
    }

    /// `cohort raft remove-peer NAME`.
    struct RemovePeer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-peer",
            abstract: "Remove a node gone for good from the Raft configuration (exit 1 when not a member, the last voter, or no leader)."
        )

        @OptionGroup var options: AdminOptions

        @Argument(help: "The node to remove (as `cohort raft peers` names it).")
        var name: String

        struct Removed: Codable {
            var removed: String
            var suffrage: String
            var index: UInt64
            var gossip: String
            var note: String
        }

        func run() async throws {
            let path = "/v1/raft/peers/" + Raft.segment(name)
            let reply = try await call(options, "DELETE", path)
            if options.json { return print(String(decoding: reply.body, as: UTF8.self), terminator: "") }
            let removed = decodeReply(Removed.self, reply, path: path)
            print("removed \(removed.removed) (\(removed.suffrage)) at index \(removed.index)")
            print(removed.note)
        }
    }

    /// `cohort raft transfer-leader [NAME]`.
    struct TransferLeader: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "transfer-leader",
            abstract: "Hand Raft leadership to NAME, or to the most caught-up other voter, and wait until it moved."
        )

        @OptionGroup var options: AdminOptions

        @Argument(help: "The voter to lead next (default: the most caught-up other voter).")
        var name: String?

        @Option(name: .long, help: "How long to wait for the new leader (e.g. 10s, up to 60s).")
        var timeout = "10s"

        struct Moved: Codable {
            var previous: String
            var target: String
            var leader: String
        }

        func run() async throws {
            let path = "/v1/raft/transfer-leader"
            var body: [String: String] = ["timeout": durationText(timeout)]
            if let name { body["to"] = name }
            let reply = try await call(options, "POST", path, json: try JSONEncoder().encode(body))
            if options.json { return print(String(decoding: reply.body, as: UTF8.self), terminator: "") }
            let moved = decodeReply(Moved.self, reply, path: path)
            if moved.leader == moved.target {
                print("leadership moved from \(moved.previous) to \(moved.leader)")
            } else {
                print("leadership moved from \(moved.previous) to \(moved.leader) (asked for \(moved.target); an election chose another voter)")
            }
        }
    }

    /// `cohort raft operations`.
    struct Operations: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the configuration and leadership operations this node carried out (as leader), oldest first."
        )

        @OptionGroup var options: AdminOptions

        struct View: Codable {
            struct Record: Codable {
                var sequence: UInt64
                var time: UInt64
                var op: String
                var node: String
                var source: String
                var reason: String
                var term: UInt64
                var outcome: String
                var error: String?
            }

            var node: String
            var capacity: Int
            var operations: [Record]
        }

        func run() async throws {
            let path = "/v1/raft/operations"
            let reply = try await call(options, "GET", path)
            if options.json { return print(String(decoding: reply.body, as: UTF8.self), terminator: "") }
            let view = decodeReply(View.self, reply, path: path)
            guard !view.operations.isEmpty else {
                return print("\(view.node) has carried out no Raft operation since it started (the leader's reconciler does them: ask the leader)")
            }
            printTable([["#", "TIME", "TERM", "OP", "NODE", "SOURCE", "OUTCOME", "REASON"]] + view.operations.map { record in
                [
                    "\(record.sequence)", timestamp(milliseconds: record.time), "\(record.term)", record.op, record.node, record.source,
                    record.outcome, record.reason + (record.error.map { " — \($0)" } ?? ""),
                ]
            })
        }
    }

    /// A node name as one path segment.
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/.;"))) ?? text
    }
}
