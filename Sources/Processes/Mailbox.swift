/// A process's incoming events, in arrival order: `for await event in context.mailbox { ... }`.
///
/// Per-sender FIFO: two messages from one sender arrive in the order they were sent, and a message sent before its
/// sender exited arrives before the exit notification that exit causes.
///
/// **Bounded, unlike Erlang.** An Erlang mailbox grows until the VM runs out of memory; here at most `mailboxLimit`
/// messages (``ProcessRuntime/init(node:incarnation:transport:logger:metrics:mailboxLimit:)``) wait at once. A message
/// that arrives at a full mailbox is dropped — the new one, so what is queued stays in order — and counted as
/// `processes_messages_dropped_total{reason="mailbox_full"}`. Exit, link and cancel notifications are never dropped.
///
/// One task reads a mailbox at a time. The sequence ends when the process has exited (queued events are discarded)
/// or when the reading task is cancelled.
public struct Mailbox: AsyncSequence, Sendable {
    /// The events of a mailbox.
    public typealias Element = ProcessEvent
    /// A mailbox never throws; it ends.
    public typealias Failure = Never

    let storage: MailboxStorage

    /// Messages waiting to be read (notifications not included).
    public var messageCount: Int { storage.messageCount }

    /// Waits for the next event; nil when the mailbox has ended.
    public func next() async -> ProcessEvent? { await storage.next() }

    /// Reads events in order.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let storage: MailboxStorage

        /// The next event, or nil at the end.
        public mutating func next() async -> ProcessEvent? { await storage.next() }
    }

    /// An iterator over the events.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(storage: storage) }
}
