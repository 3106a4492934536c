import CohortCore
import CohortTestKit
@testable import RaftCore
@testable import RaftPersistence

/// What a simulated node's state machine holds: the commands it applied, in order, through an index.
struct SimulatedStateMachine: Hashable, Sendable {
    var appliedIndex: LogIndex = 0
    var commands: [UInt64] = []

    /// The snapshot bytes the node stores: applied index u64, count u32, commands u64 each.
    var encoded: [UInt8] {
        var writer = ByteWriter()
        writer.u64(appliedIndex)
        writer.u32(UInt32(commands.count))
        for command in commands { writer.u64(command) }
        return writer.buffer
    }

    init(appliedIndex: LogIndex = 0, commands: [UInt64] = []) {
        self.appliedIndex = appliedIndex
        self.commands = commands
    }

    /// What ``encoded`` wrote, or nil.
    init?(decoding bytes: [UInt8]) {
        var reader = ByteReader(bytes)
        guard let applied = try? reader.u64(), let count = try? reader.u32(), Int(count) * 8 == reader.remaining else { return nil }
        var commands: [UInt64] = []
        for _ in 0..<count {
            guard let command = try? reader.u64() else { return nil }
            commands.append(command)
        }
        self.init(appliedIndex: applied, commands: commands)
    }
}

/// A snapshot as it travels with a snapshot message (the transport's job in the real shell): the core's
/// metadata and the state machine.
struct SimulatedSnapshot: Hashable, Sendable {
    var metadata: SnapshotMetadata
    var state: SimulatedStateMachine

    var stored: StoredSnapshot { StoredSnapshot(metadata: metadata, data: state.encoded) }
}

/// What travels over the simulated network: an encoded Raft message, and a snapshot's data alongside a
/// snapshot message.
struct SimulatedPayload: Sendable {
    /// The encoded message, when the run goes through the codec.
    var bytes: [UInt8]
    /// The message itself, when it does not.
    var message: Message?
    var snapshot: SimulatedSnapshot?
}

/// A ready handed out by the core whose write has not completed: its fsync returns at `completesAt`.
struct PendingReady: Sendable {
    var ready: Ready
    var completesAt: ContinuousClock.Instant
}

/// One simulated node: its core (nil while down), its disk — the real ``FileRaftStorage`` over a
/// ``CrashingFileSystem`` that forgets what was not fsynced — its state machine, the ready being written,
/// and what a paused process has not read yet.
struct RaftSimulationNode: Sendable {
    let id: NodeID
    let index: Int
    var core: RaftNode?
    /// The node's disk (replaced by an empty one when the node's data is wiped).
    var disk: CrashingFileSystem
    var storage: FileRaftStorage
    var stateMachine = SimulatedStateMachine()
    /// The newest snapshot stored, with its data: what this node ships as a leader.
    var currentSnapshot: StoredSnapshot?
    /// Handed out by the core, its write not complete yet: a crash loses it, or part of it.
    var pending: PendingReady?
    /// Snapshot data received with a snapshot message, by index, until installed.
    var receivedSnapshots: [LogIndex: SimulatedSnapshot] = [:]
    /// How many times the node started (mixes into its election jitter seed).
    var incarnation: UInt64 = 0
    /// Commit indexes of this node already checked against the committed prefix.
    var checkedCommit: LogIndex = 0
    /// A paused process (stopped by the OS, a long GC, a VM migration) does nothing until then.
    var pausedUntil: ContinuousClock.Instant?
    /// Messages that arrived while the process was paused, read when it resumes.
    var inbox: [Message] = []
    /// The term of every entry this node's storage holds, by index (what completed writes left there).
    var storedTerms: [LogIndex: Term] = [:]

    static let directory = "/data/_sys/raft"
    /// Small segments, so rollovers, seals and compactions happen in every run.
    static let segmentBytes = 2048

    init(id: NodeID, index: Int, disk: CrashingFileSystem) {
        self.id = id
        self.index = index
        self.disk = disk
        self.storage = FileRaftStorage(directory: Self.directory, fileSystem: disk, segmentBytes: Self.segmentBytes)
    }

    /// Builds a fresh core from the disk, as a restarted process would: storage reopened and recovered.
    mutating func boot(settings: RaftNodeSettings, seed: UInt64) throws(RaftStorageError) {
        incarnation += 1
        var settings = settings
        settings.randomSeed = seed &* 1_000_003 &+ UInt64(index) &* 7919 &+ incarnation
        storage = FileRaftStorage(directory: Self.directory, fileSystem: disk, segmentBytes: Self.segmentBytes)
        let loaded = try storage.load()
        let snapshot = try storage.latestSnapshot()
        guard let state = snapshot.map({ SimulatedStateMachine(decoding: $0.data) }) ?? SimulatedStateMachine() else {
            throw .corrupt(path: Self.directory, reason: "the simulated state machine cannot restore the snapshot")
        }
        core = RaftNode(id: id, settings: settings, storage: loaded)
        storedTerms = Dictionary(uniqueKeysWithValues: loaded.entries.map { ($0.index, $0.term) })
        stateMachine = state
        currentSnapshot = snapshot
        pending = nil
        receivedSnapshots = [:]
        pausedUntil = nil
        inbox = []
        checkedCommit = loaded.snapshot.index
    }

    mutating func crash() {
        core = nil
        pending = nil
        receivedSnapshots = [:]
        pausedUntil = nil
        inbox = []
    }

    /// True while the process is paused at `now`.
    func isPaused(at now: ContinuousClock.Instant) -> Bool {
        pausedUntil.map { now < $0 } ?? false
    }
}
