/// How a leader replicates to one peer, and what it knows of it (etcd's `Progress`).
public struct PeerProgress: Hashable, Sendable {
    /// The replication mode.
    public enum State: Hashable, Sendable {
        /// Where the logs agree is unknown: one append at a time, each answered before the next.
        case probe
        /// The logs agree up to `match`: appends stream optimistically, a few in flight.
        case replicate
        /// The peer needs the snapshot through `index` (the entries it lacks are compacted away).
        case snapshot(index: LogIndex)
    }

    /// The highest index known to be replicated on the peer.
    public internal(set) var match: LogIndex
    /// The next index to send.
    public internal(set) var next: LogIndex
    /// The replication mode.
    public internal(set) var state: State = .probe
    /// Heard from the peer since the last CheckQuorum round.
    public internal(set) var recentActive = false
    /// Ticks since the leader last heard from the peer (the reconciler's "last contact").
    public internal(set) var ticksSinceContact = 0
    /// In probe state: an append was sent and not answered yet.
    var probeSent = false
    /// In replicate state: last index of each append in flight, oldest first.
    var inflights: [LogIndex] = []
    /// In snapshot state: ticks since the snapshot was sent.
    var snapshotTicks = 0
    /// The highest commit index sent to the peer (so a commit is announced without waiting for a heartbeat).
    var sentCommit: LogIndex = 0
    /// The peer's latest answer came from a blank replica: it is replicated to, but its `match` counts
    /// towards no commit, and its answers towards no lease or read, until the leader admits it.
    public internal(set) var isBlank = false

    /// What a commit may count for the peer: its match, or nothing while it is blank.
    var countedMatch: LogIndex { isBlank ? 0 : match }

    init(match: LogIndex, next: LogIndex) {
        self.match = match
        self.next = next
    }

    /// True when no append may be sent now.
    func isPaused(window: Int) -> Bool {
        switch state {
        case .probe: probeSent
        case .replicate: inflights.count >= window
        case .snapshot: true
        }
    }

    mutating func becomeProbe() {
        if case .snapshot(let index) = state {
            next = max(match + 1, index + 1)
        } else {
            next = match + 1
        }
        state = .probe
        probeSent = false
        inflights = []
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = match + 1
        probeSent = false
        inflights = []
    }

    mutating func becomeSnapshot(_ index: LogIndex) {
        state = .snapshot(index: index)
        probeSent = false
        inflights = []
        snapshotTicks = 0
    }

    /// An acceptance up to `index`: returns true when it told the leader something new.
    mutating func acknowledge(_ index: LogIndex) -> Bool {
        var updated = false
        if match < index {
            match = index
            updated = true
            probeSent = false
        }
        next = max(next, index + 1)
        inflights.removeAll { $0 <= index }
        return updated
    }

    /// A rejection of `rejected` with the leader's computed probe point; returns false when the rejection
    /// is stale (answers an append the leader has moved past).
    mutating func rejected(_ rejected: LogIndex, probeFrom hint: LogIndex) -> Bool {
        if state == .replicate {
            guard rejected > match else { return false }
            next = match + 1
            return true
        }
        guard next >= 1, rejected == next - 1 else { return false }
        next = max(min(rejected, hint + 1), match + 1)
        probeSent = false
        return true
    }

    /// An append carrying entries up to `last` went out.
    mutating func sent(through last: LogIndex?) {
        switch state {
        case .replicate:
            if let last {
                next = last + 1
                inflights.append(last)
            }
        case .probe:
            probeSent = true
        case .snapshot:
            break
        }
    }
}
