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
            // The header and the first records are written together; if nothing good follows a bad header
            // in the last segment, the crash came before that write was synced.
            if isLast && !StorageFormat.containsRecord(bytes, from: 0, version: nil, indexes: firstIndex...LogIndex.max, sequences: 0...UInt64.max) {
                try fileSystem.remove(file)
                return nil
            }
            throw .corrupt(path: file, reason: "bad segment header")
        }
        var segment = Segment(name: name, firstIndex: firstIndex, previousTerm: header.previousTerm, version: header.version)
        var offset = StorageFormat.segmentHeaderBytes
        while offset < bytes.count {
            guard let (record, end) = StorageFormat.readRecord(bytes, at: offset, version: header.version) else {
                guard isLast else { throw .corrupt(path: file, reason: "bad record at byte \(offset) of a sealed segment") }
                // Every later record holds a later index or a later hard state, so anything good after
                // this one within the file's length was written after it, i.e. was acknowledged.
                let nextIndex = segment.lastIndex + 1, nextSequence = hardState.sequence + 1
                let span = UInt64(bytes.count)
                if StorageFormat.containsRecord(bytes, from: offset + 1, version: header.version,
                                                indexes: nextIndex...nextIndex + span, sequences: nextSequence...nextSequence + span) {
                    throw .corrupt(path: file, reason: "bad record at byte \(offset) followed by good records")
                }
                // A torn tail: the write that made it was never acknowledged (or, for a hard-state record
                // that only moved the commit index, never fsynced).
                try fileSystem.truncate(file, to: offset)
                try fileSystem.sync(file)
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
            }
            segment.size = end
            offset = end
        }
        return segment
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
