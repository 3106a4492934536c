/// A map from keys to values kept in key order, whose copies cost nothing: a persistent AVL tree.
///
/// It holds the replicated state of the coordination state machine (up to millions of keys). The struct
/// is one reference to a root node and nodes never change once built, so a copy is O(1) and stays the
/// version it was, whatever is written afterwards: a reader or a snapshot serializer takes the current
/// version and walks it on another thread while the apply loop goes on writing new versions. A write
/// copies the nodes on the path from the root to its key (O(log n) of them) and shares every other node
/// with the version before it.
///
/// Why a map of our own: swift-collections' `SortedDictionary` is an unstable prototype behind a package
/// trait, and its `TreeDictionary` is persistent but hashed, so it has no key order. The state machine
/// needs the order for range reads and listings, and for snapshots that are the same bytes on every
/// replica.
///
/// Why AVL rather than weight-balanced: on a path-copying tree the height is the price of everything —
/// a lookup compares one key per level, and a write allocates one new node per level. An AVL tree is
/// never taller than about 1.44·log₂(n + 2), where a weight-balanced tree with the usual ⟨3, 2⟩
/// parameters may reach about 2.4·log₂(n + 1). Each node caches its subtree's height (for the balance)
/// and entry count (so ``count`` is O(1) with the struct still one reference); both are computed when the
/// node is built, never updated.
///
/// Nodes are `final class`es with `let` properties only, so the map is `Sendable` because it is
/// immutable, not by promise.
public struct PersistentSortedMap<Key: Comparable & Sendable, Value: Sendable>: Sendable {
    /// The root of the tree; nil when the map is empty.
    var root: Node?

    /// An empty map.
    public init() {
        root = nil
    }

    /// The number of entries. O(1).
    public var count: Int { root?.count ?? 0 }

    /// True when the map has no entry. O(1).
    public var isEmpty: Bool { root == nil }

    /// The value stored for `key`, nil when there is none. Reading is O(log n). Setting a value stores it
    /// (``updateValue(_:forKey:)``), setting nil removes the key (``removeValue(forKey:)``); both copy
    /// O(log n) nodes.
    public subscript(key: Key) -> Value? {
        get {
            node(for: key)?.value
        }
        set {
            if let newValue {
                updateValue(newValue, forKey: key)
            } else {
                removeValue(forKey: key)
            }
        }
    }

    /// True when the map holds `key`. O(log n).
    public func contains(_ key: Key) -> Bool {
        node(for: key) != nil
    }

    /// The entry with the least key, nil when the map is empty. O(log n).
    public var first: (key: Key, value: Value)? {
        guard var node = root else { return nil }
        while let left = node.left { node = left }
        return (node.key, node.value)
    }

    /// The entry with the greatest key, nil when the map is empty. O(log n).
    public var last: (key: Key, value: Value)? {
        guard var node = root else { return nil }
        while let right = node.right { node = right }
        return (node.key, node.value)
    }

    /// Stores `value` for `key` and returns the value it replaced, nil when the key is new. O(log n): it
    /// copies the path to the key, and rebalances it when the key is new. Copies of the map taken before
    /// keep the old value.
    @discardableResult
    public mutating func updateValue(_ value: Value, forKey key: Key) -> Value? {
        let result = Self.inserting(value, forKey: key, into: root)
        root = result.node
        return result.replaced
    }

    /// Removes `key` and returns its value, nil when the map did not hold it. O(log n): it copies the path
    /// to the key and rebalances it; a key that is not there copies nothing. Copies of the map taken
    /// before keep the entry.
    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        guard let result = Self.removing(key, from: root) else { return nil }
        root = result.node
        return result.removed
    }

    /// The node holding `key`, if any.
    private func node(for key: Key) -> Node? {
        var next = root
        while let node = next {
            if key < node.key {
                next = node.left
            } else if node.key < key {
                next = node.right
            } else {
                return node
            }
        }
        return nil
    }
}

extension PersistentSortedMap: Equatable where Value: Equatable {
    /// True when both maps hold the same entries, whatever the shape of their trees. O(1) for two copies
    /// of one version or maps of different counts, O(n) otherwise.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        if lhs.root === rhs.root { return true }
        guard lhs.count == rhs.count else { return false }
        return lhs.elementsEqual(rhs) { $0.key == $1.key && $0.value == $1.value }
    }
}
