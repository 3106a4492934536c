import ArgumentParser
import Foundation

/// `cohort kv get|put|delete (del)|list|watch|txn`: the key/value stores (written through Raft).
struct KV: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv",
        abstract: "Read, write and watch the cluster's Raft-replicated key/value stores.",
        subcommands: [Get.self, Put.self, Delete.self, List.self, Watch.self, Transaction.self]
    )

    /// One entry of `/v1/kv`.
    struct Entry: Codable {
        var key: String
        var value: String?
        var valueBase64: String?
        var version: UInt64
        var created: UInt64?
        var expiresAt: UInt64?

        enum CodingKeys: String, CodingKey {
            case key, value, version, created
            case valueBase64 = "value_b64"
            case expiresAt = "expires_at"
        }

        var text: String { value ?? "base64:\(valueBase64 ?? "")" }
        var expiry: String { expiresAt.map { timestamp(milliseconds: $0) } ?? "-" }
    }

    /// `--store NAME`, shared by every `kv` subcommand.
    struct StoreOption: ParsableArguments {
        @Option(help: "The store (see `cohort stores`; default: the store named default).") var store: String?
    }

    static func path(_ key: String) -> String { resourcePath("kv", key) }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the value at KEY (exit 1 when absent).")
        @OptionGroup var options: AdminOptions
        @OptionGroup var store: StoreOption
        @Flag(help: "Read this node's replica without a linearizable check (may lag).") var stale = false
        @Argument(help: "The key.") var key: String

        func run() async throws {
            let path = KV.path(key) + query(["store": store.store, "consistency": stale ? "stale" : nil])
            let reply = try await call(options, "GET", path)
            if options.json { return printBody(reply) }
            print(decodeReply(Entry.self, reply, path: path).text)
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set KEY to VALUE through Raft; prints the new version.")
        @OptionGroup var options: AdminOptions
        @OptionGroup var store: StoreOption
        @Flag(name: .customLong("if-absent"), help: "Only if KEY has no value.") var ifAbsent = false
        @Option(name: .customLong("if-version"), help: "Only if KEY is at this version.") var ifVersion: UInt64?
        @Option(help: "Delete KEY this long after the write (seconds, or e.g. 500ms, 5m); the leader sweeps it.") var ttl: String?
        @Argument(help: "The key.") var key: String
        @Argument(help: "The value (text).") var value: String

        func validate() throws {
            if ifAbsent && ifVersion != nil { throw ValidationError("give --if-absent or --if-version, not both") }
        }

        func run() async throws {
            let condition = query(["store": store.store, "if_absent": ifAbsent ? "true" : nil, "if_version": ifVersion.map { "\($0)" }])
            var body = ["value": value]
            body["ttl"] = ttl.map(durationText)
            let reply = try await call(options, "PUT", KV.path(key) + condition, json: try JSONEncoder().encode(body))
            if options.json { return printBody(reply) }
            let version = decodeReply([String: UInt64].self, reply, path: KV.path(key))["version"] ?? 0
            print("version \(version)")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete", abstract: "Delete KEY through Raft (exit 1 when absent).", aliases: ["del"]
        )
        @OptionGroup var options: AdminOptions
        @OptionGroup var store: StoreOption
        @Option(name: .customLong("if-version"), help: "Only if KEY is at this version.") var ifVersion: UInt64?
        @Argument(help: "The key.") var key: String

        func run() async throws {
            let path = KV.path(key) + query(["store": store.store, "if_version": ifVersion.map { "\($0)" }])
            _ = try await call(options, "DELETE", path, accepting: [204])
            if !options.json { print("deleted \(key)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List keys (and values) under PREFIX, in key order, and the revision a watch can start from."
        )
        @OptionGroup var options: AdminOptions
        @OptionGroup var store: StoreOption
        @Option(help: "Only keys after this one (to page on).") var after: String?
        @Option(help: "At most this many entries (1-10000, default 1000).") var limit: Int?
        @Flag(help: "Read this node's replica without a linearizable check (may lag).") var stale = false
        @Option(help: "Only keys starting with this.") var prefix: String?
        @Argument(help: ArgumentHelp("The key prefix (as --prefix).", valueName: "prefix")) var positionalPrefix: String?

        func validate() throws {
            if prefix != nil && positionalPrefix != nil { throw ValidationError("give the prefix once: --prefix P or P") }
        }

        func run() async throws {
            let prefix = self.prefix ?? positionalPrefix ?? ""
            let path = "/v1/kv" + query([
                "store": store.store, "prefix": prefix.isEmpty ? nil : prefix, "after": after,
                "limit": limit.map { "\($0)" }, "consistency": stale ? "stale" : nil,
            ])
            let reply = try await call(options, "GET", path)
            if options.json { return printBody(reply) }
            let entries = decodeReply([Entry].self, reply, path: path)
            printTable([["KEY", "VERSION", "EXPIRES", "VALUE"]] + entries.map { [$0.key, "\($0.version)", $0.expiry, $0.text] })
            if let revision = reply.header("Cohort-Revision") { print("(revision \(revision))") }
        }
    }
}
