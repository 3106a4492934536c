/// Reads log entries back from durable storage, for a ``RaftLog`` that let them go from memory (see
/// ``RaftNode/keepEntries(inMemoryBytes:reader:)``). Called synchronously by the core, only for entries it
/// knows to be durable and committed, when a peer lags behind the entries still in memory.
public protocol LogEntryReader: Sendable {
    /// Stored entries from `start` on, in order, none after `end`: at most `maxCount`, and about `maxBytes`
    /// (at least one). May return fewer than asked (say, up to the end of one file); nil when they cannot be
    /// read (the core then sends the peer a snapshot instead).
    func entries(from start: LogIndex, through end: LogIndex, maxCount: Int, maxBytes: Int) -> [LogEntry]?
}
