extension PersistentSortedMap {
    /// One node of the tree: an entry and the subtrees of lesser and greater keys.
    ///
    /// A node never changes after it is built, so any number of map versions, on any threads, share it. A
    /// write builds new nodes along one path instead (the functions below); the nodes it replaces stay as
    /// they are for the versions that still hold them.
    final class Node: Sendable {
        /// The entry's key: greater than every key in ``left``, less than every key in ``right``.
        let key: Key
        /// The entry's value.
        let value: Value
        /// The subtree of lesser keys.
        let left: Node?
        /// The subtree of greater keys.
        let right: Node?
        /// The entries in this subtree, this node's included.
        let count: Int
        /// The levels of this subtree: 1 for a node without children. The heights of ``left`` and
        /// ``right`` differ by at most one (the AVL balance).
        let height: Int

        /// A node over two subtrees, with its count and height computed from theirs.
        init(key: Key, value: Value, left: Node?, right: Node?) {
            self.key = key
            self.value = value
            self.left = left
            self.right = right
            count = Node.count(of: left) + 1 + Node.count(of: right)
            height = Swift.max(Node.height(of: left), Node.height(of: right)) + 1
        }

        /// The entries of a subtree (0 for none).
        static func count(of node: Node?) -> Int {
            node?.count ?? 0
        }

        /// The height of a subtree (0 for none).
        static func height(of node: Node?) -> Int {
            node?.height ?? 0
        }
    }
}

// MARK: Writing by path copying

extension PersistentSortedMap {
    /// The subtree `node` with `value` stored for `key`, and the value it replaced (nil when the key is
    /// new). Copies the nodes on the path to `key`, rebalancing each on the way back up.
    static func inserting(_ value: Value, forKey key: Key, into node: Node?) -> (node: Node, replaced: Value?) {
        guard let node else {
            return (Node(key: key, value: value, left: nil, right: nil), nil)
        }
        if key < node.key {
            let (left, replaced) = inserting(value, forKey: key, into: node.left)
            return (balanced(key: node.key, value: node.value, left: left, right: node.right), replaced)
        }
        if node.key < key {
            let (right, replaced) = inserting(value, forKey: key, into: node.right)
            return (balanced(key: node.key, value: node.value, left: node.left, right: right), replaced)
        }
        // The key is here: same shape, new value (the stored key is kept, as a Dictionary keeps it).
        return (Node(key: node.key, value: value, left: node.left, right: node.right), node.value)
    }

    /// The subtree `node` without `key`, and the value removed; nil when `key` is not in it, in which
    /// case nothing is copied. Copies the nodes on the path to `key`, rebalancing each on the way back up.
    static func removing(_ key: Key, from node: Node?) -> (node: Node?, removed: Value)? {
        guard let node else { return nil }
        if key < node.key {
            guard let result = removing(key, from: node.left) else { return nil }
            return (balanced(key: node.key, value: node.value, left: result.node, right: node.right), result.removed)
        }
        if node.key < key {
            guard let result = removing(key, from: node.right) else { return nil }
            return (balanced(key: node.key, value: node.value, left: node.left, right: result.node), result.removed)
        }
        guard let left = node.left else { return (node.right, node.value) }
        guard let right = node.right else { return (left, node.value) }
        // Two subtrees: the least entry of the greater one takes this node's place.
        let (successor, rest) = removingFirst(from: right)
        return (balanced(key: successor.key, value: successor.value, left: left, right: rest), node.value)
    }

    /// The least entry of the subtree `node` (as its node), and the subtree without it.
    private static func removingFirst(from node: Node) -> (first: Node, rest: Node?) {
        guard let left = node.left else { return (node, node.right) }
        let (first, rest) = removingFirst(from: left)
        return (first, balanced(key: node.key, value: node.value, left: rest, right: node.right))
    }

    /// A node for an entry over two balanced subtrees whose heights differ by at most two — as they do
    /// after one insertion or removal below a balanced node — rotated so that they differ by at most one.
    ///
    /// When the taller subtree leans outwards (or not at all) one rotation lifts it; when it leans inwards,
    /// its inner child is lifted to the top instead (the double rotation).
    private static func balanced(key: Key, value: Value, left: Node?, right: Node?) -> Node {
        let leftHeight = Node.height(of: left)
        let rightHeight = Node.height(of: right)
        if leftHeight > rightHeight + 1, let left {
            if Node.height(of: left.left) >= Node.height(of: left.right) {
                return Node(
                    key: left.key, value: left.value, left: left.left,
                    right: Node(key: key, value: value, left: left.right, right: right)
                )
            }
            let inner = left.right!  // Taller than left.left, so not empty.
            return Node(
                key: inner.key, value: inner.value,
                left: Node(key: left.key, value: left.value, left: left.left, right: inner.left),
                right: Node(key: key, value: value, left: inner.right, right: right)
            )
        }
        if rightHeight > leftHeight + 1, let right {
            if Node.height(of: right.right) >= Node.height(of: right.left) {
                return Node(
                    key: right.key, value: right.value,
                    left: Node(key: key, value: value, left: left, right: right.left),
                    right: right.right
                )
            }
            let inner = right.left!  // Taller than right.right, so not empty.
            return Node(
                key: inner.key, value: inner.value,
                left: Node(key: key, value: value, left: left, right: inner.left),
                right: Node(key: right.key, value: right.value, left: inner.right, right: right.right)
            )
        }
        return Node(key: key, value: value, left: left, right: right)
    }
}

// MARK: Building from sorted entries

extension PersistentSortedMap {
    /// A perfectly balanced tree of `entries[range]`, which are in strictly increasing key order: the
    /// middle entry at the top, each half below it built the same way. O(range.count) nodes, recursion
    /// O(log n) deep.
    static func built(from entries: [(key: Key, value: Value)], _ range: Range<Int>) -> Node? {
        guard !range.isEmpty else { return nil }
        let middle = range.lowerBound + range.count / 2
        return Node(
            key: entries[middle].key, value: entries[middle].value,
            left: built(from: entries, range.lowerBound..<middle),
            right: built(from: entries, (middle + 1)..<range.upperBound)
        )
    }
}
