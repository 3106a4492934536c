import ArgumentParser
import Foundation

/// `cohort stores`: the key/value stores this node serves.
struct Stores: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the declared key/value stores: default, then the configuration's `stores`."
    )

    @OptionGroup var options: AdminOptions

    /// One row of `/v1/stores`.
    struct Row: Decodable {
        var name: String
        var kind: String
        var durable: Bool
    }

    func run() async throws {
        let reply = try await call(options, "GET", "/v1/stores")
        if options.json { return printBody(reply) }
        let rows = decodeReply([Row].self, reply, path: "/v1/stores")
        printTable([["NAME", "KIND", "DURABLE"]] + rows.map { [$0.name, $0.kind, $0.durable ? "yes" : "no"] })
    }
}
