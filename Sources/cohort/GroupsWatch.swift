import ArgumentParser
import Foundation

extension Groups {
    /// `cohort pg watch`: `GET /v1/pg/{scope}/{group}/events` (or the whole scope's) as lines.
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print GROUP's members, then every join and leave as it happens, until interrupted or --count changes.",
            discussion: """
                One line per event: `snapshot PID...` first (the members now, with multiplicity), then `join PID...` \
                and `leave PID...`; `resync PID...` when this client fell behind and missed changes (the members \
                now). Without GROUP the whole scope is watched and each line names its group: `join GROUP PID...`, \
                `snapshot GROUP PID...` per group. With --json one object per line, the server's event with its \
                kind added: {"event":"join","pids":[…]}.
                """
        )
        @OptionGroup var options: AdminOptions
        @OptionGroup var scope: ScopeOption
        @Option(help: "Exit (status 0) after printing this many joins and leaves.") var count: Int?
        @Argument(help: "The group (default: every group of the scope).") var group: String?

        func validate() throws {
            if let count, count < 1 { throw ValidationError("--count \(count): give at least 1") }
        }

        /// An event's data: a group stream's `members`/`pids`, a scope stream's `groups`/`group` + `pids`.
        struct EventData: Decodable {
            var members: [String]?
            var pids: [String]?
            var group: String?
            var groups: [String: [String]]?
        }

        func run() async throws {
            let path = Groups.path(scope.scope, group) + "/events"
            try await options.client().follow(
                path, json: options.json, count: count, broke: { "the watch broke (\($0))" }, ended: { "the node ended the watch" }
            ) { show($0) }
        }

        /// Prints one event; returns whether it was a join or a leave.
        func show(_ event: ServerSentEvent) -> Bool {
            guard ["snapshot", "join", "leave", "resync"].contains(event.name) else { return false }
            guard let data = try? JSONDecoder().decode(EventData.self, from: Data(event.data.utf8)) else {
                fail("the watch sent an event this CLI cannot read: \(event.data)", exitCode: 1)
            }
            if options.json {
                write("{\"event\":\"\(event.name)\"," + event.data.drop(while: { $0 != "{" }).dropFirst())
            } else if let groups = data.groups {
                if groups.isEmpty { write("\(event.name)") }
                for (name, pids) in groups.sorted(by: { $0.key < $1.key }) { write(line(event.name, [name] + pids)) }
            } else {
                write(line(event.name, (data.group.map { [$0] } ?? []) + (data.members ?? data.pids ?? [])))
            }
            return event.name == "join" || event.name == "leave"
        }

        func line(_ kind: String, _ words: [String]) -> String {
            ([kind] + words).joined(separator: " ")
        }

        /// Writes a line at once (a pipe's reader sees each event as it happens).
        func write(_ line: some StringProtocol) {
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }
}
