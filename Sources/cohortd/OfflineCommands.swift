import ArgumentParser
import Cohort
import CohortConfig
import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Observability

/// Where an offline tool works: `--data-dir` and `--name`, or what `--config` resolves them to (the
/// options given win over the file).
struct OfflineTarget: ParsableArguments {
    @Option(name: .long, help: "The node's configuration file: its cluster.raft.data_dir and cluster.name.")
    var config: String?

    @Option(name: .long, help: "The node's data directory (cluster.raft.data_dir).")
    var dataDir: String?

    @Option(name: .long, help: "The node's name (cluster.name).")
    var name: String?

    @Flag(name: .long, help: "Print JSON for scripts instead of text.")
    var json = false

    /// The data directory and the node name (nil when neither `--name` nor `--config` gives one).
    func resolve() throws -> (dataDirectory: String, node: NodeID?) {
        var dataDirectory = dataDir
        var node = name.map(NodeID.init)
        if let config {
            let settings: CohortSettings
            do {
                settings = try ConfigLoader.system().load(path: config)
            } catch {
                refuse("configuration error: \(error)")
            }
            dataDirectory = dataDirectory ?? settings.cluster.raft.resolvedDataDirectory
            node = node ?? settings.cluster.nodeID
        }
        guard let dataDirectory, !dataDirectory.isEmpty else { throw ValidationError("name the data directory: --data-dir DIR or --config FILE") }
        return (dataDirectory, node)
    }
}

/// Writes `cohortd: <message>` to standard error and exits 2: the tool refused and changed nothing.
func refuse(_ message: String) -> Never {
    StandardError.write("cohortd: \(message)")
    CohortDaemon.exit(withError: ExitCode(2))
}

/// Exits for a failed `restore` or `recover`: 1 when storage failed, 2 (refused) for anything else.
func failOffline(_ error: OfflineRaftError) -> Never {
    guard case .storage = error else { refuse("\(error)") }
    StandardError.write("cohortd: \(error)")
    CohortDaemon.exit(withError: ExitCode(1))
}

/// Prints `value` as sorted JSON.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// `cohortd restore`: prepares an empty data directory from a `cohort snapshot save` file.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Prepare an empty data directory from a snapshot file: the node starts as the one voter of a new group holding that state.",
        discussion: """
            Run it with the node stopped, on an empty (or missing) data directory. Then start the node: it leads a
            one-voter Raft group holding every store, lock and name of the snapshot (fencing tokens continue above
            the snapshot's index), under a new group id. Fresh servers that join it are added by its voter
            reconciler; they never found a group of their own beside it, since it advertises Raft state.
            Exit codes: 0 restored, 1 storage failure, 2 refused (a bad or damaged file, a data directory that is
            not empty or is in use, no node name).
            """
    )

    @OptionGroup var target: OfflineTarget

    @Argument(help: "The snapshot file `cohort snapshot save` wrote.")
    var file: String

    struct Report: Encodable {
        var dataDir: String
        var node: String
        var index: UInt64
        var sourceTerm: UInt64
        var keys: UInt64
        var locks: UInt64
        var names: UInt64

        enum CodingKeys: String, CodingKey {
            case node, index, keys, locks, names
            case dataDir = "data_dir"
            case sourceTerm = "source_term"
        }
    }

    func run() async throws {
        let (dataDirectory, node) = try target.resolve()
        guard let node else { throw ValidationError("name the node: --name NAME or --config FILE (it becomes the group's one voter)") }
        guard let data = FileManager.default.contents(atPath: file) else { refuse("cannot read the snapshot file \(file)") }
        let archive: SnapshotArchive
        do {
            archive = try SnapshotArchive(decoding: Array(data))
        } catch {
            refuse("\(file): \(error)")
        }
        let summary: OfflineRaft.RestoreSummary
        do {
            summary = try OfflineRaft.restore(archive, dataDirectory: dataDirectory, node: node)
        } catch {
            failOffline(error)
        }
        if target.json {
            return try printJSON(Report(
                dataDir: dataDirectory, node: node.rawValue, index: summary.index, sourceTerm: archive.term,
                keys: summary.keys, locks: summary.locks, names: summary.names
            ))
        }
        print("restored \(file) into \(dataDirectory)")
        print("  node    \(node) (the one voter of a new Raft group)")
        print("  index   \(summary.index) (new writes and fencing tokens start above it)")
        print("  state   keys \(summary.keys), locks \(summary.locks), names \(summary.names)")
        print("start the node on this data directory; servers that join it are added by its voter reconciler")
    }
}

/// `cohortd recover`: offline recovery of a Raft group that lost its quorum for good.
struct Recover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Rewrite a stopped node's Raft configuration to the named voters, after its group lost its quorum for good.",
        discussion: """
            Consul's peers.json, offline: the node's log is applied on top of its snapshot (every entry it holds,
            committed or not) and replaced by a snapshot at its last entry whose configuration is exactly --voters.
            Run it with the node stopped (a running node holds its data directory's lock: refused). Name only nodes
            whose data you recover this way, with the same --voters on each; most often the survivor alone. A fresh
            server never votes before a leader admits it: start fresh servers afterwards and the recovered leader's
            voter reconciler adds them.
            Exit codes: 0 recovered, 1 storage failure, 2 refused (the node is running, no Raft state, bad --voters).
            """
    )

    @OptionGroup var target: OfflineTarget

    @Option(name: .long, help: "The voters of the recovered group: node names, comma-separated (this node among them).")
    var voters: String

    struct Report: Encodable {
        var dataDir: String
        var previousVoters: [String]
        var previousStandbys: [String]
        var voters: [String]
        var index: UInt64
        var term: UInt64
        var previousCommit: UInt64
        var entriesApplied: Int
        var wasBlank: Bool
        var keys: UInt64
        var locks: UInt64
        var names: UInt64

        enum CodingKeys: String, CodingKey {
            case voters, index, term, keys, locks, names
            case dataDir = "data_dir"
            case previousVoters = "previous_voters"
            case previousStandbys = "previous_standbys"
            case previousCommit = "previous_commit"
            case entriesApplied = "entries_applied"
            case wasBlank = "was_blank"
        }
    }

    func run() async throws {
        let (dataDirectory, node) = try target.resolve()
        let names = voters.split(separator: ",", omittingEmptySubsequences: false).map { NodeID($0.trimmingWhitespace()) }
        let summary: OfflineRaft.RecoverSummary
        do {
            summary = try OfflineRaft.recover(dataDirectory: dataDirectory, voters: names, node: node)
        } catch {
            failOffline(error)
        }
        if target.json {
            return try printJSON(Report(
                dataDir: dataDirectory, previousVoters: summary.previous.voters.map(\.rawValue),
                previousStandbys: summary.previous.standbys.map(\.rawValue), voters: summary.configuration.voters.map(\.rawValue),
                index: summary.index, term: summary.term, previousCommit: summary.previousCommit,
                entriesApplied: summary.entriesApplied, wasBlank: summary.wasBlank,
                keys: summary.keys, locks: summary.locks, names: summary.names
            ))
        }
        print("recovered \(dataDirectory)")
        print("  voters  \(summary.configuration.voters.map(\.rawValue).joined(separator: ",")) (were \(summary.previous.voters.map(\.rawValue).joined(separator: ","))"
            + (summary.previous.standbys.isEmpty ? "" : "; standbys \(summary.previous.standbys.map(\.rawValue).joined(separator: ","))") + ")")
        print("  index   \(summary.index) term \(summary.term) (was committed through \(summary.previousCommit); \(summary.entriesApplied) log entries applied)")
        print("  state   keys \(summary.keys), locks \(summary.locks), names \(summary.names)")
        if summary.wasBlank {
            print("warning: this node was a blank replica (never admitted since its data was lost): it may lack writes the old group acknowledged")
        }
        if summary.configuration.voters.count > 1 {
            print("run the same recover on each other voter named before starting them; a fresh server never votes before a leader admits it")
        }
        print("start the node: it leads once a majority of the voters named is up")
    }
}
