import ArgumentParser
import Foundation

/// `cohort kv get|put|delete|list`: the replicated key/value store (written through Raft).
struct KV: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv",
        abstract: "Read and write the cluster's Raft-replicated key/value store.",
        subcommands: [Get.self, Put.self, Delete.self, List.self]
    )

    /// One entry of `/v1/kv`.
    struct Entry: Codable {
        var key: String
        var value: String?
        var valueBase64: String?
        var version: UInt64

        enum CodingKeys: String, CodingKey {
            case key, value, version
            case valueBase64 = "value_b64"
        }

        var text: String { value ?? "base64:\(valueBase64 ?? "")" }
    }

    static func path(_ key: String) -> String {
        "/v1/kv/" + (key.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? key)
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the value at KEY (exit 1 when absent).")
        @OptionGroup var options: AdminOptions
        @Flag(help: "Read this node's replica without a linearizable check (may lag).") var stale = false
        @Argument(help: "The key.") var key: String

        func run() async throws {
            let reply = try await call(options, "GET", KV.path(key) + (stale ? "?consistency=stale" : ""))
            if options.json { return print(String(decoding: reply.body, as: UTF8.self), terminator: "") }
            print(try JSONDecoder().decode(Entry.self, from: reply.body).text)
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set KEY to VALUE through Raft; prints the new version.")
        @OptionGroup var options: AdminOptions
        @Flag(name: .customLong("if-absent"), help: "Only if KEY has no value.") var ifAbsent = false
        @Option(name: .customLong("if-version"), help: "Only if KEY is at this version.") var ifVersion: UInt64?
        @Argument(help: "The key.") var key: String
        @Argument(help: "The value (text).") var value: String

        func run() async throws {
            var query = ""
            if ifAbsent { query = "?if_absent=true" }
            if let ifVersion { query = "?if_version=\(ifVersion)" }
            let body = try JSONEncoder().encode(["value": value])
            let reply = try await call(options, "PUT", KV.path(key) + query, json: body)
            if options.json { return print(String(decoding: reply.body, as: UTF8.self), terminator: "") }
            let version = try JSONDecoder().decode([String: UInt64].self, from: reply.body)["version"] ?? 0
            print("version \(version)")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete KEY through Raft (exit 1 when absent).")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The key.") var key: String

        func run() async throws {
            _ = try await call(options, "DELETE", KV.path(key), accepting: [204])
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (and values) under PREFIX, in key order.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The key prefix.") var prefix: String = ""

        func run() async throws {
            let query = prefix.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? prefix
            let reply = try await call(options, "GET", "/v1/kv?prefix=\(query)")
            if options.json { return print(String(decoding: reply.body, as: UTF8.self), terminator: "") }
            let entries = try JSONDecoder().decode([Entry].self, from: reply.body)
            printTable([["KEY", "VERSION", "VALUE"]] + entries.map { [$0.key, "\($0.version)", $0.text] })
        }
    }
}
