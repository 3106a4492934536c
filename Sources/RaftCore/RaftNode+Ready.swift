extension RaftNode {
    /// True when ``ready()`` has something to hand out (and the previous ready was acknowledged).
    public var hasReady: Bool {
        guard inFlight == nil else { return false }
        return !outbox.isEmpty || !readStates.isEmpty || !droppedReads.isEmpty || hardState != lastHandedOutHardState
            || softState != lastHandedOutSoftState
            || log.unstableSnapshot != nil || log.stableIndex < log.lastIndex
            || log.committed > max(log.applied, log.unstableSnapshot?.index ?? 0)
    }

    /// Takes the effects gathered so far. Carry them out as ``Ready`` describes, then call ``advance()``
    /// before the next ``ready()``.
    public mutating func ready() -> Ready {
        precondition(inFlight == nil, "advance() the previous ready first")
        let state = hardState
        let snapshot = log.unstableSnapshot
        let entries = log.unstableEntries
        let appliedFloor = max(log.applied, snapshot?.index ?? 0)
        let committed = log.committedEntries(after: appliedFloor)
        let soft = softState
        let ready = Ready(
            hardState: state != lastHandedOutHardState ? state : nil,
            entries: entries,
            snapshot: snapshot,
            messages: outbox,
            committedEntries: committed,
            readStates: readStates,
            droppedReads: droppedReads,
            softState: soft != lastHandedOutSoftState ? soft : nil,
            admitted: lastHandedOutHardState.blank && !state.blank
        )
        outbox = []
        readStates = []
        droppedReads = []
        lastHandedOutHardState = state
        lastHandedOutSoftState = soft
        inFlight = InFlightReady(
            hardState: state, entries: entries.map(\.position), snapshot: snapshot,
            appliedThrough: committed.last?.index
        )
        return ready
    }

    /// The shell carried out the last ``Ready``: its state is durable, its snapshot installed and its
    /// committed entries applied.
    public mutating func advance() {
        guard let done = inFlight else { return }
        inFlight = nil
        if let state = done.hardState { persistedHardState = state }
        if let snapshot = done.snapshot { log.snapshotInstalled(snapshot) }
        if !done.entries.isEmpty { log.stable(done.entries) }
        if let applied = done.appliedThrough { log.applied(to: applied) }
        log.evictIfNeeded()
        if state == .leader, !done.entries.isEmpty {
            // The leader's own copy counts towards a majority only once it is durable.
            let known = progressByPeer[id]?.match ?? 0
            progressByPeer[id]?.match = max(known, log.stableIndex)
            if maybeCommit() { broadcastAppend() }
        }
    }
}

extension RaftNode {
    /// Lets applied, durable entries leave memory once the log's entries take more than twice
    /// `inMemoryBytes` (down to `inMemoryBytes`, oldest first); `reader` reads them back from storage when a
    /// lagging peer needs them. Without a call every entry since the last compaction stays in memory.
    public mutating func keepEntries(inMemoryBytes: Int, reader: any LogEntryReader) {
        log.memoryBudget = max(0, inMemoryBytes)
        log.reader = reader
        log.evictIfNeeded()
    }
}
