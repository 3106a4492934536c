import CohortCore
@testable import Consensus

/// What a simulated node's state machine holds: the commands it applied, in order, through an index.
struct SimulatedStateMachine: Hashable, Sendable {
    var appliedIndex: LogIndex = 0
    var commands: [UInt64] = []
}

/// A snapshot as the simulated shell stores and ships it: the core's metadata and the state machine.
struct SimulatedSnapshot: Hashable, Sendable {
    var metadata: SnapshotMetadata
    var state: SimulatedStateMachine

    static let empty = SimulatedSnapshot(metadata: .empty, state: SimulatedStateMachine())
}

/// What survives a crash: only what the shell wrote and "fsynced" from a completed ``Ready``.
struct SimulatedDisk: Sendable {
    var hardState = HardState()
    var snapshot = SimulatedSnapshot.empty
    var entries: [LogEntry] = []

    var storage: LogStorage {
        LogStorage(hardState: hardState, snapshot: snapshot.metadata, entries: entries, applied: snapshot.metadata.index)
    }
}

/// What travels over the simulated network: an encoded Raft message, and a snapshot's data alongside a
/// snapshot message (the transport's job in the real shell).
struct SimulatedPayload: Sendable {
    /// The encoded message, when the run goes through the codec.
    var bytes: [UInt8]
    /// The message itself, when it does not.
    var message: Message?
    var snapshot: SimulatedSnapshot?
}

/// One simulated node: its core (nil while crashed), its disk and state machine, and the ready whose
/// fsync has not completed yet.
struct RaftSimulationNode: Sendable {
    let id: NodeID
    let index: Int
    var core: RaftNode?
    var disk: SimulatedDisk
    var stateMachine = SimulatedStateMachine()
    /// Handed out by the core, not yet durable: lost on a crash.
    var pending: Ready?
    /// Snapshot data received with a snapshot message, by index, until installed.
    var receivedSnapshots: [LogIndex: SimulatedSnapshot] = [:]
    /// How many times the node started (mixes into its election jitter seed).
    var incarnation: UInt64 = 0
    /// Commit indexes of this node already checked against the committed prefix.
    var checkedCommit: LogIndex = 0

    init(id: NodeID, index: Int, disk: SimulatedDisk) {
        self.id = id
        self.index = index
        self.disk = disk
    }

    /// Builds a fresh core from the disk, as a restarted process would.
    mutating func boot(settings: RaftSettings, seed: UInt64) {
        incarnation += 1
        var settings = settings
        settings.randomSeed = seed &* 1_000_003 &+ UInt64(index) &* 7919 &+ incarnation
        core = RaftNode(id: id, settings: settings, storage: disk.storage)
        stateMachine = disk.snapshot.state
        pending = nil
        receivedSnapshots = [:]
        checkedCommit = disk.snapshot.metadata.index
    }

    mutating func crash() {
        core = nil
        pending = nil
        receivedSnapshots = [:]
    }
}
