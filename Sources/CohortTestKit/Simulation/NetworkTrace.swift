/// Why the network did not deliver a message.
public enum NetworkDropReason: Hashable, Sendable {
    /// Lost at random (``LinkConditions/dropRate``).
    case lost
    /// Sender and destination were on different sides of a partition or a blocked link, when it was sent or
    /// when it arrived.
    case partitioned
    /// The destination was crashed when the message arrived (or had not started).
    case destinationDown
    /// The sender was crashed: a crashed node sends nothing.
    case senderDown
}

/// One thing that happened in a simulated network, for comparing runs and for failure reports.
public struct NetworkTraceEntry<Address: Hashable & Sendable>: Hashable, Sendable {
    /// What happened.
    public enum Kind: Hashable, Sendable {
        /// A message was handed to the network.
        case sent(NetworkTransport)
        /// A datagram was duplicated in flight.
        case duplicated
        /// A message reached its destination.
        case delivered
        /// A message was not delivered.
        case dropped(NetworkDropReason)
        /// A stream could not be opened: the link was cut or an end was down.
        case refused
        /// A node's timer fired (`from` and `to` are the node).
        case timerFired
        /// A node came up at a scheduled time (`from` and `to` are the node).
        case restarted
    }

    /// Simulated time since the network's start.
    public var offset: Duration
    /// What happened.
    public var kind: Kind
    /// The message's id (0 for timers).
    public var messageID: UInt64
    /// The sender (for a timer: the node).
    public var from: Address
    /// The destination (for a timer: the node).
    public var to: Address

    /// Creates an entry.
    public init(offset: Duration, kind: Kind, messageID: UInt64, from: Address, to: Address) {
        self.offset = offset
        self.kind = kind
        self.messageID = messageID
        self.from = from
        self.to = to
    }
}

/// Counters of what a simulated network did, kept whether or not the trace is recorded.
public struct NetworkStatistics: Hashable, Sendable {
    /// Datagrams handed to the network by running nodes.
    public var datagramsSent = 0
    /// Datagrams (including duplicates) that reached their destination.
    public var datagramsDelivered = 0
    /// Datagrams lost at random.
    public var datagramsLost = 0
    /// Extra copies made.
    public var datagramsDuplicated = 0
    /// Datagrams held back so later ones could overtake them.
    public var datagramsReordered = 0
    /// Streams opened and their messages sent.
    public var streamsSent = 0
    /// Stream messages that reached their destination.
    public var streamsDelivered = 0
    /// Streams that could not be opened.
    public var streamsRefused = 0
    /// Messages of either kind stopped by a partition or a blocked link.
    public var blockedByPartition = 0
    /// Messages of either kind that arrived at a crashed (or not yet started) node.
    public var droppedAtDownNode = 0

    /// Creates zeroed counters.
    public init() {}
}
