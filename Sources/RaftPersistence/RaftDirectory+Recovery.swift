import RaftCore
extension RaftDirectory {
    /// Scans the directory and returns the entries after the newest snapshot. On the way it removes
    /// temporary files, a last segment whose creation was cut short, a torn tail of the last segment, and
    /// segments a snapshot replaced or covers. Anything else that fails a check is ``RaftStorageError/corrupt(path:reason:)``.
    mutating func recover() throws(RaftStorageError) -> [LogEntry] {
        isRecovered = false
        try fileSystem.createDirectory(path)
        let names = try fileSystem.list(path)
        for name in names where name.hasSuffix(".tmp") { try fileSystem.remove(filePath(name)) }

        // The newest hard state is the one with the highest sequence number among the `hardstate` file
        // (a checkpoint, or what a version-1 release wrote) and the hard-state records of the log.
        hardState = StoredHardState()
        checkpointSequence = nil
        if names.contains(Self.hardStateName) {
            guard let stored = StorageFormat.decodeHardState(try fileSystem.read(filePath(Self.hardStateName))) else {
                throw .corrupt(path: filePath(Self.hardStateName), reason: "hard state fails its checksum")
            }
            hardState = stored
            checkpointSequence = stored.sequence
        }

        snapshots = names.compactMap(Self.snapshotPosition(fromName:))
            .sorted { ($0.index, $0.term) < ($1.index, $1.term) }
            .map { SnapshotMetadata(index: $0.index, term: $0.term, configuration: .empty) }
        if let newest = try newestSnapshot() { snapshots[snapshots.count - 1] = newest.metadata }

        var entries: [LogEntry] = []
        segments = []
        let segmentNames = names.compactMap { name in Self.firstIndex(fromSegmentName: name).map { ($0, name) } }
            .sorted { $0.0 < $1.0 }
        for (position, (firstIndex, name)) in segmentNames.enumerated() {
            let isLast = position == segmentNames.count - 1
            if let segment = try readSegment(name: name, firstIndex: firstIndex, isLast: isLast, into: &entries) {
                if let previous = segments.last, segment.previousPosition != previous.lastPosition {
                    throw .corrupt(path: filePath(name), reason: "starts after \(segment.previousPosition), previous segment ends at \(previous.lastPosition)")
                }
                segments.append(segment)
            }
        }
        entries = try anchorToSnapshot(entries)
        emptyLogPosition = segments.first?.previousPosition ?? snapshotPosition
        // What a crashed process wrote but never fsynced (the tail of the last segment, names in the
        // directory) is read as the log from here on, and the node will vouch for it: make it durable.
        if let last = segments.last { try fileSystem.sync(filePath(last.name)) }
        try fileSystem.syncDirectory(path)
        // Committed entries are durable before the hard state naming them, and never truncated: a log
        // that ends before the commit index lost an acknowledged record (bit rot in the last one looks
        // like a torn write to the scan), so the node must not start from it.
        if lastPosition.index < hardState.hardState.commit {
            throw .corrupt(path: path, reason: "the log ends at \(lastPosition.index) but \(hardState.hardState.commit) is committed")
        }
        isRecovered = true
        return entries
    }

    /// Reads one segment into `entries`, and its hard-state records into `hardState` when newer; nil when
    /// it is the last one and its creation was cut short (then it is removed). Cuts a torn tail off the
    /// last segment.
    private mutating func readSegment(name: String, firstIndex: LogIndex, isLast: Bool, into entries: inout [LogEntry]) throws(RaftStorageError) -> Segment? {
        let file = filePath(name)
        let bytes = try fileSystem.read(file)
        guard let header = StorageFormat.decodeSegmentHeader(bytes), header.firstIndex == firstIndex else {
            // The header and the first records are written together. In the last segment, unless a synced
            // record proves that write's fsync returned, the crash came before it did (pages of the write
            // may still have reached the disk out of order): the segment's creation never completed. (A
            // version-2 segment's header gone bad leaves the log short of its commit index, caught below.)
            let synced = StorageFormat.containsWriteEvidence(bytes, from: 0, onlySynced: true)
            if isLast && !synced {
                try fileSystem.remove(file)
                return nil
            }
            throw .corrupt(path: file, reason: "bad segment header")
        }
        var segment = Segment(name: name, firstIndex: firstIndex, previousTerm: header.previousTerm, version: header.version)
        var offset = StorageFormat.segmentHeaderBytes
        /// The write the records being read belong to, from its marker: where it ends and whether it was
        /// synced; nil before the first marker (records an older release wrote) and past a write's end.
        var write: (end: Int, synced: Bool)?
        // Version 3 segments carry write markers from their first record on.
        var markers = header.version >= StorageFormat.version
        while offset < bytes.count {
            if let current = write, offset >= current.end { write = nil }
            guard let (record, end) = StorageFormat.readRecord(bytes, at: offset, version: header.version) else {
                guard isLast else { throw .corrupt(path: file, reason: "bad record at byte \(offset) of a sealed segment") }
                try cutTornTail(file, bytes, at: offset, write: write, markers: markers, version: header.version,
                                nextIndex: segment.lastIndex + 1, nextSequence: hardState.sequence + 1)
                break
            }
            switch record {
            case .entry(let entry):
                guard entry.index == segment.lastIndex + 1, entry.term >= segment.lastPosition.term else {
                    throw .corrupt(path: file, reason: "record at byte \(offset) holds \(entry.position) after \(segment.lastPosition)")
                }
                segment.recordEnds.append(end)
                segment.terms.append(entry.term)
                entries.append(entry)
            case .hardState(let stored):
                if stored.sequence >= hardState.sequence { hardState = stored }
            case .write(let length, let synced):
                write = (end + length, synced)
                markers = true
            case .synced:
                break
            }
            segment.size = end
            offset = end
        }
        return segment
    }

    /// A bad record at `offset` of the last segment: cuts it and everything after it when no acknowledged
    /// write can be damaged, else throws ``RaftStorageError/corrupt(path:reason:)``.
    ///
    /// Writes reach the disk page by page, in no promised order until their fsync returns, so a crash can
    /// keep later pages of a write and lose earlier ones. What proves the bad bytes were durable (and went
    /// bad afterwards) is evidence that an fsync covering them returned:
    /// - a good synced record after them (appended once an fsync returned, which made the whole file
    ///   durable up to there);
    /// - anything good after the end of their own write, when that write was synced (issued only after its
    ///   call returned).
    /// Without such evidence the bad bytes belong to writes whose fsync never returned (or that only moved
    /// the commit index): a torn tail, cut. In a segment with no write marker before the bad record
    /// (written by an older release), any good record after it is corruption, as before.
    private func cutTornTail(
        _ file: String, _ bytes: [UInt8], at offset: Int, write: (end: Int, synced: Bool)?, markers: Bool, version: UInt8,
        nextIndex: LogIndex, nextSequence: UInt64
    ) throws(RaftStorageError) {
        // Every later record holds a later index or a later hard state: the ranges keep garbage that
        // happens to checksum from counting.
        let span = UInt64(bytes.count)
        func goodRecord(from start: Int) -> Bool {
            StorageFormat.containsRecord(bytes, from: start, version: version,
                                         indexes: nextIndex...nextIndex + span, sequences: nextSequence...nextSequence + span)
        }
        if !markers {
            if goodRecord(from: offset + 1) { throw .corrupt(path: file, reason: "bad record at byte \(offset) followed by good records") }
        } else if StorageFormat.containsWriteEvidence(bytes, from: offset + 1, onlySynced: true) {
            throw .corrupt(path: file, reason: "bad record at byte \(offset) before a later fsync returned")
        } else if let write, offset < write.end, write.synced,
                  goodRecord(from: write.end) || StorageFormat.containsWriteEvidence(bytes, from: write.end) {
            throw .corrupt(path: file, reason: "bad record at byte \(offset) of a write that was fsynced and acknowledged")
        }
        try fileSystem.truncate(file, to: offset)
        try fileSystem.sync(file)
    }

    /// Keeps the stored entries only when they continue the newest snapshot: the log starts at the
    /// snapshot's position, or holds the snapshot's last entry (then the covered segments are removed).
    /// A log that does neither is what a leader's snapshot replaced before a crash cut its removal short.
    private mutating func anchorToSnapshot(_ entries: [LogEntry]) throws(RaftStorageError) -> [LogEntry] {
        guard let first = segments.first else { return entries }
        let snapshot = snapshotPosition
        let start = first.previousPosition
        if start == snapshot { return entries }
        if start.index > snapshot.index {
            throw .corrupt(path: filePath(first.name), reason: "the log starts after \(start) but the newest snapshot ends at \(snapshot)")
        }
        if segments.contains(where: { $0.term(at: snapshot.index) == snapshot.term }) {
            try removeSegments(segments.prefix { $0.lastIndex <= snapshot.index }.count, oldestFirst: true)
            return entries.filter { $0.index > snapshot.index }
        }
        try removeSegments(segments.count)
        return []
    }

    static func snapshotPosition(fromName name: String) -> LogPosition? {
        guard name.hasPrefix("snap-"), name.hasSuffix(".snap") else { return nil }
        let fields = name.dropFirst(5).dropLast(5).split(separator: "-")
        guard fields.count == 2, let term = Term(fields[0]), let index = LogIndex(fields[1]) else { return nil }
        return LogPosition(term: term, index: index)
    }

    static func firstIndex(fromSegmentName name: String) -> LogIndex? {
        guard name.hasPrefix("log-"), name.hasSuffix(".seg") else { return nil }
        return LogIndex(name.dropFirst(4).dropLast(4))
    }
}
