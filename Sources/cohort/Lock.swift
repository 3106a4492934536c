import ArgumentParser
import Foundation

/// `cohort lock acquire|release|info|list`: distributed locks with fencing tokens.
struct Lock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Acquire, release and inspect the cluster's locks (held by a process, usually a session PID).",
        subcommands: [Acquire.self, Release.self, Info.self, List.self]
    )

    /// `GET /v1/locks/{name}` and the rows of `GET /v1/locks`; a grant has only name, holder and token.
    struct View: Decodable {
        var name: String
        var holder: String?
        var node: String?
        var token: UInt64
        var waiters: [String]?
        var delayedUntil: UInt64?

        enum CodingKeys: String, CodingKey {
            case name, holder, node, token, waiters
            case delayedUntil = "delayed_until"
        }
    }

    static func path(_ name: String) -> String { resourcePath("locks", name) }

    struct Acquire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take lock NAME for a process; prints its holder and fencing token (exit 1 when held by another).",
            discussion: """
                Without --holder, a session is opened to hold the lock: it ends, releasing the lock, --ttl after \
                the acquire (unless its events are read). Release earlier with `cohort lock release NAME --holder PID`.
                """
        )
        @OptionGroup var options: AdminOptions
        @Option(help: "The holder's PID (node@incarnation.serial), e.g. a session's; default: a new session.") var holder: String?
        @Option(help: "Without --holder: how long the new session, and so the lock, lasts (seconds, or e.g. 2m; default 30s).")
        var ttl: String?
        @Option(help: "Queue for the lock up to this long (seconds, or e.g. 500ms) instead of failing at once.") var wait: String?
        @Option(name: .customLong("lock-delay"), help: "If the holder's node departs, keep the lock unavailable this long (e.g. 10s).")
        var lockDelay: String?
        @Argument(help: "The lock's name.") var name: String

        func validate() throws {
            if holder != nil && ttl != nil {
                throw ValidationError("--ttl is for the session this command opens; a --holder lives as long as its process")
            }
        }

        func run() async throws {
            let holder: String
            if let given = self.holder { holder = given } else { holder = try await openSession(options, ttl: ttl ?? "30s") }
            var body = ["holder": holder]
            body["wait"] = wait.map(durationText)
            body["lock_delay"] = lockDelay.map(durationText)
            let reply = try await call(options, "POST", Lock.path(name), json: try JSONEncoder().encode(body))
            if options.json { return printBody(reply) }
            let grant = decodeReply(View.self, reply, path: Lock.path(name))
            print("acquired \(grant.name) for \(grant.holder ?? holder), token \(grant.token)")
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Release lock NAME held by a process (exit 1 when it holds it not)."
        )
        @OptionGroup var options: AdminOptions
        @Option(help: "The holder's PID.") var holder: String
        @Argument(help: "The lock's name.") var name: String

        func run() async throws {
            _ = try await call(options, "DELETE", Lock.path(name) + query(["holder": holder]), accepting: [204])
            if !options.json { print("released \(name)") }
        }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show lock NAME: holder, node, token, waiters (exit 1 when not held).", aliases: ["show"]
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "The lock's name.") var name: String

        func run() async throws {
            let reply = try await call(options, "GET", Lock.path(name))
            if options.json { return printBody(reply) }
            let lock = decodeReply(View.self, reply, path: Lock.path(name))
            printTable([
                ["name:", lock.name],
                ["holder:", lock.holder ?? "-"],
                ["node:", lock.node ?? "-"],
                ["token:", "\(lock.token)"],
                ["waiters:", (lock.waiters ?? []).isEmpty ? "-" : (lock.waiters ?? []).joined(separator: ", ")],
                ["delayed until:", lock.delayedUntil.map { timestamp(milliseconds: $0) } ?? "-"],
            ])
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the locks held, delayed or waited for, in name order.")
        @OptionGroup var options: AdminOptions
        @Option(help: "Only locks whose names start with this.") var prefix: String?

        func run() async throws {
            let path = "/v1/locks" + query(["prefix": prefix])
            let reply = try await call(options, "GET", path)
            if options.json { return printBody(reply) }
            let locks = decodeReply([View].self, reply, path: path)
            printTable([["NAME", "HOLDER", "TOKEN", "WAITERS"]] + locks.map { lock in
                [lock.name, lock.holder ?? "(delayed)", "\(lock.token)", "\(lock.waiters?.count ?? 0)"]
            })
        }
    }
}
