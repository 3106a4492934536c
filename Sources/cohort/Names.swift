import ArgumentParser
import Foundation

/// `cohort names register|lookup|unregister|list`: names that stand for processes.
struct Names: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "names",
        abstract: "Register, look up and list process names (consistent: cluster-wide through Raft; strong: consistent and acknowledged by every live node; eventual: spread by gossip; local: this node).",
        subcommands: [Register.self, Lookup.self, Unregister.self, List.self]
    )

    /// A name as `/v1/names` shows it.
    struct View: Codable {
        var name: String
        var pid: String
        var node: String
        var scope: String
        var token: UInt64?
    }

    /// The scopes `--scope` takes.
    enum Scope: String, ExpressibleByArgument, CaseIterable {
        case local, eventual, consistent, strong
    }

    static func path(_ name: String) -> String { resourcePath("names", name) }

    static func table(_ views: [View]) {
        printTable([["NAME", "PID", "SCOPE", "NODE", "TOKEN"]] + views.map { view in
            [view.name, view.pid, view.scope, view.node, view.token.map { "\($0)" } ?? "-"]
        })
    }

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register NAME for a process; the first registration wins (exit 1 when taken, naming the owner).",
            discussion: """
                Without --pid, a session is opened to own the name: it ends, unregistering the name, --ttl after \
                the registration (unless its events are read).

                --scope strong waits until every live node (servers and clients) acknowledged holding no \
                conflicting binding: exit 1 naming the nodes that did not answer within --timeout, or the owner \
                a node reported.
                """
        )
        @OptionGroup var options: AdminOptions
        @Option(help: "The process's PID (node@incarnation.serial), e.g. a session's; default: a new session.") var pid: String?
        @Option(help: "Without --pid: how long the new session, and so the name, lasts (seconds, or e.g. 2m; default 30s).")
        var ttl: String?
        @Option(help: "consistent (default), local, eventual or strong.") var scope: Scope?
        @Option(help: "With --scope strong: how long to wait for every node's acknowledgement (seconds, or e.g. 3s, 500ms; default 10s; at most 25s, within the CLI's 30 s request timeout).")
        var timeout: String?
        @Argument(help: "The name.") var name: String

        func validate() throws {
            if pid != nil && ttl != nil {
                throw ValidationError("--ttl is for the session this command opens; a --pid lives as long as its process")
            }
            if timeout != nil && scope != .strong {
                throw ValidationError("--timeout is the strong scope's wait for acknowledgements: add --scope strong")
            }
        }

        func run() async throws {
            let pid: String
            if let given = self.pid { pid = given } else { pid = try await openSession(options, ttl: ttl ?? "30s") }
            var body = ["name": name, "pid": pid]
            body["scope"] = scope?.rawValue
            body["timeout"] = timeout.map(durationText)
            let reply = try await call(options, "POST", "/v1/names", json: try JSONEncoder().encode(body), accepting: [201])
            if options.json { return printBody(reply) }
            let view = decodeReply(View.self, reply, path: "/v1/names")
            print("registered \(view.name) for \(view.pid) (\(view.scope)" + (view.token.map { ", token \($0))" } ?? ")"))
        }
    }

    struct Lookup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the process NAME stands for (exit 1 when unknown); without --scope: consistent, then eventual, then local."
        )
        @OptionGroup var options: AdminOptions
        @Option(help: "Look only in this scope.") var scope: Scope?
        @Argument(help: "The name.") var name: String

        func run() async throws {
            let path = Names.path(name) + query(["scope": scope?.rawValue])
            let reply = try await call(options, "GET", path)
            if options.json { return printBody(reply) }
            Names.table([decodeReply(View.self, reply, path: path)])
        }
    }

    struct Unregister: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unregister NAME; only its owner may (exit 1 otherwise).")
        @OptionGroup var options: AdminOptions
        @Option(help: "The owner's PID.") var pid: String
        @Option(help: "consistent (default), local, eventual or strong.") var scope: Scope?
        @Argument(help: "The name.") var name: String

        func run() async throws {
            _ = try await call(options, "DELETE", Names.path(name) + query(["pid": pid, "scope": scope?.rawValue]), accepting: [204])
            if !options.json { print("unregistered \(name)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List names in name order: one scope (default consistent) or all of them, optionally only one owner's or one node's."
        )
        @OptionGroup var options: AdminOptions
        @Option(help: "Only names starting with this.") var prefix: String?
        @Option(help: "consistent (default; strong names included), strong (only those), eventual, local, or all.") var scope: String?
        @Option(help: "Only names of this process (node@incarnation.serial).") var owner: String?
        @Option(help: "Only names of processes on this node.") var node: String?

        func run() async throws {
            let scopes: [String]
            switch scope {
            case nil: scopes = ["consistent"]
            case "all": scopes = ["consistent", "eventual", "local"]  // consistent lists the strong names too
            case let text?:
                guard Scope(rawValue: text) != nil else {
                    throw ValidationError("--scope: \"\(text)\" is not consistent, eventual, local, strong or all")
                }
                scopes = [text]
            }
            var views: [View] = []
            var replies: [AdminClient.Reply] = []
            for scope in scopes {
                let path = "/v1/names" + query(["scope": scope, "prefix": prefix])
                let reply = try await call(options, "GET", path)
                replies.append(reply)
                views += decodeReply([View].self, reply, path: path)
            }
            views = views.filter { view in (owner == nil || view.pid == owner) && (node == nil || view.node == node) }
            if options.json {
                if replies.count == 1, owner == nil, node == nil { return printBody(replies[0]) }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                return printBody(AdminClient.Reply(status: 200, body: try encoder.encode(views)))
            }
            Names.table(views)
        }
    }
}
