/// The log a core owns: a snapshot boundary, then the entries after it, of which a prefix is stable
/// (persisted by the shell) and the rest unstable (handed out in a ``Ready``, not yet acknowledged).
///
/// Entries after the last compaction are kept in memory unless the shell gave the log a ``LogEntryReader``
/// (``RaftNode/keepEntries(inMemoryBytes:reader:)``): then applied, durable entries beyond a byte budget
/// leave memory (their terms stay) and are read back from storage when a lagging peer needs them. The
/// shell reloads the log on restart through ``LogStorage``. Configuration entries are indexed on the side so
/// the configuration in force at any index (the latest one at or before it) is found without scanning.
public struct RaftLog: Sendable {
    /// The boundary: the log holds entries after `snapshot.index` only. It is the application's snapshot
    /// or, when compaction keeps trailing entries, an older point behind it (``latestSnapshot``).
    public private(set) var snapshot: SnapshotMetadata
    /// The newest snapshot the application holds: what a peer gets whose next entry is no longer in the
    /// log. At or after ``snapshot``; after a compaction that keeps `trailing` entries, the log still
    /// holds up to that many entries it covers, so a peer that lags a little catches up by entries.
    public private(set) var latestSnapshot: SnapshotMetadata
    /// Entries `memoryFirst ... lastIndex`.
    private var entries: [LogEntry]
    /// The terms of the entries `snapshot.index + 1 ..< memoryFirst`, which left memory (applied and
    /// durable: storage holds them, and ``reader`` reads them back).
    private var evictedTerms: [Term] = []
    /// Bytes (``LogEntry/byteCount``) of the entries in memory.
    public private(set) var memoryBytes = 0
    /// Reads entries that left memory back from storage; nil keeps every entry in memory.
    var reader: (any LogEntryReader)?
    /// Applied, durable entries are let go from memory, oldest first, once the entries in memory take more
    /// than twice this many bytes, until they take at most this many again.
    var memoryBudget = Int.max
    /// The highest index known to be committed.
    public private(set) var committed: LogIndex
    /// The highest index the state machine has applied (acknowledged by ``RaftNode/advance()``).
    public private(set) var applied: LogIndex
    /// Entries up to here are durable.
    public private(set) var stableIndex: LogIndex
    /// A snapshot received from the leader that is not yet durable and installed.
    public private(set) var unstableSnapshot: SnapshotMetadata?
    /// Configuration entries after the snapshot, in index order.
    private var configurationEntries: [(index: LogIndex, configuration: Configuration)] = []

    /// A log restored from what the shell persisted.
    init(snapshot: SnapshotMetadata, entries: [LogEntry], committed: LogIndex, applied: LogIndex) {
        precondition(entries.enumerated().allSatisfy { $1.index == snapshot.index + 1 + LogIndex($0) }, "entries must follow the snapshot without gaps")
        self.snapshot = snapshot
        latestSnapshot = snapshot
        self.entries = entries
        memoryBytes = entries.reduce(0) { $0 + $1.byteCount }
        let last = snapshot.index + LogIndex(entries.count)
        self.committed = min(max(committed, snapshot.index), last)
        self.applied = min(max(applied, snapshot.index), self.committed)
        self.stableIndex = last
        for entry in entries {
            if case .configuration(let configuration) = entry.payload {
                configurationEntries.append((entry.index, configuration))
            }
        }
    }

    // MARK: Reading

    /// The first index still held as an entry.
    public var firstIndex: LogIndex { snapshot.index + 1 }
    /// The index of the last entry (the snapshot's index when there is none).
    public var lastIndex: LogIndex { memoryFirst + LogIndex(entries.count) - 1 }
    /// The first index whose entry is in memory (`lastIndex + 1` when none is).
    public var memoryFirst: LogIndex { snapshot.index + 1 + LogIndex(evictedTerms.count) }
    /// The position of the last entry.
    public var lastPosition: LogPosition { LogPosition(term: term(at: lastIndex) ?? 0, index: lastIndex) }

    /// The term of the entry at `index`, or nil when it is compacted away or beyond the log.
    public func term(at index: LogIndex) -> Term? {
        if index == snapshot.index { return snapshot.term }
        guard index > snapshot.index, index <= lastIndex else { return nil }
        let first = memoryFirst
        return index < first ? evictedTerms[Int(index - firstIndex)] : entries[Int(index - first)].term
    }

    /// The entry at `index`, if held.
    public func entry(at index: LogIndex) -> LogEntry? {
        guard index >= firstIndex, index <= lastIndex else { return nil }
        guard index >= memoryFirst else { return fromStorage(index, maxCount: 1, maxBytes: .max)?.first }
        return entries[Int(index - memoryFirst)]
    }

    /// True when the log holds `position` (or it is the snapshot boundary).
    public func matches(_ position: LogPosition) -> Bool {
        term(at: position.index) == position.term
    }

    /// Entries from `start` on, at most `maxCount` and about `maxBytes` (at least one when any exists), or
    /// nil when `start` is compacted away (or out of memory, and storage cannot give it back).
    public func entries(from start: LogIndex, maxCount: Int = .max, maxBytes: Int = .max) -> [LogEntry]? {
        guard start >= firstIndex else { return nil }
        guard start <= lastIndex else { return [] }
        // From storage, up to the first entry in memory (the next append goes on from there).
        if start < memoryFirst { return fromStorage(start, maxCount: maxCount, maxBytes: maxBytes) }
        var result: [LogEntry] = []
        var bytes = 0
        var index = Int(start - memoryFirst)
        while index < entries.count, result.count < maxCount {
            bytes += entries[index].byteCount
            if !result.isEmpty, bytes > maxBytes { break }
            result.append(entries[index])
            index += 1
        }
        return result
    }

    /// Entries from `start` (before ``memoryFirst``) read back through ``reader``: nil unless storage gives
    /// consecutive entries from `start` whose terms are the ones this log knows.
    private func fromStorage(_ start: LogIndex, maxCount: Int, maxBytes: Int) -> [LogEntry]? {
        let end = memoryFirst - 1
        guard let reader, let read = reader.entries(from: start, through: end, maxCount: maxCount, maxBytes: maxBytes),
              !read.isEmpty, read.count <= Int(end - start + 1) else { return nil }
        for (offset, entry) in read.enumerated() where entry.index != start + LogIndex(offset) || term(at: entry.index) != entry.term {
            return nil
        }
        return read
    }

    /// Entries not yet durable.
    var unstableEntries: [LogEntry] {
        guard stableIndex < lastIndex else { return [] }
        return Array(entries[Int(stableIndex + 1 - memoryFirst)...])
    }

    /// The configuration in force: the latest in the log, else the snapshot's.
    public var configuration: Configuration { configurationEntries.last?.configuration ?? snapshot.configuration }

    /// The index of the latest configuration entry (the snapshot's index when it is in the snapshot).
    public var configurationIndex: LogIndex { configurationEntries.last?.index ?? snapshot.index }

    /// The configuration in force at `index` (which must not be before the snapshot).
    func configuration(at index: LogIndex) -> Configuration {
        configurationEntries.last { $0.index <= index }?.configuration ?? snapshot.configuration
    }

    /// The last index at or below `index` whose term is at most `term`, with that term; an index whose term
    /// is unknown (compacted) is returned with term 0, as a possible match.
    func lastIndex(atOrBelow index: LogIndex, withTermAtMost term: Term) -> LogPosition {
        var index = index
        while index > 0 {
            guard let entryTerm = self.term(at: index) else { return LogPosition(term: 0, index: index) }
            if entryTerm <= term { return LogPosition(term: entryTerm, index: index) }
            index -= 1
        }
        return .zero
    }

    /// Committed entries not yet handed to the state machine, from `after + 1`.
    func committedEntries(after index: LogIndex) -> [LogEntry] {
        guard committed > index else { return [] }
        return entries(from: index + 1)?.prefix(Int(committed - index)).map { $0 } ?? []
    }

    // MARK: Writing

    /// Appends entries as a leader (they must follow the last entry).
    mutating func append(_ newEntries: [LogEntry]) {
        for entry in newEntries {
            precondition(entry.index == lastIndex + 1, "appended entries must follow the log")
            entries.append(entry)
            memoryBytes += entry.byteCount
            if case .configuration(let configuration) = entry.payload {
                configurationEntries.append((entry.index, configuration))
            }
        }
    }

    /// Follower side of AppendEntries: if the log holds `previous`, writes `newEntries` over any conflicting
    /// suffix and returns the index of the last entry the request vouches for; nil when `previous` does not
    /// match. Never truncates a committed entry.
    mutating func tryAppend(after previous: LogPosition, _ newEntries: [LogEntry]) -> LogIndex? {
        guard matches(previous) else { return nil }
        let lastNew = previous.index + LogIndex(newEntries.count)
        // The first new entry that is not already here (a different term, or beyond the end).
        guard let conflict = newEntries.firstIndex(where: { !matches($0.position) }) else { return lastNew }
        let start = newEntries[conflict].index
        precondition(start > committed, "an append must never overwrite a committed entry (\(start) ≤ \(committed))")
        truncate(after: start - 1)
        append(Array(newEntries[conflict...]))
        return lastNew
    }

    private mutating func truncate(after index: LogIndex) {
        guard index < lastIndex else { return }
        precondition(index + 1 >= memoryFirst, "only entries in memory are truncated (they are uncommitted)")
        let removed = Int(lastIndex - index)
        memoryBytes -= entries.suffix(removed).reduce(0) { $0 + $1.byteCount }
        entries.removeLast(removed)
        while let last = configurationEntries.last, last.index > index { configurationEntries.removeLast() }
        stableIndex = min(stableIndex, index)
    }

    /// Moves the commit index forward (never back) to at most the last entry.
    mutating func commit(to index: LogIndex) {
        committed = max(committed, min(index, lastIndex))
    }

    /// The shell applied everything through `index`.
    mutating func applied(to index: LogIndex) {
        precondition(index <= committed, "applied beyond commit")
        applied = max(applied, index)
    }

    /// The shell made `persisted` durable: the entries of one ``Ready``, in order, which followed the stable
    /// prefix when they were handed out. The stable index moves to the last of them the log still holds.
    ///
    /// An append that arrived while they were written may have replaced a suffix of them (a new leader's
    /// conflicting entries): the prefix that still matches is durable all the same, and must count as
    /// stable. Were it handed out again, the storage would cut it and write it anew, and a crash in
    /// between would lose entries this node had already acknowledged.
    mutating func stable(_ persisted: [LogPosition]) {
        // Matching at index i means nothing up to i was replaced (log matching), so the whole prefix is intact.
        guard let last = persisted.last(where: { matches($0) }), last.index > stableIndex else { return }
        stableIndex = last.index
    }

    /// The received snapshot is durable and installed.
    mutating func snapshotInstalled(_ metadata: SnapshotMetadata) {
        guard unstableSnapshot == metadata else { return }
        unstableSnapshot = nil
        applied = max(applied, metadata.index)
    }

    /// Replaces the whole log by a snapshot received from the leader.
    mutating func restore(_ metadata: SnapshotMetadata) {
        snapshot = metadata
        latestSnapshot = metadata
        entries = []
        evictedTerms = []
        memoryBytes = 0
        configurationEntries = []
        committed = metadata.index
        stableIndex = metadata.index
        unstableSnapshot = metadata
    }

    /// Records that the application captured everything through `index` in a snapshot, and discards the
    /// entries through `index - trailing` (keeping the last `trailing` entries the snapshot covers).
    mutating func compact(through index: LogIndex, keepingTrailing trailing: LogIndex = 0) {
        guard index > latestSnapshot.index else { return }
        precondition(index <= applied && index <= stableIndex, "compact only applied, durable entries")
        latestSnapshot = metadata(at: index)
        let cut = index - min(index, trailing)
        guard cut > snapshot.index else { return }
        let boundary = metadata(at: cut)
        let count = Int(cut - snapshot.index)
        let fromMemory = max(0, count - evictedTerms.count)
        evictedTerms.removeFirst(count - fromMemory)
        memoryBytes -= entries.prefix(fromMemory).reduce(0) { $0 + $1.byteCount }
        entries.removeFirst(fromMemory)
        configurationEntries.removeAll { $0.index <= cut }
        snapshot = boundary
    }

    /// Lets applied, durable entries go from memory, oldest first, when the entries in memory take more
    /// than twice ``memoryBudget`` bytes, until they take at most the budget (or none is left to go).
    /// Nothing goes without a ``reader``.
    mutating func evictIfNeeded() {
        guard reader != nil, memoryBudget < Int.max / 2, memoryBytes > 2 * memoryBudget else { return }
        let floor = min(applied, stableIndex)
        var count = 0
        var bytes = memoryBytes
        while bytes > memoryBudget, count < entries.count, entries[count].index <= floor {
            bytes -= entries[count].byteCount
            count += 1
        }
        // Entries not yet applied or durable may keep the log above its budget (a slow apply): then only a
        // batch of at least half the budget goes at a time, not each newly applied entry (every removal
        // shifts the array).
        guard count > 0, bytes <= memoryBudget || memoryBytes - bytes >= memoryBudget / 2 else { return }
        evictedTerms.append(contentsOf: entries.prefix(count).map(\.term))
        entries.removeFirst(count)
        memoryBytes = bytes
    }

    /// A snapshot's metadata at `index`, which the log holds: its term and the configuration in force.
    private func metadata(at index: LogIndex) -> SnapshotMetadata {
        SnapshotMetadata(index: index, term: term(at: index) ?? 0, configuration: configuration(at: index))
    }
}
