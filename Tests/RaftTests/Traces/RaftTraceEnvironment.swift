import CohortTestKit
import CohortCore
@testable import RaftCore

/// Raft cores in memory, driven by the commands of a trace file (see `testdata/*.txt`).
///
/// Every input a node takes — a tick, a message, a proposal — is followed at once by its ready: persisted,
/// applied and printed, then acknowledged with `advance()`. The ready's messages wait in one FIFO queue
/// until `deliver` or `stabilize` hands them over; a message across a partition is dropped, when it is
/// sent or when it is delivered.
///
/// Commands (node names are single words; `a,b` lists several):
/// - `cluster voters=a,b,c [standbys=d] [new=e] [prevote=true] [checkquorum=true] [election=10] [heartbeat=1]`
///   — a bootstrapped group (every founder holds the configuration at 1@1) plus `new` nodes with empty
///   storage, outside the configuration. Node *i* (in that order) seeds its election jitter with *i* + 1.
/// - `campaign a`, `tick a,b [n]` — start an election now; tick the nodes n times (default 1), round by
///   round. Ticks print numbered from the start of the cluster, per node.
/// - `propose a x`, `change a addStandby|promote|demote|remove d`, `read a 7`, `transfer a b`.
/// - `deliver [from=a] [to=b]` — deliver every queued message (or those matching), once; what the
///   receivers send waits for the next delivery. `stabilize` — deliver until nothing is queued.
/// - `quiet` after `tick`, `deliver` or `stabilize` prints only changes of role, term, leader and
///   configuration, refusals and reads: no persisted entries, no messages, no applied entries.
/// - `partition a | b,c` — cut every link between the groups, both ways; `heal` — restore every link.
/// - `status [a]`, `log a` — print a node's state, or its log.
struct RaftTraceEnvironment: TraceEnvironment {
    /// The cores, by name.
    var nodes: [NodeID: RaftNode] = [:]
    /// Every node's name, in the order the cluster was declared.
    var names: [NodeID] = []
    /// Messages sent and not delivered yet, oldest first.
    var queue: [Message] = []
    /// Directed links that drop every message.
    var cut: Set<RaftTraceLink> = []
    /// Ticks each node has had since the cluster started (the `tick` output numbers them so).
    var ticks: [NodeID: Int] = [:]
    /// True while a `quiet` command runs: readies print only their reads.
    var isQuiet = false

    mutating func run(_ command: TraceCommand) throws(TraceError) -> [String] {
        if command.name != "cluster", nodes.isEmpty {
            throw TraceError("`\(command)`: start the file with a `cluster` command")
        }
        isQuiet = ["tick", "deliver", "stabilize"].contains(command.name) && command.words.contains("quiet")
        defer { isQuiet = false }
        switch command.name {
        case "cluster": return try cluster(command)
        case "campaign": return try input(command.node(0, in: self)) { $0.campaign(); return [] }
        case "tick": return try tick(command)
        case "propose": return try propose(command)
        case "change": return try change(command)
        case "read": return try read(command)
        case "transfer": return try transfer(command)
        case "deliver": return try deliver(command)
        case "stabilize": return try stabilize()
        case "partition": return try partition(command)
        case "heal":
            cut = []
            return []
        case "status":
            let selected = command.words.isEmpty ? names : try [command.node(0, in: self)]
            return selected.flatMap { RaftTraceFormat.status(of: nodes[$0]!) }
        case "log": return try RaftTraceFormat.log(of: nodes[command.node(0, in: self)]!)
        default:
            throw TraceError("unknown command `\(command.name)` (see RaftTraceEnvironment for the list)")
        }
    }

    // MARK: Commands

    private mutating func cluster(_ command: TraceCommand) throws(TraceError) -> [String] {
        let voters = Self.list(command.options["voters"]), standbys = Self.list(command.options["standbys"])
        let newcomers = Self.list(command.options["new"])
        guard !voters.isEmpty else { throw TraceError("`\(command)`: needs voters=…") }
        let heartbeat = try command.number("heartbeat", default: 1), election = try command.number("election", default: 10)
        guard election > heartbeat, heartbeat > 0 else { throw TraceError("`\(command)`: needs 0 < heartbeat < election") }
        var settings = RaftNodeSettings(electionTicks: election, heartbeatTicks: heartbeat)
        settings.preVote = try command.flag("prevote", default: true)
        settings.checkQuorum = try command.flag("checkquorum", default: true)
        let configuration = Configuration(voters: voters, standbys: standbys)
        nodes = [:]
        names = voters + standbys + newcomers
        queue = []
        cut = []
        ticks = [:]
        for (index, name) in names.enumerated() {
            var nodeSettings = settings
            nodeSettings.randomSeed = UInt64(index + 1)
            let storage = newcomers.contains(name) ? LogStorage.empty : .bootstrap(configuration)
            nodes[name] = RaftNode(id: name, settings: nodeSettings, storage: storage)
        }
        return names.map { RaftTraceFormat.summary(of: nodes[$0]!) }
    }

    private mutating func tick(_ command: TraceCommand) throws(TraceError) -> [String] {
        let ticking = try command.nodes(0, in: self)
        let rounds = command.words.dropFirst().first { $0 != "quiet" }.map { Int($0) } ?? 1
        guard let rounds, rounds > 0 else { throw TraceError("`\(command)`: the tick count must be a positive number") }
        var lines: [String] = []
        for _ in 1...rounds {
            for name in ticking {
                ticks[name, default: 0] += 1
                let printed = input(name) { $0.tick(); return [] }
                if !printed.isEmpty { lines += ["\(name) tick \(ticks[name]!)"] + printed.map { "  " + $0 } }
            }
        }
        return lines
    }

    private mutating func propose(_ command: TraceCommand) throws(TraceError) -> [String] {
        let data = try command.word(1, "the command to propose")
        return try input(command.node(0, in: self)) { node in
            do {
                try node.propose(Array(data.utf8))
                return []
            } catch {
                return ["\(node.id): proposal refused: \(error)"]
            }
        }
    }

    private mutating func change(_ command: TraceCommand) throws(TraceError) -> [String] {
        let target = try NodeID(command.word(2, "the node the change is about"))
        let change: ConfigurationChange
        switch try command.word(1, "the change (addStandby, promote, demote, remove)") {
        case "addStandby": change = .addStandby(target)
        case "promote": change = .promote(target)
        case "demote": change = .demote(target)
        case "remove": change = .remove(target)
        case let other: throw TraceError("`\(command)`: unknown change \(other)")
        }
        return try input(command.node(0, in: self)) { node in
            do {
                try node.proposeConfigurationChange(change)
                return []
            } catch {
                return ["\(node.id): \(change) refused: \(error)"]
            }
        }
    }

    private mutating func read(_ command: TraceCommand) throws(TraceError) -> [String] {
        guard let context = ReadContext(try command.word(1, "the read's context number")) else {
            throw TraceError("`\(command)`: the read's context must be a number")
        }
        return try input(command.node(0, in: self)) { node in
            do {
                try node.readIndex(context: context)
                return []
            } catch {
                return ["\(node.id): read \(context) refused: \(error)"]
            }
        }
    }

    private mutating func transfer(_ command: TraceCommand) throws(TraceError) -> [String] {
        let target = try command.node(1, in: self)
        return try input(command.node(0, in: self)) { node in
            do {
                try node.transferLeadership(to: target)
                return []
            } catch {
                return ["\(node.id): transfer to \(target) refused: \(error)"]
            }
        }
    }

    private mutating func partition(_ command: TraceCommand) throws(TraceError) -> [String] {
        let groups = command.words.joined(separator: " ").split(separator: "|").map { group in
            group.split(whereSeparator: { $0 == "," || $0 == " " }).map { NodeID(String($0)) }
        }
        guard groups.count >= 2 else { throw TraceError("`\(command)`: write the groups as `a | b,c`") }
        for group in groups {
            for name in group where nodes[name] == nil { throw TraceError("`\(command)`: no node \(name)") }
        }
        for (index, group) in groups.enumerated() {
            for other in groups[(index + 1)...] {
                for left in group {
                    for right in other {
                        cut.insert(RaftTraceLink(from: left, to: right))
                        cut.insert(RaftTraceLink(from: right, to: left))
                    }
                }
            }
        }
        return []
    }

    // MARK: Helpers

    /// Names from a comma-separated option value.
    private static func list(_ value: String?) -> [NodeID] {
        (value ?? "").split(separator: ",").map { NodeID(String($0)) }
    }
}

/// A directed link between two nodes.
struct RaftTraceLink: Hashable, Sendable {
    /// The sender.
    var from: NodeID
    /// The receiver.
    var to: NodeID
}

extension TraceCommand {
    /// The positional word at `index` as a node of `environment`.
    func node(_ index: Int, in environment: RaftTraceEnvironment) throws(TraceError) -> NodeID {
        let name = NodeID(try word(index, "a node name"))
        guard environment.nodes[name] != nil else { throw TraceError("`\(self)`: no node \(name)") }
        return name
    }

    /// The positional word at `index` as a comma-separated list of nodes of `environment`.
    func nodes(_ index: Int, in environment: RaftTraceEnvironment) throws(TraceError) -> [NodeID] {
        let names = try word(index, "node names").split(separator: ",").map { NodeID(String($0)) }
        for name in names where environment.nodes[name] == nil { throw TraceError("`\(self)`: no node \(name)") }
        return names
    }
}
