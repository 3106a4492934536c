@testable import Cohort
import CohortCore
import CoordinationCore
import Foundation
import RaftCore
import RaftPersistence
import Testing

/// The snapshot file format, `cohortd restore` and `cohortd recover` on real directories, and the data
/// directory lock.
@Suite("Snapshot archives, offline restore and recovery, the data directory lock")
struct OfflineRecoveryTests {
    static let holder = PID(node: NodeID("old"), incarnation: Incarnation(7), serial: 3)

    static func command(_ operation: CoordinationCommand.Operation) -> [UInt8] {
        CoordinationCommand(operation, time: 1000).encoded()
    }

    /// Keys in two stores, a group id, a held lock (token 4), a name (token 5).
    static func sampleState() -> CoordinationState {
        var state = CoordinationState()
        let operations: [CoordinationCommand.Operation] = [
            .put(store: "default", key: "a", value: [1], condition: .none, ttl: 0),
            .put(store: "config", key: "b", value: [2], condition: .none, ttl: 0),
            .put(store: "default", key: RaftMembershipService.Loop.groupKey, value: Array("beef".utf8), condition: .absent, ttl: 0),
            .acquireLock(name: "job", holder: holder, wait: 0, lockDelay: 0),
            .registerName(name: "svc", pid: holder),
        ]
        for (offset, operation) in operations.enumerated() {
            _ = state.apply(CoordinationCommand(operation, time: 1000), index: UInt64(offset + 1))
        }
        return state
    }

    static func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-offline-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    // MARK: The file format

    @Test("an archive round-trips: header, counts and the state's bytes")
    func roundTrip() throws {
        let state = Self.sampleState()
        let archive = SnapshotArchive(state: state, term: 3, takenAt: 1234)
        let decoded = try SnapshotArchive(decoding: archive.encoded())
        #expect(decoded == archive)
        #expect(decoded.index == 5 && decoded.term == 3 && decoded.takenAt == 1234)
        #expect(decoded.keys == 3 && decoded.locks == 1 && decoded.names == 1)
        let restored = try decoded.state()
        #expect(restored.lock("job")?.token == 4)
        #expect(restored.name("svc")?.token == 5)
        #expect(restored.value(store: "config", key: "b")?.value == [2])
    }

    @Test("a damaged file is refused, saying how: a flipped bit, a torn tail, an appended byte, another version, not an archive")
    func damagedFiles() throws {
        let bytes = SnapshotArchive(state: Self.sampleState(), term: 1, takenAt: 1).encoded()
        for position in [SnapshotArchive.headerBytes + 3, bytes.count - 1, 12] {
            var flipped = bytes
            flipped[position] ^= 0x01
            #expect(throws: SnapshotArchiveError.self) { try SnapshotArchive(decoding: flipped) }
        }
        var flipped = bytes
        flipped[SnapshotArchive.headerBytes + 3] ^= 0x01
        #expect(throws: SnapshotArchiveError.checksumMismatch) { try SnapshotArchive(decoding: flipped) }
        #expect(throws: SnapshotArchiveError.wrongLength(expected: UInt64(bytes.count), actual: UInt64(bytes.count - 5))) {
            try SnapshotArchive(decoding: Array(bytes.dropLast(5)))
        }
        #expect(throws: SnapshotArchiveError.wrongLength(expected: UInt64(bytes.count), actual: UInt64(bytes.count + 1))) {
            try SnapshotArchive(decoding: bytes + [0])
        }
        var version = bytes
        version[8] = 2
        #expect(throws: SnapshotArchiveError.unsupportedVersion(2)) { try SnapshotArchive(decoding: version) }
        #expect(throws: SnapshotArchiveError.notAnArchive) { try SnapshotArchive(decoding: Array("{\"error\": \"x\"}".utf8)) }
        #expect(throws: SnapshotArchiveError.wrongLength(expected: UInt64(SnapshotArchive.headerBytes + 4), actual: 9)) {
            try SnapshotArchive(decoding: Array(bytes.prefix(9)))
        }
    }

    @Test("the decoder is total on damage: every proper prefix and every single corrupted byte of an archive is refused with a typed error")
    func everyDamageIsRefused() {
        let bytes = SnapshotArchive(state: Self.sampleState(), term: 2, takenAt: 99).encoded()
        for length in 0..<bytes.count {
            #expect(throws: SnapshotArchiveError.self) { try SnapshotArchive(decoding: Array(bytes.prefix(length))) }
        }
        for position in bytes.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = bytes
                damaged[position] ^= mask
                #expect(throws: SnapshotArchiveError.self, "byte \(position) ^ \(mask)") { try SnapshotArchive(decoding: damaged) }
            }
        }
    }

    // MARK: Restore

    @Test("restore writes a committed one-voter snapshot at the archive's index, without the old group id; a Raft core on it leads alone and appends above every fencing token")
    func restoreIntoEmptyDirectory() throws {
        let scratch = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let dataDirectory = scratch + "/data"
        let archive = SnapshotArchive(state: Self.sampleState(), term: 9, takenAt: 1)
        let summary = try OfflineRaft.restore(archive, dataDirectory: dataDirectory, node: NodeID("r1"))
        #expect(summary == OfflineRaft.RestoreSummary(index: 5, keys: 2, locks: 1, names: 1))

        let storage = FileRaftStorage(directory: OfflineRaft.raftDirectory(of: dataDirectory))
        let loaded = try storage.load()
        #expect(loaded.snapshot.index == 5)
        #expect(loaded.snapshot.configuration == Configuration(voters: [NodeID("r1")]))
        #expect(loaded.hardState.commit == 5 && loaded.hardState.term == 1 && !loaded.hardState.blank)
        #expect(!loaded.isPristine)
        let state = try CoordinationState(snapshot: try #require(try storage.latestSnapshot()).data)
        #expect(state.value(store: "default", key: RaftMembershipService.Loop.groupKey) == nil)
        #expect(state.value(store: "default", key: "a")?.value == [1])
        #expect(state.lock("job")?.holder == Self.holder && state.lock("job")?.token == 4)
        #expect(state.name("svc")?.pid == Self.holder && state.name("svc")?.token == 5)
        // The node campaigns and leads alone; the next entry it appends (the token of the next grant) is
        // above every token in the archive.
        let next = try Self.leadAndPropose(NodeID("r1"), loaded)
        #expect(next > archive.index)
    }

    /// Builds a Raft core on `stored` as the shell would, ticks it (bounded) until it leads, and returns
    /// the index of a command it then appends.
    static func leadAndPropose(_ id: NodeID, _ stored: LogStorage) throws -> UInt64 {
        var node = RaftNode(id: id, storage: stored)
        #expect(!node.isBlank)
        for _ in 0..<1000 where node.state != .leader {
            node.tick()
            if node.hasReady {
                _ = node.ready()
                node.advance()
            }
        }
        #expect(node.state == .leader)
        return try node.propose([1])
    }

    @Test("restore refuses a data directory that holds anything, and one a daemon holds, writing nothing")
    func restoreRefusals() throws {
        let scratch = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let archive = SnapshotArchive(state: Self.sampleState(), term: 1, takenAt: 1)
        let used = scratch + "/used"
        try FileManager.default.createDirectory(atPath: used, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: used + "/incarnation", contents: Data("1".utf8)))
        #expect(throws: OfflineRaftError.notEmpty(path: used, entries: ["incarnation"])) {
            try OfflineRaft.restore(archive, dataDirectory: used, node: NodeID("r1"))
        }
        #expect(FileManager.default.fileExists(atPath: used + "/_sys") == false, "nothing written")
        // A file where the data directory should be is refused too; one that does not exist yet is fine.
        let file = scratch + "/file"
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        #expect(throws: OfflineRaftError.notEmpty(path: file, entries: ["(it is a file)"])) {
            try OfflineRaft.requireEmpty(file)
        }
        #expect(throws: Never.self) { try OfflineRaft.requireEmpty(scratch + "/not-yet") }
        let empty = scratch + "/empty"
        let held = try DataDirectoryLock.acquire(OfflineRaft.raftDirectory(of: empty))
        // The lock's own directories exist now, so this one is not empty either: a daemon holds a directory
        // that is in use, and restore refuses both ways.
        #expect(throws: OfflineRaftError.self) { try OfflineRaft.restore(archive, dataDirectory: empty, node: NodeID("r1")) }
        held.release()
        #expect(try FileRaftStorage(directory: OfflineRaft.raftDirectory(of: empty)).load().isPristine)
    }

    // MARK: Recover

    /// A node's Raft directory as a 3-voter group left it: a snapshot at 2 (a key), then entries 3...6
    /// (a lock grant, a configuration change, a no-op, a key) of which only 4 are committed.
    static func lostGroup(_ dataDirectory: String) throws {
        let storage = FileRaftStorage(directory: OfflineRaft.raftDirectory(of: dataDirectory))
        let voters = Configuration(voters: ["a", "b", "c"].map(NodeID.init))
        var state = CoordinationState()
        _ = state.apply(CoordinationCommand(.put(store: "default", key: "early", value: [1], condition: .none, ttl: 0), time: 1000), index: 2)
        try storage.persist(
            snapshot: StoredSnapshot(metadata: SnapshotMetadata(index: 2, term: 1, configuration: voters), data: state.snapshot()),
            entries: [
                LogEntry(term: 2, index: 3, payload: .command(command(.acquireLock(name: "job", holder: holder, wait: 0, lockDelay: 0)))),
                LogEntry(term: 2, index: 4, payload: .configuration(Configuration(voters: voters.voters, standbys: [NodeID("d")]))),
                LogEntry(term: 3, index: 5, payload: .noop),
                LogEntry(term: 3, index: 6, payload: .command(command(.put(store: "config", key: "late", value: [2], condition: .none, ttl: 0)))),
            ],
            hardState: HardState(term: 3, vote: NodeID("b"), commit: 4)
        )
    }

    @Test("recover applies every entry on top of the snapshot and writes a committed snapshot at the last one with exactly the named voters; term and vote stay")
    func recoverRewritesConfiguration() throws {
        let scratch = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Self.lostGroup(scratch)
        let summary = try OfflineRaft.recover(dataDirectory: scratch, voters: [NodeID("a")], node: NodeID("a"))
        #expect(summary.previous == Configuration(voters: ["a", "b", "c"].map(NodeID.init), standbys: [NodeID("d")]))
        #expect(summary.configuration == Configuration(voters: [NodeID("a")]))
        #expect(summary.index == 6 && summary.term == 3 && summary.previousCommit == 4 && summary.entriesApplied == 4)

        let storage = FileRaftStorage(directory: OfflineRaft.raftDirectory(of: scratch))
        let loaded = try storage.load()
        #expect(loaded.snapshot == SnapshotMetadata(index: 6, term: 3, configuration: Configuration(voters: [NodeID("a")])))
        #expect(loaded.entries.isEmpty)
        #expect(loaded.hardState == HardState(term: 3, vote: NodeID("b"), commit: 6))
        let state = try CoordinationState(snapshot: try #require(try storage.latestSnapshot()).data)
        #expect(state.value(store: "default", key: "early")?.value == [1])
        #expect(state.value(store: "config", key: "late")?.value == [2], "an entry past the old commit index is kept")
        #expect(state.lock("job")?.token == 3)
        #expect(state.index == 6)
        #expect(try Self.leadAndPropose(NodeID("a"), loaded) > 6, "the recovered node leads alone and appends above its log")
    }

    @Test("recover refuses: this node not among the voters, a voter named twice, no voters, a directory without Raft state, a locked directory")
    func recoverRefusals() throws {
        let scratch = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Self.lostGroup(scratch)
        #expect(throws: OfflineRaftError.self) { try OfflineRaft.recover(dataDirectory: scratch, voters: [NodeID("b")], node: NodeID("a")) }
        #expect(throws: OfflineRaftError.self) { try OfflineRaft.recover(dataDirectory: scratch, voters: [NodeID("a"), NodeID("a")], node: nil) }
        #expect(throws: OfflineRaftError.self) { try OfflineRaft.recover(dataDirectory: scratch, voters: [], node: nil) }
        #expect(throws: OfflineRaftError.noRaftState(path: scratch + "/none/_sys/raft")) {
            try OfflineRaft.recover(dataDirectory: scratch + "/none", voters: [NodeID("a")], node: nil)
        }
        let held = try DataDirectoryLock.acquire(OfflineRaft.raftDirectory(of: scratch))
        #expect(throws: OfflineRaftError.locked(.held(path: held.path, holder: getpid()))) {
            try OfflineRaft.recover(dataDirectory: scratch, voters: [NodeID("a")], node: NodeID("a"))
        }
        held.release()
        // Nothing changed by the refusals: the old configuration is still the stored one.
        let loaded = try FileRaftStorage(directory: OfflineRaft.raftDirectory(of: scratch)).load()
        #expect(loaded.snapshot.index == 2 && loaded.entries.count == 4)
        #expect(try OfflineRaft.recover(dataDirectory: scratch, voters: [NodeID("a")], node: NodeID("a")).index == 6)
    }

    // MARK: The lock

    @Test("the data directory lock: a second holder is refused naming the first's PID; released, it can be taken again")
    func lockIsExclusive() throws {
        let scratch = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let directory = scratch + "/_sys/raft"
        let first = try DataDirectoryLock.acquire(directory)
        #expect(throws: DataDirectoryLockError.held(path: directory + "/LOCK", holder: getpid())) {
            _ = try DataDirectoryLock.acquire(directory)
        }
        let message = "\(DataDirectoryLockError.held(path: directory + "/LOCK", holder: 42))"
        #expect(message.contains("in use") && message.contains("pid 42"))
        first.release()
        let again = try DataDirectoryLock.acquire(directory)
        again.release()
    }
}
