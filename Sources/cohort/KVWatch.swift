import ArgumentParser
import Foundation

extension KV {
    /// `cohort kv watch`: `GET /v1/watch` as lines.
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every change of the keys under --prefix, in version order, until interrupted or --count changes.",
            discussion: """
                One line per change: `<version> put <key> <value>` or `<version> delete <key>`; with --json one \
                object per line, the server's event with its kind added: {"event":"put","key":…,"value":…,"version":…}. \
                Exits 0 after --count changes; a watch the node ends (it fell behind, its replica was replaced) \
                exits 1 saying the version to resume from (--from-version).
                """
        )
        @OptionGroup var options: AdminOptions
        @OptionGroup var store: StoreOption
        @Option(help: "Only keys starting with this.") var prefix: String?
        @Option(
            name: [.customLong("from-version"), .customLong("from")],
            help: "Print the changes after this version (0: all that are kept; default: from now)."
        )
        var from: UInt64?
        @Option(help: "Exit (status 0) after printing this many changes.") var count: Int?

        func validate() throws {
            if let count, count < 1 { throw ValidationError("--count \(count): give at least 1") }
        }

        func run() async throws {
            let start = try await startVersion()
            let path = "/v1/watch" + query(["store": store.store, "prefix": prefix, "from": "\(start)"])
            var last = start
            try await options.client().follow(
                path, json: options.json, count: count,
                broke: { "the watch broke (\($0)); resume with --from-version \(last)" },
                ended: { "the node ended the watch; resume with --from-version \(last)" }
            ) { event in
                guard let version = show(event, after: last) else { return false }
                last = version
                return true
            }
        }

        /// `--from`, else the store's current revision on this node (where a watch of "from now" starts).
        func startVersion() async throws -> UInt64 {
            if let from { return from }
            let path = "/v1/kv" + query(["store": store.store, "prefix": prefix, "limit": "1", "consistency": "stale"])
            let reply = try await call(options, "GET", path)
            guard let revision = reply.header("Cohort-Revision").flatMap({ UInt64($0) }) else {
                fail("\(path): the reply has no Cohort-Revision header; pass --from-version", exitCode: 1)
            }
            return revision
        }

        /// Prints one event; returns its version when it was a change (nil for anything else).
        func show(_ event: ServerSentEvent, after last: UInt64) -> UInt64? {
            switch event.name {
            case "put", "delete":
                guard let change = try? JSONDecoder().decode(Entry.self, from: Data(event.data.utf8)) else {
                    fail("the watch sent an event this CLI cannot read: \(event.data)", exitCode: 1)
                }
                if options.json {
                    write("{\"event\":\"\(event.name)\"," + event.data.drop(while: { $0 != "{" }).dropFirst())
                } else {
                    write("\(change.version) \(event.name) \(change.key)" + (event.name == "put" ? " \(change.text)" : ""))
                }
                return change.version
            case "error":
                if options.json { write("{\"event\":\"error\"," + event.data.drop(while: { $0 != "{" }).dropFirst()) }
                let message = (try? JSONDecoder().decode(ErrorBody.self, from: Data(event.data.utf8)))?.error ?? event.data
                fail("the node ended the watch: \(message); resume with --from-version \(last)", exitCode: 1)
            default:
                return nil
            }
        }

        /// Writes a line at once (a pipe's reader sees each event as it happens).
        func write(_ line: some StringProtocol) {
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }
}
