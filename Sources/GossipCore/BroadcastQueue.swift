/// Messages waiting to be piggybacked on gossip, each sent a bounded number of times (memberlist's
/// `TransmitLimitedQueue`).
///
/// A membership broadcast about a node replaces any older one about the same node. Selection prefers the
/// least-transmitted messages, then the largest, then the newest, and fills the byte budget greedily.
///
/// The queue is kept in that order, as memberlist keeps its B-tree: one tier per transmit count, and in a
/// tier one bucket per message size, holding its messages oldest first. A datagram's worth is taken from
/// the ends of the buckets, so ``take(budget:overhead:transmitLimit:)`` costs the number of tiers and sizes
/// plus the messages taken, not a sort of the whole queue (which holds a message about every member after a
/// mass start), and replacing the broadcast about a node finds it by name.
public struct BroadcastQueue: Hashable, Sendable {
    /// One queued message.
    struct Entry: Hashable, Sendable {
        var message: GossipMessage
        /// Queue order: a larger id is newer.
        var id: UInt64
        var size: Int32
        var transmits: Int32

        /// The node a membership message is about; nil for user messages, which never replace each other.
        var node: String? {
            switch message {
            case .alive(let alive): alive.node
            case .suspect(let suspect): suspect.node
            case .dead(let dead): dead.node
            case .user, .ping, .indirectPing, .ackResponse, .nackResponse: nil
            }
        }
    }

    /// The messages of one size sent equally often, as slots, oldest first.
    struct SizeBucket: Hashable, Sendable {
        var size: Int32
        var slots: [Int32]
    }

    /// Every queued message, at the slot the buckets name; free slots are nil and listed in `freeSlots`.
    private var slots: [Entry?] = []
    private var freeSlots: [Int32] = []
    /// The slot of the queued membership message about a node, by node name.
    private var slotByNode: [String: Int32] = [:]
    /// `tiers[t]`: the messages sent `t` times, in buckets by size, largest first. No bucket is empty and
    /// the last tier is not.
    private var tiers: [[SizeBucket]] = []
    private var nextID: UInt64 = 0
    /// Messages waiting.
    public private(set) var count = 0
    /// User messages among them.
    public private(set) var userCount = 0

    /// The most user messages kept: past it, the most transmitted (then oldest) user message is dropped,
    /// as Serf prunes its queue, so a burst of user broadcasts cannot grow the queue (and the cost of
    /// choosing from it every gossip round) without bound. Membership messages are never dropped.
    public static let maxUserMessages = 1024

    /// Creates an empty queue.
    public init() {}

    /// Queues a membership message (alive, suspect or dead), replacing an older one about the node it names.
    public mutating func enqueue(_ message: GossipMessage) {
        guard let node = Entry(message: message, id: 0, size: 0, transmits: 0).node else {
            preconditionFailure("only membership news is queued this way; user messages use enqueue(user:)")
        }
        if let old = slotByNode[node], slots[Int(old)]?.node == node { remove(old) }
        slotByNode[node] = append(message)
    }

    /// Queues a user message; user messages never replace each other. Past ``maxUserMessages`` the most
    /// transmitted (then oldest) user message is dropped.
    public mutating func enqueue(user payload: [UInt8]) {
        append(.user(payload))
        userCount += 1
        guard userCount > Self.maxUserMessages else { return }
        // The most transmitted tier that holds a user message, and in it the oldest one.
        for tier in tiers.indices.reversed() {
            var victim: Entry?
            var victimSlot: Int32 = 0
            for bucket in tiers[tier] {
                // A bucket is oldest first: its first user message is its oldest.
                guard let slot = bucket.slots.first(where: { slots[Int($0)]?.node == nil }),
                      let entry = slots[Int(slot)], entry.id < victim?.id ?? .max
                else { continue }
                (victim, victimSlot) = (entry, slot)
            }
            if victim != nil {
                remove(victimSlot)
                return
            }
        }
    }

    /// Takes messages that fit `budget` bytes, counting `overhead` bytes per message, and counts a transmit
    /// for each; a message sent `transmitLimit` times leaves the queue.
    ///
    /// The messages come least transmitted first, then largest, then newest, each taken if it still fits
    /// (memberlist's `GetBroadcasts` walks its tiers the same way).
    public mutating func take(budget: Int, overhead: Int, transmitLimit: Int) -> [GossipMessage] {
        var used = 0
        var taken: [Int32] = []
        for tier in tiers.indices {
            for bucket in tiers[tier].indices {
                let cost = overhead + Int(tiers[tier][bucket].size)
                guard cost > 0, used + cost <= budget else { continue }
                let fitting = min(tiers[tier][bucket].slots.count, (budget - used) / cost)
                used += fitting * cost
                for _ in 0..<fitting { taken.append(tiers[tier][bucket].slots.removeLast()) }
            }
        }
        guard !taken.isEmpty else { return [] }
        // Moved up a tier only now, so that the walk above does not meet a message twice.
        var messages: [GossipMessage] = []
        messages.reserveCapacity(taken.count)
        for slot in taken {
            guard var entry = slots[Int(slot)] else { continue }
            messages.append(entry.message)
            entry.transmits += 1
            if entry.transmits >= transmitLimit {
                release(slot)
            } else {
                slots[Int(slot)] = entry
                file(slot, entry)
            }
        }
        compact()
        return messages
    }

    public static func == (lhs: BroadcastQueue, rhs: BroadcastQueue) -> Bool {
        lhs.nextID == rhs.nextID && lhs.count == rhs.count && lhs.inOrder == rhs.inOrder
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(nextID)
        hasher.combine(inOrder)
    }

    /// Every entry in the order ``take(budget:overhead:transmitLimit:)`` considers them, but oldest first
    /// in a bucket: the queue's contents independent of which slot holds what.
    private var inOrder: [Entry] {
        tiers.flatMap { $0.flatMap { $0.slots.compactMap { slots[Int($0)] } } }
    }

    @discardableResult
    private mutating func append(_ message: GossipMessage) -> Int32 {
        nextID += 1
        let entry = Entry(message: message, id: nextID, size: Int32(clamping: message.encodedLength), transmits: 0)
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            slots[Int(slot)] = entry
        } else {
            slot = Int32(slots.count)
            slots.append(entry)
        }
        count += 1
        file(slot, entry)
        return slot
    }

    /// Files the message at `slot` in its tier's bucket for its size, keeping the bucket oldest first.
    private mutating func file(_ slot: Int32, _ entry: Entry) {
        let tier = Int(entry.transmits)
        while tiers.count <= tier { tiers.append([]) }
        // Buckets are few (messages of one kind differ in size by a name's length), so a linear search.
        let position = tiers[tier].firstIndex { $0.size <= entry.size } ?? tiers[tier].endIndex
        guard position < tiers[tier].endIndex, tiers[tier][position].size == entry.size else {
            tiers[tier].insert(SizeBucket(size: entry.size, slots: [slot]), at: position)
            return
        }
        // Usually the newest of its bucket (a new message, or one taken as the newest of its tier).
        if let last = tiers[tier][position].slots.last, let newest = slots[Int(last)], newest.id > entry.id {
            let at = firstPosition(notOlderThan: entry.id, in: tiers[tier][position].slots)
            tiers[tier][position].slots.insert(slot, at: at)
        } else {
            tiers[tier][position].slots.append(slot)
        }
    }

    /// Drops the message at `slot` from the queue.
    private mutating func remove(_ slot: Int32) {
        guard let entry = slots[Int(slot)] else { return }
        let tier = Int(entry.transmits)
        if tier < tiers.count, let bucket = tiers[tier].firstIndex(where: { $0.size == entry.size }) {
            let position = firstPosition(notOlderThan: entry.id, in: tiers[tier][bucket].slots)
            if position < tiers[tier][bucket].slots.count, tiers[tier][bucket].slots[position] == slot {
                tiers[tier][bucket].slots.remove(at: position)
            }
        }
        release(slot)
        compact()
    }

    /// Frees `slot`, whose message is no longer in any bucket.
    private mutating func release(_ slot: Int32) {
        guard let entry = slots[Int(slot)] else { return }
        slots[Int(slot)] = nil
        freeSlots.append(slot)
        count -= 1
        if let node = entry.node {
            if slotByNode[node] == slot { slotByNode[node] = nil }
        } else {
            userCount -= 1
        }
    }

    /// Removes empty buckets and empty trailing tiers; an empty queue gives its storage back (after a mass
    /// start it held a message about every member).
    private mutating func compact() {
        for tier in tiers.indices where tiers[tier].contains(where: \.slots.isEmpty) {
            tiers[tier].removeAll { $0.slots.isEmpty }
        }
        while let last = tiers.last, last.isEmpty { tiers.removeLast() }
        if count == 0, !slots.isEmpty {
            (slots, freeSlots, slotByNode, tiers) = ([], [], [:], [])
        }
    }

    /// The first position in `bucket` (oldest first) whose message is not older than `id`.
    private func firstPosition(notOlderThan id: UInt64, in bucket: [Int32]) -> Int {
        var low = 0, high = bucket.count
        while low < high {
            let middle = (low + high) / 2
            if (slots[Int(bucket[middle])]?.id ?? 0) < id { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
