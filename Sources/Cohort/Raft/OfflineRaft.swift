import CohortCore
import CoordinationCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import RaftCore
import RaftPersistence

/// What `cohortd restore` and `cohortd recover` do to a stopped node's data directory. Each holds the
/// directory's ``DataDirectoryLock`` while it works, so it refuses to run beside a live daemon (and a
/// daemon refuses to start beside it).
public enum OfflineRaft {
    /// The Raft directory of a data directory: `<data_dir>/_sys/raft`.
    public static func raftDirectory(of dataDirectory: String) -> String {
        dataDirectory + "/_sys/raft"
    }

    /// What ``restore(_:dataDirectory:node:)`` wrote.
    public struct RestoreSummary: Sendable, Equatable {
        /// The Raft snapshot's index: new entries (and fencing tokens) start above it.
        public var index: UInt64
        public var keys: UInt64
        public var locks: UInt64
        public var names: UInt64
    }

    /// Prepares the empty `dataDirectory` so that `node` starts as the one voter of a new Raft group whose
    /// state is the archive's: a Raft snapshot at the archive's index (at least 1), term 1, configuration
    /// `[node]`, committed. The group id of the archive's cluster (`_sys:raft_group`) is dropped, so the
    /// restored group's first leader writes a new one. Fresh servers that join are added by the leader's
    /// voter reconciler; the node advertises Raft state, so pristine servers never found a group beside it.
    ///
    /// - Throws: ``OfflineRaftError/notEmpty(path:entries:)`` unless `dataDirectory` is missing or empty,
    ///   ``OfflineRaftError/locked(_:)``, ``OfflineRaftError/archive(_:)``, ``OfflineRaftError/storage(_:)``.
    @discardableResult
    public static func restore(_ archive: SnapshotArchive, dataDirectory: String, node: NodeID) throws(OfflineRaftError) -> RestoreSummary {
        guard !node.rawValue.isEmpty else { throw .badVoters("the node name is empty") }
        try requireEmpty(dataDirectory)
        var state: CoordinationState
        do {
            state = try archive.state()
        } catch {
            throw .archive(error)
        }
        let index = max(archive.index, state.index, 1)
        _ = state.apply(CoordinationCommand(.delete(store: "default", key: RaftMembershipService.Loop.groupKey, condition: .none)), index: state.index)
        let lock = try lock(dataDirectory)
        defer { lock.release() }
        let metadata = SnapshotMetadata(index: index, term: 1, configuration: Configuration(voters: [node]))
        let storage = FileRaftStorage(directory: raftDirectory(of: dataDirectory))
        do {
            try storage.persist(
                snapshot: StoredSnapshot(metadata: metadata, data: state.snapshot()), entries: [],
                hardState: HardState(term: 1, vote: nil, commit: index)
            )
        } catch {
            throw .storage(error)
        }
        return RestoreSummary(index: index, keys: UInt64(state.keys.count), locks: UInt64(state.locks.count), names: UInt64(state.names.count))
    }

    /// What ``recover(dataDirectory:voters:node:)`` found and wrote.
    public struct RecoverSummary: Sendable, Equatable {
        /// The voters and standbys of the configuration in force before.
        public var previous: Configuration
        /// The configuration written.
        public var configuration: Configuration
        /// The new snapshot's position: the last entry the node held.
        public var index: UInt64
        public var term: UInt64
        /// The index the node knew committed before; entries after it were kept too.
        public var previousCommit: UInt64
        /// Log entries applied on top of the stored snapshot.
        public var entriesApplied: Int
        /// True when the node was a blank replica (never admitted since its data was lost): its log may lack
        /// writes the lost group acknowledged.
        public var wasBlank: Bool
        public var keys: UInt64
        public var locks: UInt64
        public var names: UInt64
    }

    /// Offline recovery of a group that lost its quorum for good: the stopped node's log is applied on top
    /// of its snapshot as it stands — every entry it holds, committed or not, as Consul's `peers.json`
    /// recovery does — and a new snapshot at its last entry, with `voters` as the configuration, replaces
    /// the log. The term and vote stay; the commit index becomes that last index.
    ///
    /// Every voter named must hold state: run `recover` with the same `voters` on each of them. A fresh
    /// (blank) server never votes until a leader admitted it, so list only nodes whose data is recovered
    /// (most often the survivor alone) and let fresh servers join through the voter reconciler.
    ///
    /// - Parameter node: this node's name when known; it must be among `voters`.
    /// - Throws: ``OfflineRaftError/badVoters(_:)``, ``OfflineRaftError/noRaftState(path:)``,
    ///   ``OfflineRaftError/locked(_:)``, ``OfflineRaftError/storage(_:)``, ``OfflineRaftError/badSnapshot(_:)``.
    @discardableResult
    public static func recover(dataDirectory: String, voters: [NodeID], node: NodeID?) throws(OfflineRaftError) -> RecoverSummary {
        let configuration = Configuration(voters: voters)
        guard !voters.isEmpty, voters.allSatisfy({ !$0.rawValue.isEmpty }) else { throw .badVoters("name at least one voter; no name may be empty") }
        guard configuration.voters.count == voters.count else { throw .badVoters("a voter is named twice") }
        if let node, !configuration.isVoter(node) {
            throw .badVoters("this node (\(node)) is not among the voters \(voters.map(\.rawValue)): it could never lead the recovered group")
        }
        let directory = raftDirectory(of: dataDirectory)
        guard FileManager.default.fileExists(atPath: directory) else { throw .noRaftState(path: directory) }
        let lock = try lock(dataDirectory)
        defer { lock.release() }
        let storage = FileRaftStorage(directory: directory)
        let stored: LogStorage
        let snapshot: StoredSnapshot?
        do {
            stored = try storage.load()
            snapshot = try storage.latestSnapshot()
        } catch {
            throw .storage(error)
        }
        let last = stored.entries.last?.position ?? stored.snapshot.position
        guard last.index > 0 else { throw .noRaftState(path: directory) }

        var state = CoordinationState()
        if let snapshot {
            do {
                state = try CoordinationState(snapshot: snapshot.data)
            } catch {
                throw .badSnapshot("the stored snapshot \(snapshot.metadata.index) does not decode: \(error)")
            }
        }
        var previous = stored.snapshot.configuration
        for entry in stored.entries {
            switch entry.payload {
            case .command(let bytes): _ = state.apply(encoded: bytes, index: entry.index)
            case .configuration(let configuration): previous = configuration
            case .noop: break
            }
        }
        let metadata = SnapshotMetadata(index: last.index, term: last.term, configuration: configuration)
        let hardState = HardState(term: max(stored.hardState.term, last.term), vote: stored.hardState.vote, commit: last.index)
        do {
            try storage.persist(snapshot: StoredSnapshot(metadata: metadata, data: state.snapshot()), entries: [], hardState: hardState)
        } catch {
            throw .storage(error)
        }
        return RecoverSummary(
            previous: previous, configuration: configuration, index: last.index, term: last.term,
            previousCommit: stored.hardState.commit, entriesApplied: stored.entries.count, wasBlank: stored.hardState.blank,
            keys: UInt64(state.keys.count), locks: UInt64(state.locks.count), names: UInt64(state.names.count)
        )
    }

    /// Refuses a data directory that exists and holds anything (or is not a directory).
    static func requireEmpty(_ dataDirectory: String) throws(OfflineRaftError) {
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: dataDirectory, isDirectory: &isDirectory) else { return }
        guard isDirectory else { throw .notEmpty(path: dataDirectory, entries: ["(it is a file)"]) }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: dataDirectory)) ?? ["(unreadable)"]
        guard entries.isEmpty else { throw .notEmpty(path: dataDirectory, entries: entries.sorted()) }
    }

    /// Takes the lock of `dataDirectory`'s Raft directory (see ``DataDirectoryLock``): what `cohortd` holds
    /// while it runs, and each offline tool while it writes.
    public static func lock(_ dataDirectory: String) throws(OfflineRaftError) -> DataDirectoryLock {
        do {
            return try DataDirectoryLock.acquire(raftDirectory(of: dataDirectory))
        } catch {
            throw .locked(error)
        }
    }
}

/// Why `cohortd restore` or `cohortd recover` refused, or failed.
public enum OfflineRaftError: Error, Equatable, CustomStringConvertible {
    /// Restore goes into an empty data directory only.
    case notEmpty(path: String, entries: [String])
    /// The data directory holds no Raft state to recover.
    case noRaftState(path: String)
    /// The voters named are not a usable configuration.
    case badVoters(String)
    /// A daemon (or another tool) holds the data directory.
    case locked(DataDirectoryLockError)
    /// The snapshot file is not usable.
    case archive(SnapshotArchiveError)
    /// The stored Raft snapshot does not decode.
    case badSnapshot(String)
    /// Raft storage failed.
    case storage(RaftStorageError)

    public var description: String {
        switch self {
        case .notEmpty(let path, let entries):
            "the data directory \(path) is not empty (it holds \(entries.prefix(5).joined(separator: ", "))\(entries.count > 5 ? ", ..." : "")): restore only into an empty one"
        case .noRaftState(let path): "no Raft state to recover in \(path)"
        case .badVoters(let reason): "--voters: \(reason)"
        case .locked(let error): "\(error)"
        case .archive(let error): "\(error)"
        case .badSnapshot(let reason): reason
        case .storage(let error): "\(error)"
        }
    }
}
