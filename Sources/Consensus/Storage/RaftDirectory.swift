/// What ``FileRaftStorage`` knows of its directory between calls, and the writes that change it. The
/// entries themselves stay on disk; only each record's end offset and term are kept.
struct RaftDirectory: Sendable {
    /// One log file: `log-<firstIndex>.seg`.
    struct Segment: Sendable {
        var name: String
        var firstIndex: LogIndex
        /// The term of the entry before `firstIndex` (the previous segment's last, or the snapshot's).
        var previousTerm: Term
        /// The byte offset after each record.
        var recordEnds: [Int] = []
        /// The term of each record.
        var terms: [Term] = []

        var size: Int { recordEnds.last ?? StorageFormat.segmentHeaderBytes }
        var lastIndex: LogIndex { firstIndex + LogIndex(terms.count) - 1 }
        var previousPosition: LogPosition { LogPosition(term: previousTerm, index: firstIndex - 1) }
        var lastPosition: LogPosition { LogPosition(term: terms.last ?? previousTerm, index: lastIndex) }

        func term(at index: LogIndex) -> Term? {
            guard index >= firstIndex, index <= lastIndex else { return nil }
            return terms[Int(index - firstIndex)]
        }
    }

    static let hardStateName = "hardstate"

    let path: String
    let fileSystem: any RaftFileSystem
    let segmentBytes: Int
    /// False until the directory was scanned, and again after a failed call.
    var isRecovered = false
    var hardState = HardState()
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

    mutating func write(_ newHardState: HardState) throws(RaftStorageError) {
        guard newHardState != hardState else { return }
        try writeAtomically(StorageFormat.encode(newHardState), name: Self.hardStateName)
        hardState = newHardState
    }

    // MARK: Entries

    /// Appends `entries`, first cutting every stored entry from the first one's index on. Entries the
    /// newest snapshot covers are skipped.
    mutating func append(_ entries: [LogEntry]) throws(RaftStorageError) {
        guard let first = entries.first else { return }
        try checkConsecutive(entries)
        let last = lastPosition.index
        guard first.index <= last + 1 else { throw .gap(expected: last + 1, got: first.index) }
        let fresh = entries.drop { $0.index <= snapshotPosition.index }
        guard let start = fresh.first else { return }
        if start.index <= last { try truncate(from: start.index) }

        var pending: [UInt8] = []  // bytes for the last segment, not yet written
        var pendingIsNewFile = false
        var unsyncedNames = false
        for entry in fresh {
            let record = StorageFormat.record(entry)
            if segments.last.map({ $0.size >= segmentBytes && !$0.terms.isEmpty }) ?? true {
                if let sealed = segments.last {
                    try flush(&pending, to: sealed.name, create: pendingIsNewFile)
                    try fileSystem.sync(filePath(sealed.name))
                }
                if unsyncedNames { try fileSystem.syncDirectory(path) }  // so a later segment never outlives this one
                let previous = lastPosition
                let segment = Segment(name: Self.segmentName(firstIndex: entry.index), firstIndex: entry.index, previousTerm: previous.term)
                pending = StorageFormat.segmentHeader(firstIndex: entry.index, previousTerm: previous.term)
                pendingIsNewFile = true
                unsyncedNames = true
                segments.append(segment)
            }
            pending += record
            segments[segments.count - 1].recordEnds.append(segments[segments.count - 1].size + record.count)
            segments[segments.count - 1].terms.append(entry.term)
        }
        if let current = segments.last {
            try flush(&pending, to: current.name, create: pendingIsNewFile)
            try fileSystem.sync(filePath(current.name))
        }
        if unsyncedNames { try fileSystem.syncDirectory(path) }
    }

    private func flush(_ pending: inout [UInt8], to name: String, create: Bool) throws(RaftStorageError) {
        guard !pending.isEmpty else { return }
        if create {
            try fileSystem.write(pending, to: filePath(name))
        } else {
            try fileSystem.append(pending, to: filePath(name))
        }
        pending = []
    }

    /// Removes every stored entry from `index` on: later segments newest first (so a crash leaves a prefix
    /// of the old log), then the rest of the segment holding `index`.
    private mutating func truncate(from index: LogIndex) throws(RaftStorageError) {
        let later = segments.count - segments.prefix { $0.firstIndex < index }.count
        if later == segments.count, let first = segments.first { emptyLogPosition = first.previousPosition }
        try removeSegments(later)
        guard var segment = segments.last, segment.lastIndex >= index else { return }
        let kept = Int(index - segment.firstIndex)
        let end = kept == 0 ? StorageFormat.segmentHeaderBytes : segment.recordEnds[kept - 1]
        try fileSystem.truncate(filePath(segment.name), to: end)
        try fileSystem.sync(filePath(segment.name))
        segment.recordEnds.removeSubrange(kept...)
        segment.terms.removeSubrange(kept...)
        segments[segments.count - 1] = segment
    }

    // MARK: Snapshots

    /// A snapshot from a leader: it replaces the whole log.
    mutating func install(_ snapshot: StoredSnapshot) throws(RaftStorageError) {
        try writeSnapshotFile(snapshot)
        // After the snapshot is durable, so a crash in between leaves old segments that recovery discards
        // because they do not reach the snapshot's position.
        try removeSegments(segments.count)
        emptyLogPosition = snapshot.metadata.position
    }

    /// A snapshot the application took: entries through its index are no longer needed.
    mutating func compact(with snapshot: StoredSnapshot) throws(RaftStorageError) {
        guard snapshot.metadata.index > snapshotPosition.index else { return }
        try writeSnapshotFile(snapshot)
        let covered = segments.prefix { $0.lastIndex <= snapshot.metadata.index }.count
        try removeSegments(covered, oldestFirst: true)
        if segments.isEmpty { emptyLogPosition = snapshot.metadata.position }
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
        snapshots.removeAll { $0.position == snapshot.metadata.position }
        snapshots.append(snapshot.metadata)
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
    /// read as corruption.
    mutating func removeSegments(_ count: Int, oldestFirst: Bool = false) throws(RaftStorageError) {
        for _ in 0..<max(count, 0) {
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
