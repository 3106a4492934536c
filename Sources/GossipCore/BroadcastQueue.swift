/// Messages waiting to be piggybacked on gossip, each sent a bounded number of times (memberlist's
/// `TransmitLimitedQueue`).
///
/// A membership broadcast about a node replaces any older one about the same node. Selection prefers the
/// least-transmitted messages, then the largest, then the newest, and fills the byte budget greedily.
public struct BroadcastQueue: Hashable, Sendable {
    /// One queued message.
    struct Entry: Hashable, Sendable {
        var message: GossipMessage
        var size: Int
        var transmits: Int
        var id: UInt64
        /// The node the message is about; nil for user messages, which never replace each other.
        var node: String?
    }

    private var entries: [Entry] = []
    private var nextID: UInt64 = 0
    /// User messages among `entries`.
    public private(set) var userCount = 0

    /// The most user messages kept: past it, the most transmitted (then oldest) user message is dropped,
    /// as Serf prunes its queue, so a burst of user broadcasts cannot grow the queue (and the cost of
    /// choosing from it every gossip round) without bound. Membership messages are never dropped.
    public static let maxUserMessages = 1024

    /// Creates an empty queue.
    public init() {}

    /// Messages waiting.
    public var count: Int { entries.count }

    /// Queues a membership message about `node`, replacing an older one about the same node.
    public mutating func enqueue(_ message: GossipMessage, about node: String) {
        entries.removeAll { $0.node == node }
        append(message, node: node)
    }

    /// Queues a user message; user messages never replace each other. Past ``maxUserMessages`` the most
    /// transmitted (then oldest) user message is dropped.
    public mutating func enqueue(user payload: [UInt8]) {
        append(.user(payload), node: nil)
        userCount += 1
        guard userCount > Self.maxUserMessages else { return }
        var victim: Int?
        for index in entries.indices where entries[index].node == nil {
            guard let current = victim else { victim = index; continue }
            let x = entries[index], y = entries[current]
            if x.transmits > y.transmits || (x.transmits == y.transmits && x.id < y.id) { victim = index }
        }
        if let victim {
            entries.remove(at: victim)
            userCount -= 1
        }
    }

    /// Takes messages that fit `budget` bytes, counting `overhead` bytes per message, and counts a transmit
    /// for each; a message sent `transmitLimit` times leaves the queue.
    public mutating func take(budget: Int, overhead: Int, transmitLimit: Int) -> [GossipMessage] {
        let order = entries.indices.sorted { a, b in
            let x = entries[a], y = entries[b]
            if x.transmits != y.transmits { return x.transmits < y.transmits }
            if x.size != y.size { return x.size > y.size }
            return x.id > y.id
        }
        var used = 0
        var taken: [GossipMessage] = []
        var finished: Set<UInt64> = []
        for index in order where used + overhead + entries[index].size <= budget {
            used += overhead + entries[index].size
            taken.append(entries[index].message)
            entries[index].transmits += 1
            if entries[index].transmits >= transmitLimit { finished.insert(entries[index].id) }
        }
        userCount -= entries.reduce(0) { $0 + (finished.contains($1.id) && $1.node == nil ? 1 : 0) }
        entries.removeAll { finished.contains($0.id) }
        return taken
    }

    private mutating func append(_ message: GossipMessage, node: String?) {
        nextID += 1
        entries.append(Entry(message: message, size: message.encodedLength, transmits: 0, id: nextID, node: node))
    }
}
