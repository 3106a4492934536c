/// A broken invariant of a ``PersistentSortedMap`` tree, found by `checkInvariants()`: a bug in the map.
struct PersistentSortedMapInvariantViolation: Error, CustomStringConvertible {
    /// What is wrong, and at which key.
    let description: String
}

extension PersistentSortedMap {
    /// The height of the tree: 0 when empty, 1 for one entry. O(1). For tests of the balance.
    var height: Int { Node.height(of: root) }

    /// Checks the whole tree, for tests: keys in strictly increasing order, every node's cached count and
    /// height equal to what its subtrees hold, and the heights of every node's two subtrees within one of
    /// each other. O(n) time, recursion O(log n) deep. Throws the first violation found.
    func checkInvariants() throws(PersistentSortedMapInvariantViolation) {
        _ = try Self.check(root, above: nil, below: nil)
    }

    /// Checks the subtree `node`, whose keys must lie strictly between `lower` and `upper` (either end
    /// open when nil), and returns its actual height and count.
    private static func check(
        _ node: Node?, above lower: Key?, below upper: Key?
    ) throws(PersistentSortedMapInvariantViolation) -> (height: Int, count: Int) {
        guard let node else { return (0, 0) }
        if let lower, !(lower < node.key) {
            throw PersistentSortedMapInvariantViolation(description: "key \(node.key) is not greater than \(lower), an ancestor on its left")
        }
        if let upper, !(node.key < upper) {
            throw PersistentSortedMapInvariantViolation(description: "key \(node.key) is not less than \(upper), an ancestor on its right")
        }
        let left = try check(node.left, above: lower, below: node.key)
        let right = try check(node.right, above: node.key, below: upper)
        guard abs(left.height - right.height) <= 1 else {
            throw PersistentSortedMapInvariantViolation(
                description: "node \(node.key) is out of balance: its subtrees are \(left.height) and \(right.height) high"
            )
        }
        let height = Swift.max(left.height, right.height) + 1
        guard node.height == height else {
            throw PersistentSortedMapInvariantViolation(description: "node \(node.key) caches height \(node.height), is \(height) high")
        }
        let count = left.count + 1 + right.count
        guard node.count == count else {
            throw PersistentSortedMapInvariantViolation(description: "node \(node.key) caches count \(node.count), holds \(count)")
        }
        return (height, count)
    }
}
