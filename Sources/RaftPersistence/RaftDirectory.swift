import RaftCore
/// What ``FileRaftStorage`` knows of its directory between calls, and the writes that change it. The
/// entries themselves stay on disk; only each entry record's end offset and term are kept.
struct RaftDirectory: Sendable {
    /// One log file: `log-<firstIndex>.seg`.
    struct Segment: Sendable {
        var name: String
        var firstIndex: LogIndex
        /// The term of the entry before `firstIndex` (the previous segment's last, or the snapshot's).
        var previousTerm: Term
        /// The layout of its records: ``StorageFormat/version``, or ``StorageFormat/legacyVersion`` for a
        /// segment an older release wrote (read, never appended to).
        var version = StorageFormat.version
        /// The byte offset after each entry record.
        var recordEnds: [Int] = []
        /// The term of each entry record.
        var terms: [Term] = []
        /// The file's length: the header, entry records and hard-state records.
        var size = StorageFormat.segmentHeaderBytes

        var lastIndex: LogIndex { firstIndex + LogIndex(terms.count) - 1 }
        var previousPosition: LogPosition { LogPosition(term: previousTerm, index: firstIndex - 1) }
        var lastPosition: LogPosition { LogPosition(term: terms.last ?? previousTerm, index: lastIndex) }

        func term(at index: LogIndex) -> Term? {
            guard index >= firstIndex, index <= lastIndex else { return nil }
            return terms[Int(index - firstIndex)]
        }
    }

    /// Bytes for the last segment that one call has not written yet.
    private struct PendingWrite {
        var bytes: [UInt8] = []
        /// Where this write's marker sits in `bytes` (its length and sync flag are filled in on flush).
        var markerOffset: Int?
        /// The bytes start with the header of a segment that does not exist yet.
        var createsFile = false
        /// A segment was created and the directory not fsynced since.
        var createdName = false
    }

    static let hardStateName = "hardstate"

    let path: String
    let fileSystem: any RaftFileSystem
    let segmentBytes: Int
    /// False until the directory was scanned, and again after a failed call.
    var isRecovered = false
    /// The newest hard state: the last hard-state record of the log, or the `hardstate` file's when that is
    /// newer (after a checkpoint).
    var hardState = StoredHardState()
    /// The sequence number of the hard state in the `hardstate` file; nil while there is no file.
    var checkpointSequence: UInt64?
    /// Snapshot files, oldest first (at most two once a write completed).
    var snapshots: [SnapshotMetadata] = []
    var segments: [Segment] = []
    /// The position before the first stored entry while there is no segment.
    var emptyLogPosition = LogPosition.zero

    var snapshotPosition: LogPosition { snapshots.last?.position ?? .zero }
    var lastPosition: LogPosition { segments.last?.lastPosition ?? emptyLogPosition }

    func filePath(_ name: String) -> String { path + "/" + name }

    mutating func recoverIfNeeded() throws(RaftStorageError) {
        if !isRecovered { _ = try recover() }
    }

    // MARK: Hard state

    /// Copies the hard state into the `hardstate` file (temporary file, fsync, rename, directory fsync)
    /// unless the file holds it already. Called before the records that may hold the newest hard state
    /// are cut or removed (a suffix replacement, the removal of the last segment), so that no crash in
    /// between can lose an acknowledged term or vote.
    mutating func checkpointHardState() throws(RaftStorageError) {
        guard checkpointSequence != hardState.sequence, checkpointSequence != nil || hardState != StoredHardState() else { return }
        try writeAtomically(StorageFormat.encode(hardState), name: Self.hardStateName)
        checkpointSequence = hardState.sequence
    }

    // MARK: Entries and hard-state records

    /// Whether ``append(_:hardState:forceSync:)`` of `newHardState` alone is one write without an fsync:
    /// the storage is recovered, its last segment is of the current format, and only the commit index moves.
    func canAppendCommitWithoutSync(_ newHardState: HardState) -> Bool {
        let stored = hardState.hardState
        guard isRecovered, let last = segments.last, last.version == StorageFormat.version else { return false }
        return newHardState.term == stored.term && newHardState.vote == stored.vote && newHardState.commit != stored.commit
    }

    /// Appends `entries` (first cutting every stored entry from the first one's index on, except a prefix
    /// that is already stored with the same terms; entries the newest snapshot covers are skipped), then `newHardState` as a record when it differs from the
    /// stored one: one write and one fsync of the last segment. The fsync is skipped only when all the
    /// call wrote is a hard state that moved nothing but the commit index (no entries given, same term and
    /// vote, no segment created, `forceSync` false): a crash may then lose that record, and the commit
    /// index comes back lower, never higher (every record follows the entries its commit index names).
    mutating func append(_ entries: [LogEntry], hardState newHardState: HardState?, forceSync: Bool) throws(RaftStorageError) {
        var fresh = entries[...]
        if let first = entries.first {
            try checkConsecutive(entries)
            let last = lastPosition.index
            guard first.index <= last + 1 else { throw .gap(expected: last + 1, got: first.index) }
            fresh = entries.drop { $0.index <= snapshotPosition.index }
            // An entry stored with the same index and term is the same entry (log matching), and may be one
            // this node acknowledged: it is kept, never cut and written again (a crash in between would
            // lose it). Only the first entry that differs starts the replacement.
            fresh = fresh.drop { storedTerm(at: $0.index) == $0.term }
            let cut = fresh.first?.index ?? entries[entries.count - 1].index + 1
            if cut <= last, cut > snapshotPosition.index { try truncate(from: cut) }
        }
        let changed = newHardState.flatMap { $0 != hardState.hardState ? $0 : nil }
        guard !fresh.isEmpty || changed != nil else { return }

        var pending = PendingWrite()
        for entry in fresh {
            if needsNewSegment(forEntry: true) { try startSegment(firstIndex: entry.index, &pending) }
            add(StorageFormat.record(entry), entryTerm: entry.term, to: &pending)
        }
        var mustSync = forceSync || !fresh.isEmpty
        if let changed {
            if needsNewSegment(forEntry: false) { try startSegment(firstIndex: lastPosition.index + 1, &pending) }
            mustSync = mustSync || changed.term != hardState.hardState.term || changed.vote != hardState.hardState.vote
            hardState = StoredHardState(hardState: changed, sequence: hardState.sequence + 1)
            add(StorageFormat.record(hardState), entryTerm: nil, to: &pending)
        }
        guard let current = segments.last else { return }
        let createdName = pending.createdName
        try flush(&pending, to: current.name, synced: mustSync || createdName)
        if mustSync || createdName {
            try fileSystem.sync(filePath(current.name))
            try markSynced(current.name)
        }
        if createdName { try fileSystem.syncDirectory(path) }
    }

    /// The term of the stored entry at `index`, or nil when no segment holds it.
    func storedTerm(at index: LogIndex) -> Term? {
        for segment in segments.reversed() where segment.firstIndex <= index { return segment.term(at: index) }
        return nil
    }

    /// Whether the next record needs a segment of its own: there is none, the last is a legacy one, or
    /// (for an entry) the last is full. A segment without entries is never sealed: its successor would
    /// take its name.
    private func needsNewSegment(forEntry: Bool) -> Bool {
        guard let last = segments.last else { return true }
        if last.version != StorageFormat.version { return true }
        return forEntry && last.size >= segmentBytes && !last.terms.isEmpty
    }

    /// Seals the last segment (writes and fsyncs what it still lacks, then fsyncs the directory if the
    /// call created it, so a later segment never outlives it) and starts one at `firstIndex` whose first
    /// record repeats the current hard state: the newest hard state is always in the last segment or in
    /// the `hardstate` file, whichever older segments compaction removes.
    private mutating func startSegment(firstIndex: LogIndex, _ pending: inout PendingWrite) throws(RaftStorageError) {
        if let sealed = segments.last {
            if sealed.version != StorageFormat.version && sealed.terms.isEmpty {
                // An older version's segment without entries (its header, maybe hard states): the new one
                // takes its name (removing the last segment checkpoints the hard state first).
                if segments.count == 1 { emptyLogPosition = sealed.previousPosition }
                try removeSegments(1)
            } else {
                // Synced, but without a synced record: the next segment is the proof (and a sealed segment
                // must not end in a record a crash could tear).
                try flush(&pending, to: sealed.name, synced: true)
                try fileSystem.sync(filePath(sealed.name))
            }
        }
        if pending.createdName { try fileSystem.syncDirectory(path) }
        let previous = lastPosition
        segments.append(Segment(name: Self.segmentName(firstIndex: firstIndex), firstIndex: firstIndex, previousTerm: previous.term))
        pending = PendingWrite(bytes: StorageFormat.segmentHeader(firstIndex: firstIndex, previousTerm: previous.term), createsFile: true, createdName: true)
        add(StorageFormat.record(hardState), entryTerm: nil, to: &pending)
    }

    /// Adds a record to the last segment: to `pending` and to what is known of the segment. The first
    /// record of a write is preceded by the write's marker (filled in by ``flush(_:to:synced:)``).
    private mutating func add(_ record: [UInt8], entryTerm: Term?, to pending: inout PendingWrite) {
        let last = segments.count - 1
        if pending.markerOffset == nil {
            pending.markerOffset = pending.bytes.count
            pending.bytes += StorageFormat.writeMarker(length: 0, synced: false)
            segments[last].size += StorageFormat.writeMarkerBytes
        }
        pending.bytes += record
        segments[last].size += record.count
        if let entryTerm {
            segments[last].recordEnds.append(segments[last].size)
            segments[last].terms.append(entryTerm)
        }
    }

    /// Appends the synced record to segment `name` once its last write's fsync returned (not synced itself:
    /// the next write's fsync makes it durable; until then a crash may lose it, and with it only the proof).
    private mutating func markSynced(_ name: String) throws(RaftStorageError) {
        try fileSystem.append(StorageFormat.syncedRecord, to: filePath(name))
        guard let index = segments.lastIndex(where: { $0.name == name }) else { return }
        segments[index].size += StorageFormat.syncedRecord.count
    }

    /// Writes `pending` to the segment `name`, its marker saying how many bytes of records follow and
    /// whether the caller fsyncs them before returning.
    private func flush(_ pending: inout PendingWrite, to name: String, synced: Bool) throws(RaftStorageError) {
        guard !pending.bytes.isEmpty else { return }
        if let marker = pending.markerOffset {
            let body = marker + StorageFormat.writeMarkerBytes
            pending.bytes.replaceSubrange(marker..<body, with: StorageFormat.writeMarker(length: pending.bytes.count - body, synced: synced))
            pending.markerOffset = nil
        }
        if pending.createsFile {
            try fileSystem.write(pending.bytes, to: filePath(name))
        } else {
            try fileSystem.append(pending.bytes, to: filePath(name))
        }
        pending.bytes = []
        pending.createsFile = false
    }

    /// Removes every stored entry from `index` on: later segments newest first (so a crash leaves a prefix
    /// of the old log), then the rest of the segment holding `index`. The hard-state records among them go
    /// too, so the hard state is checkpointed first.
    private mutating func truncate(from index: LogIndex) throws(RaftStorageError) {
        let later = segments.count - segments.prefix { $0.firstIndex < index }.count
        if later == segments.count, let first = segments.first { emptyLogPosition = first.previousPosition }
        try removeSegments(later)
        guard var segment = segments.last, segment.lastIndex >= index else { return }
        try checkpointHardState()
        let kept = Int(index - segment.firstIndex)
        let end = kept == 0 ? StorageFormat.segmentHeaderBytes : segment.recordEnds[kept - 1]
        try fileSystem.truncate(filePath(segment.name), to: end)
        try fileSystem.sync(filePath(segment.name))
        segment.recordEnds.removeSubrange(kept...)
        segment.terms.removeSubrange(kept...)
        segment.size = end
        segments[segments.count - 1] = segment
    }

    // MARK: Snapshots

    /// A snapshot from a leader: it replaces the whole log.
    mutating func install(_ snapshot: StoredSnapshot) throws(RaftStorageError) {
        try writeSnapshotFile(snapshot)
        // After the snapshot is durable, so a crash in between leaves old segments that recovery discards
        // because they do not reach the snapshot's position. Removing the last segment checkpoints the
        // hard state first.
        try removeSegments(segments.count)
        emptyLogPosition = snapshot.metadata.position
    }

    /// A snapshot the application took, whose file was written and synced at `temporary` (a `.tmp` name:
    /// recovery removes it) without this directory's lock (``FileRaftStorage/saveSnapshot(_:keepingEntriesAfter:)``):
    /// renamed into place, the directory synced, recorded; then entries through its index are no longer
    /// needed, but the segments holding any after `keepingEntriesAfter` stay (the core's trailing entries,
    /// read back by ``SegmentReader``; recovery drops them, as the next start begins at the snapshot). When a
    /// snapshot at or after it is already in place, the file is removed instead.
    mutating func adoptSnapshotFile(
        _ temporary: String, _ metadata: SnapshotMetadata, keepingEntriesAfter: LogIndex
    ) throws(RaftStorageError) {
        guard metadata.index > snapshotPosition.index else { return try fileSystem.remove(temporary) }
        try fileSystem.rename(temporary, to: filePath(Self.snapshotName(metadata)))
        try fileSystem.syncDirectory(path)
        try recordSnapshotFile(metadata)
        try removeSegments(coveredBy: metadata, keepingEntriesAfter: keepingEntriesAfter)
    }

    /// Removes the segments whose entries `snapshot` covers, keeping those after `keepingEntriesAfter`.
    private mutating func removeSegments(coveredBy snapshot: SnapshotMetadata, keepingEntriesAfter: LogIndex) throws(RaftStorageError) {
        let cut = min(keepingEntriesAfter, snapshot.index)
        let covered = segments.prefix { $0.lastIndex <= cut }.count
        try removeSegments(covered, oldestFirst: true)
        if segments.isEmpty { emptyLogPosition = snapshot.position }
    }

    func newestSnapshot() throws(RaftStorageError) -> StoredSnapshot? {
        guard let newest = snapshots.last else { return nil }
        let name = Self.snapshotName(newest)
        let bytes = try fileSystem.read(filePath(name))
        guard let snapshot = StorageFormat.decodeSnapshot(bytes), snapshot.metadata.position == newest.position else {
            throw .corrupt(path: filePath(name), reason: "snapshot fails its checksum")
        }
        return snapshot
    }

    private mutating func writeSnapshotFile(_ snapshot: StoredSnapshot) throws(RaftStorageError) {
        try writeAtomically(StorageFormat.encode(snapshot), name: Self.snapshotName(snapshot.metadata))
        try recordSnapshotFile(snapshot.metadata)
    }

    /// Records a snapshot file now in place and removes all but the newest two.
    private mutating func recordSnapshotFile(_ metadata: SnapshotMetadata) throws(RaftStorageError) {
        snapshots.removeAll { $0.position == metadata.position }
        snapshots.append(metadata)
        snapshots.sort { ($0.index, $0.term) < ($1.index, $1.term) }
        var removed = false
        while snapshots.count > 2 {
            try fileSystem.remove(filePath(Self.snapshotName(snapshots.removeFirst())))
            removed = true
        }
        if removed { try fileSystem.syncDirectory(path) }
    }

    /// Removes `count` segments, newest first unless `oldestFirst`, syncing the directory after each: file
    /// systems need not keep the order of unlinks across a crash, and a hole in the chain of segments would
    /// read as corruption. When the last segment goes, the hard state is checkpointed first: the newest
    /// hard-state record may be in it.
    mutating func removeSegments(_ count: Int, oldestFirst: Bool = false) throws(RaftStorageError) {
        guard count > 0 else { return }
        if !oldestFirst || count >= segments.count { try checkpointHardState() }
        for _ in 0..<count {
            let segment = oldestFirst ? segments.removeFirst() : segments.removeLast()
            try fileSystem.remove(filePath(segment.name))
            try fileSystem.syncDirectory(path)
        }
    }

    // MARK: Files

    /// Writes `name` so a crash leaves the old contents or the new, never a mix: a temporary file, fsync,
    /// rename over `name`, directory fsync.
    private func writeAtomically(_ bytes: [UInt8], name: String) throws(RaftStorageError) {
        let temporary = filePath(name + ".tmp")
        try fileSystem.write(bytes, to: temporary)
        try fileSystem.sync(temporary)
        try fileSystem.rename(temporary, to: filePath(name))
        try fileSystem.syncDirectory(path)
    }

    static func segmentName(firstIndex: LogIndex) -> String { "log-\(padded(firstIndex)).seg" }

    static func snapshotName(_ metadata: SnapshotMetadata) -> String {
        "snap-\(padded(metadata.term))-\(padded(metadata.index)).snap"
    }

    /// Twenty digits, so names sort like their numbers.
    private static func padded(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }
}
