import CohortCore
import CohortTestKit
@testable import RaftCore
@testable import RaftPersistence
import Testing

extension StorageTests {
    @Suite("FileRaftStorage under crashes")
    struct CrashTests {
        /// What the storage holds, as the tests expect it.
        struct Contents: Equatable, CustomStringConvertible {
            var hardState = HardState()
            var snapshot: StoredSnapshot?
            var entries: [LogEntry] = []

            var snapshotIndex: LogIndex { snapshot?.metadata.index ?? 0 }
            var lastPosition: LogPosition {
                entries.last?.position ?? snapshot?.metadata.position ?? .zero
            }

            var description: String {
                "hard state \(hardState), snapshot \(snapshot.map { "\($0.metadata.position)" } ?? "none"), entries \(entries.first?.index ?? 0)…\(entries.last?.index ?? 0)"
            }
        }

        /// One storage call a Raft shell could make.
        enum Operation {
            case persist(snapshot: StoredSnapshot?, entries: [LogEntry], hardState: HardState?)
            case saveSnapshot(StoredSnapshot)

            func perform(on storage: FileRaftStorage) throws(RaftStorageError) {
                switch self {
                case .persist(let snapshot, let entries, let hardState): try storage.persist(snapshot: snapshot, entries: entries, hardState: hardState)
                case .saveSnapshot(let snapshot): try storage.saveSnapshot(snapshot)
                }
            }

            /// Whether the contract makes the call's commit index durable: its hard state is new and the call
            /// carries a snapshot or entries or a new term or vote. (A hard state that moves only the commit
            /// index may come back lower after a crash.)
            func makesCommitDurable(after before: Contents) -> Bool {
                guard case .persist(let snapshot, let entries, let hardState?) = self, hardState != before.hardState else { return false }
                return snapshot != nil || !entries.isEmpty || hardState.term != before.hardState.term || hardState.vote != before.hardState.vote
            }

            /// The contents after the call, and how many of the entries before it must survive a crash
            /// during it.
            func applied(to before: Contents) -> (after: Contents, survivors: Int) {
                var after = before
                switch self {
                case .persist(let snapshot, let entries, let hardState):
                    if let snapshot {
                        after.snapshot = snapshot
                        after.entries = []
                    }
                    let fresh = entries.filter { $0.index > after.snapshotIndex }
                    if let first = fresh.first { after.entries.removeAll { $0.index >= first.index } }
                    after.entries += fresh
                    if let hardState { after.hardState = hardState }
                    // Until an installed snapshot is durable nothing else of the call has happened. Entries
                    // stored with the same index and term as given ones are the same entries: they survive
                    // any crash during the call (storage never cuts and rewrites them), not only those
                    // before the first given index.
                    let same = fresh.prefix { entry in before.entries.contains { $0.position == entry.position } }
                    let firstReplaced = fresh.dropFirst(same.count).first?.index ?? (fresh.last.map { $0.index + 1 } ?? .max)
                    let survivors = snapshot != nil ? before.entries.count : before.entries.count { $0.index < firstReplaced }
                    return (after, survivors)
                case .saveSnapshot(let snapshot):
                    after.snapshot = snapshot
                    after.entries.removeAll { $0.index <= snapshot.metadata.index }
                    return (after, before.entries.count)
                }
            }
        }

        static func randomOperation(after contents: Contents, using generator: inout SplitMix64) -> Operation {
            let last = contents.lastPosition
            let term = max(contents.hardState.term, last.term, 1)
            func entries(from first: LogIndex, term: Term) -> [LogEntry] {
                (first..<first + LogIndex.random(in: 1...6, using: &generator)).map { index in
                    let size = Int.random(in: 0...300, using: &generator)
                    let payload: LogEntry.Payload = Int.random(in: 0..<10, using: &generator) == 0
                        ? .noop
                        : .command((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
                    return LogEntry(term: term, index: index, payload: payload)
                }
            }
            func snapshot(_ position: LogPosition) -> StoredSnapshot {
                StoredSnapshot(
                    metadata: SnapshotMetadata(index: position.index, term: position.term, configuration: StorageFixtures.configuration),
                    data: (0..<Int.random(in: 0...500, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                )
            }
            switch Int.random(in: 0..<26, using: &generator) {
            case 23..<26 where last.index > max(contents.snapshotIndex + 1, contents.hardState.commit):
                // A new leader's append that repeats entries this node holds (committed ones among them)
                // and replaces what follows: the repeated prefix must never be cut, even for a moment.
                let firstReplaced = LogIndex.random(in: max(contents.snapshotIndex + 1, contents.hardState.commit) + 1...last.index, using: &generator)
                let firstRepeated = LogIndex.random(in: contents.snapshotIndex + 1...firstReplaced - 1, using: &generator)
                let repeated = contents.entries.filter { $0.index >= firstRepeated && $0.index < firstReplaced }
                return .persist(snapshot: nil, entries: repeated + entries(from: firstReplaced, term: term + 1),
                                hardState: HardState(term: term + 1, vote: NodeID("d"), commit: contents.hardState.commit))
            case 0..<10:
                let appended = entries(from: last.index + 1, term: term)
                let commit = LogIndex.random(in: contents.hardState.commit...appended.last!.index, using: &generator)
                return .persist(snapshot: nil, entries: appended,
                                hardState: Bool.random(using: &generator) ? HardState(term: term, commit: commit) : nil)
            case 10..<14 where last.index > max(contents.snapshotIndex, contents.hardState.commit):
                // Raft only ever replaces uncommitted entries.
                let first = LogIndex.random(in: max(contents.snapshotIndex, contents.hardState.commit) + 1...last.index, using: &generator)
                return .persist(snapshot: nil, entries: entries(from: first, term: term + 1),
                                hardState: HardState(term: term + 1, vote: NodeID("b"), commit: contents.hardState.commit))
            case 14..<16:
                return .persist(snapshot: nil, entries: [], hardState: HardState(term: term + 1, vote: NodeID("c"), commit: contents.hardState.commit))
            case 16..<19 where contents.hardState.commit > contents.snapshotIndex:
                // The application snapshots what it applied, so only committed entries.
                let index = LogIndex.random(in: contents.snapshotIndex + 1...contents.hardState.commit, using: &generator)
                let entryTerm = contents.entries.first { $0.index == index }!.term
                return .saveSnapshot(snapshot(LogPosition(term: entryTerm, index: index)))
            case 19..<22 where contents.hardState.commit < last.index:
                // The commit index moves on its own: a leader learns a quorum has an entry, a follower
                // hears the leader's commit index.
                var moved = contents.hardState
                moved.commit = LogIndex.random(in: moved.commit + 1...last.index, using: &generator)
                return .persist(snapshot: nil, entries: [], hardState: moved)
            default:
                let installed = snapshot(LogPosition(term: term + 1, index: last.index + LogIndex.random(in: 1...10, using: &generator)))
                let following = Bool.random(using: &generator) ? entries(from: installed.metadata.index + 1, term: term + 1) : []
                return .persist(snapshot: installed, entries: following, hardState: HardState(term: term + 1, commit: installed.metadata.index))
            }
        }

        /// Whether `found` is `expected` but for a commit index that went back no lower than
        /// `durableCommit`: what a reload may show after acknowledged calls that moved only the commit.
        static func matches(_ found: Contents, _ expected: Contents, durableCommit: LogIndex) -> Bool {
            var relaxed = found
            relaxed.hardState.commit = expected.hardState.commit
            return relaxed == expected && (durableCommit...max(durableCommit, expected.hardState.commit)).contains(found.hardState.commit)
        }

        /// Checks what a reload after a crash during `operation` found: everything acknowledged before
        /// it (the commit index no lower than `durableCommit`), and each part of the call either not done
        /// or done, in the order the contract gives.
        static func check(_ found: Contents, before: Contents, after: Contents, survivors: Int, operation: Operation, durableCommit: LogIndex) {
            let earlierHardState = found.hardState.term == before.hardState.term && found.hardState.vote == before.hardState.vote
                && (durableCommit...max(durableCommit, before.hardState.commit)).contains(found.hardState.commit)
            #expect(found.hardState == after.hardState || earlierHardState, "hard state: \(found), before \(before), after \(after), durable commit \(durableCommit)")
            #expect(found.snapshot == before.snapshot || found.snapshot == after.snapshot, "snapshot: \(found)")
            let expectedFirst = found.snapshotIndex + 1
            #expect(found.entries.enumerated().allSatisfy { $0.element.index == expectedFirst + LogIndex($0.offset) }, "entries not consecutive: \(found)")
            if found.hardState == after.hardState && after.hardState != before.hardState {
                #expect(found.entries == after.entries && found.snapshot == after.snapshot, "hard state written before the log: \(found)")
            }
            func isPrefix(of log: [LogEntry], atLeast count: Int) -> Bool {
                found.entries.count >= count && Array(log.prefix(found.entries.count)) == found.entries
            }
            switch operation {
            case .persist(let snapshot, _, _) where snapshot != nil && found.snapshot == after.snapshot && after.snapshot != before.snapshot:
                #expect(isPrefix(of: after.entries, atLeast: 0), "entries after an installed snapshot: \(found)")
            case .saveSnapshot where found.snapshot == after.snapshot && after.snapshot != before.snapshot:
                #expect(found.entries == after.entries, "entries after a compaction: \(found)")
            default:
                #expect(isPrefix(of: before.entries, atLeast: survivors) || isPrefix(of: after.entries, atLeast: survivors),
                        "entries lost or mixed: \(found), before \(before), after \(after)")
            }
        }

        @Test("a crash at any point never loses an acknowledged write nor shows a half-written one", arguments: 0..<60)
        func crashLoop(seed: UInt64) async throws {
            var generator = SplitMix64(seed: seed)
            let disk = CrashingFileSystem()
            let segmentBytes = [256, 2048, FileRaftStorage.defaultSegmentBytes][Int(seed % 3)]
            func open() -> FileRaftStorage { FileRaftStorage(directory: "/data/raft", fileSystem: disk, segmentBytes: segmentBytes) }
            var storage = open()
            #expect(try storage.load() == .empty)
            var contents = Contents()
            // The lowest commit index a reload may show: calls that moved only the commit index may be lost.
            var durableCommit: LogIndex = 0
            var crashes = 0
            for _ in 0..<200 {
                await Task.yield()  // seconds of synchronous work per seed: other pool jobs go between steps
                let operation = Self.randomOperation(after: contents, using: &generator)
                let (after, survivors) = operation.applied(to: contents)
                let crashesDuring = Int.random(in: 0..<3, using: &generator) == 0
                if crashesDuring { disk.crash(afterOperations: Int.random(in: 0..<14, using: &generator)) }
                var acknowledged = true
                do {
                    try operation.perform(on: storage)
                } catch {
                    guard crashesDuring else { throw error }
                    acknowledged = false
                }
                let before = contents
                if acknowledged {
                    if operation.makesCommitDurable(after: before) { durableCommit = after.hardState.commit }
                    contents = after
                }
                guard crashesDuring || Int.random(in: 0..<8, using: &generator) == 0 else { continue }

                crashes += 1
                disk.powerLoss(using: &generator)
                storage = open()
                let loaded = try storage.load()
                let found = Contents(hardState: loaded.hardState, snapshot: try storage.latestSnapshot(), entries: loaded.entries)
                #expect(loaded.snapshot == (found.snapshot?.metadata ?? .empty))
                if acknowledged {
                    #expect(Self.matches(found, contents, durableCommit: durableCommit),
                            "seed \(seed): acknowledged \(contents) (commit durable through \(durableCommit)), found \(found)")
                } else {
                    Self.check(found, before: before, after: after, survivors: survivors, operation: operation, durableCommit: durableCommit)
                }
                contents = found
                durableCommit = found.hardState.commit
            }
            #expect(crashes > 40)
        }
    }
}
