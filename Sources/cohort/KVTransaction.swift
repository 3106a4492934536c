import ArgumentParser
import Foundation

extension KV {
    /// `cohort kv txn`: a JSON body passed through to `POST /v1/txn`.
    struct Transaction: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "txn",
            abstract: "Run a transaction from a JSON file (or standard input): compares, then success or failure operations.",
            discussion: """
                The body of POST /v1/txn: {"compare": [{"key": "k", "version": 7} | {"key", "value"} | {"key", "absent": true}], \
                "success": [ops], "failure": [ops]}, ops {"op": "put", "key", "value", "ttl"?}, {"op": "delete", "key"}, \
                {"op": "get", "key"}. Prints whether the compares held and each operation's result; exits 0 either way.
                """
        )
        @OptionGroup var options: AdminOptions
        @OptionGroup var store: StoreOption
        @Argument(help: "The JSON file (- for standard input).") var file: String = "-"

        /// `POST /v1/txn`'s answer.
        struct Reply: Decodable {
            struct Result: Decodable {
                var op: String
                var key: String
                var version: UInt64?
                var existed: Bool?
                var entry: Entry?
            }

            var succeeded: Bool
            var version: UInt64
            var results: [Result]
        }

        func run() async throws {
            let body: Data
            do {
                body = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
            } catch {
                throw ValidationError("\(file): cannot read it: \(error.localizedDescription)")
            }
            let path = "/v1/txn" + query(["store": store.store])
            let reply = try await call(options, "POST", path, json: body)
            if options.json { return printBody(reply) }
            let outcome = decodeReply(Reply.self, reply, path: path)
            print("\(outcome.succeeded ? "succeeded" : "failed (the compares did not hold)"), version \(outcome.version)")
            printTable(outcome.results.map { result in
                switch result.op {
                case "put": ["put", result.key, "version \(result.version ?? 0)"]
                case "delete": ["delete", result.key, result.existed == true ? "deleted" : "was absent"]
                case "get": ["get", result.key, result.entry.map { "\($0.text) (version \($0.version))" } ?? "absent"]
                default: [result.op, result.key]
                }
            })
        }
    }
}
