import ArgumentParser
import Foundation

/// `cohort pg scopes|groups|members|join|leave|broadcast|watch`: Erlang-style process groups.
struct Groups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pg",
        abstract: "Join, leave, list, broadcast to and watch process groups (Erlang pg: eventually consistent, no Raft).",
        subcommands: [Scopes.self, List.self, Members.self, Join.self, Leave.self, Broadcast.self, Watch.self]
    )

    /// `--scope S`, shared by the commands about one group.
    struct ScopeOption: ParsableArguments {
        @Option(help: "The scope (see `cohort pg scopes`).") var scope = "default"
    }

    /// `{"members": [...]}`, `{"groups": [...]}`, `{"scopes": [...]}`, `{"recipients": n}`.
    struct MembersView: Decodable { var members: [String] }
    struct GroupsView: Decodable { var groups: [String] }
    struct ScopesView: Decodable { var scopes: [String] }
    struct BroadcastView: Decodable { var recipients: Int }

    /// `/v1/pg/<scope>[/<group>]`, each a percent-encoded path segment. Dots are encoded so that `.` and
    /// `..` stay names, and a group named `events` is spelled `%65vents` so it is not the scope's stream.
    static func path(_ scope: String, _ group: String? = nil) -> String {
        var path = "/v1/pg/" + segment(scope)
        if let group { path += "/" + (group == "events" ? "%65vents" : segment(group)) }
        return path
    }

    private static let segmentAllowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/.;"))

    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: segmentAllowed) ?? text
    }

    /// A `{"pids": [...]}` body.
    static func body(_ pids: [String]) throws -> Data {
        try JSONEncoder().encode(["pids": pids])
    }

    /// PIDs with multiplicity as table rows: each PID once, its node and how many times it joined.
    static func memberRows(_ pids: [String]) -> [[String]] {
        var counts: [String: Int] = [:]
        var order: [String] = []
        for pid in pids {
            if counts[pid] == nil { order.append(pid) }
            counts[pid, default: 0] += 1
        }
        return [["PID", "NODE", "JOINS"]] + order.map { pid in [pid, node(of: pid), "\(counts[pid] ?? 0)"] }
    }

    /// The node part of `node@incarnation.serial` (node names may contain `@`: the last one separates).
    static func node(of pid: String) -> String {
        pid.lastIndex(of: "@").map { String(pid[..<$0]) } ?? "-"
    }

    struct Scopes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the node's process-group scopes (pg.scopes).")
        @OptionGroup var options: AdminOptions

        func run() async throws {
            let reply = try await call(options, "GET", "/v1/pg")
            if options.json { return printBody(reply) }
            printTable([["SCOPE"]] + decodeReply(ScopesView.self, reply, path: "/v1/pg").scopes.map { [$0] })
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "groups",
            abstract: "List the groups of SCOPE with members on some node, sorted; with --pid, the groups of that process."
        )
        @OptionGroup var options: AdminOptions
        @Option(help: "Only the groups this process (node@incarnation.serial) is a member of.") var pid: String?
        @Argument(help: "The scope.") var scope = "default"

        func run() async throws {
            let path = Groups.path(scope) + query(["pid": pid])
            let reply = try await call(options, "GET", path)
            if options.json { return printBody(reply) }
            printTable([["GROUP"]] + decodeReply(GroupsView.self, reply, path: path).groups.map { [$0] })
        }
    }

    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the members of GROUP on every node (or this node's, with --local): each PID, its node and how often it joined."
        )
        @OptionGroup var options: AdminOptions
        @OptionGroup var scope: ScopeOption
        @Flag(help: "Only this node's members.") var local = false
        @Argument(help: "The group.") var group: String

        func run() async throws {
            let path = Groups.path(scope.scope, group) + query(["local": local ? "true" : nil])
            let reply = try await call(options, "GET", path)
            if options.json { return printBody(reply) }
            printTable(Groups.memberRows(decodeReply(MembersView.self, reply, path: path).members))
        }
    }

    struct Join: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join processes of this node (e.g. session PIDs) to GROUP; a PID given twice joins twice.",
            discussion: "A process leaves its groups when it exits (a session when it ends)."
        )
        @OptionGroup var options: AdminOptions
        @OptionGroup var scope: ScopeOption
        @Argument(help: "The group.") var group: String
        @Argument(help: "The processes (node@incarnation.serial), of the node asked.") var pids: [String]

        func validate() throws {
            if pids.isEmpty { throw ValidationError("give at least one PID to join") }
        }

        func run() async throws {
            _ = try await call(options, "POST", Groups.path(scope.scope, group) + "/join", json: try Groups.body(pids), accepting: [204])
            if !options.json { print("joined \(group) (\(scope.scope)): \(pids.joined(separator: " "))") }
        }
    }

    struct Leave: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Leave GROUP once for each PID (exit 1, NOT_JOINED, when none of them was a member)."
        )
        @OptionGroup var options: AdminOptions
        @OptionGroup var scope: ScopeOption
        @Argument(help: "The group.") var group: String
        @Argument(help: "The processes (node@incarnation.serial), of the node asked.") var pids: [String]

        func validate() throws {
            if pids.isEmpty { throw ValidationError("give at least one PID to leave") }
        }

        func run() async throws {
            _ = try await call(options, "POST", Groups.path(scope.scope, group) + "/leave", json: try Groups.body(pids), accepting: [204])
            if !options.json { print("left \(group) (\(scope.scope)): \(pids.joined(separator: " "))") }
        }
    }

    struct Broadcast: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send one message to every member of GROUP (each process once); prints how many it went to.",
            discussion: "Best effort, as OTP's pg: a member that exits or a node that leaves meanwhile misses it."
        )
        @OptionGroup var options: AdminOptions
        @OptionGroup var scope: ScopeOption
        @Option(help: "The message's topic.") var topic: String
        @Option(help: "The message's payload, as text (default: empty).") var payload: String?
        @Flag(help: "Only this node's members.") var local = false
        @Option(help: "The sender: a session PID of the node asked (default: none).") var from: String?
        @Argument(help: "The group.") var group: String

        /// The request body; absent fields are left out.
        struct Body: Encodable {
            var topic: String
            var payload: String?
            var local: Bool
            var from: String?
        }

        func run() async throws {
            let body = Body(topic: topic, payload: payload, local: local, from: from)
            let path = Groups.path(scope.scope, group) + "/broadcast"
            let reply = try await call(options, "POST", path, json: try JSONEncoder().encode(body))
            if options.json { return printBody(reply) }
            let recipients = decodeReply(BroadcastView.self, reply, path: path).recipients
            print("sent to \(recipients) process\(recipients == 1 ? "" : "es")")
        }
    }
}
