extension PersistentSortedMap: Sequence {
    /// An entry of the map.
    public typealias Element = (key: Key, value: Value)

    /// A walk over every entry in key order. O(log n) to start, O(1) amortised per entry.
    public func makeIterator() -> Iterator {
        Iterator(root: root, start: .first)
    }

    /// The number of entries (exact). O(1).
    public var underestimatedCount: Int { count }

    /// The entries whose keys are greater than `lowerBound` (every entry when it is nil), in key order,
    /// read lazily from this version of the map. O(log n) to start, O(1) amortised per entry.
    public func entries(after lowerBound: Key?) -> Entries {
        Entries(root: root, start: lowerBound.map { .after($0) } ?? .first)
    }

    /// The entries whose keys are greater than or equal to `lowerBound`, in key order, read lazily from
    /// this version of the map. O(log n) to start, O(1) amortised per entry.
    public func entries(from lowerBound: Key) -> Entries {
        Entries(root: root, start: .from(lowerBound))
    }

    /// Where a walk begins.
    enum Start: Sendable {
        /// At the least key.
        case first
        /// At the least key greater than the bound.
        case after(Key)
        /// At the least key greater than or equal to the bound.
        case from(Key)

        /// True when `key` is at or past the start, so a walk includes it.
        func includes(_ key: Key) -> Bool {
            switch self {
            case .first: true
            case .after(let bound): bound < key
            case .from(let bound): !(key < bound)
            }
        }
    }

    /// The entries of one version of a map from a starting key on, in key order: a lazy sequence that
    /// holds the version (not a list of its entries), so it can be walked on any thread, any number of
    /// times, while the map it came from moves on.
    public struct Entries: Sequence, Sendable {
        /// The root of the version walked.
        let root: Node?
        /// Where each walk begins.
        let start: Start

        /// A walk from the start. O(log n).
        public func makeIterator() -> Iterator {
            Iterator(root: root, start: start)
        }
    }

    /// An in-order walk of one version of a map, with an explicit stack of O(log n) nodes.
    ///
    /// The stack holds the nodes whose entries are still to come and whose greater subtrees have not been
    /// entered: each is below the one under it in the stack, in its lesser subtree, so the top is the next
    /// entry. Taking it pushes the lesser spine of its greater subtree. Every node is pushed and popped
    /// once, so a whole walk is O(n) and each step O(1) amortised (O(log n) at worst).
    public struct Iterator: IteratorProtocol, Sendable {
        /// The nodes still to be visited, the next one last.
        private var pending: [Node] = []

        /// A walk of the tree under `root` from `start`: one descent that stacks every node on the way
        /// whose key the walk includes (and goes left from), and goes right past those it does not.
        init(root: Node?, start: Start) {
            pending.reserveCapacity(Node.height(of: root))
            var next = root
            while let node = next {
                if start.includes(node.key) {
                    pending.append(node)
                    next = node.left
                } else {
                    next = node.right
                }
            }
        }

        /// The next entry in key order, nil at the end.
        public mutating func next() -> (key: Key, value: Value)? {
            guard let node = pending.popLast() else { return nil }
            var next = node.right
            while let child = next {
                pending.append(child)
                next = child.left
            }
            return (node.key, node.value)
        }
    }
}
