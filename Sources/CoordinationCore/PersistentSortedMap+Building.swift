/// Why entries handed to ``PersistentSortedMap/init(validatingSorted:)`` were refused.
///
/// Positions count the entries of the input from 0; each names the first entry that is not greater
/// than the one before it.
public enum PersistentSortedMapError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The entry at `position` has a key less than the key before it.
    case outOfOrder(position: Int)
    /// The entry at `position` has the same key as the entry before it.
    case duplicateKey(position: Int)

    /// One line for logs and test failures.
    public var description: String {
        switch self {
        case .outOfOrder(let position): "entry \(position) has a key less than the entry before it"
        case .duplicateKey(let position): "entry \(position) repeats the key of the entry before it"
        }
    }
}

extension PersistentSortedMap {
    /// A map of `entries`, given in strictly increasing key order, as a perfectly balanced tree: the
    /// snapshot restore path. O(n), and no rebalancing, where n inserts would cost O(n log n).
    ///
    /// The order is checked as the entries are read: input that is not strictly increasing (an entry
    /// out of order, or a key twice) traps, naming the position. Entries decoded from bytes that came
    /// from elsewhere go through ``init(validatingSorted:)`` instead.
    public init<Entries: Sequence>(sortedUniqueEntries entries: Entries)
    where Entries.Element == (key: Key, value: Value) {
        do {
            root = try Self.balancedTree(of: entries)
        } catch {
            preconditionFailure("PersistentSortedMap(sortedUniqueEntries:): \(error)")
        }
    }

    /// A map of `entries`, which must be in strictly increasing key order, as a perfectly balanced tree;
    /// for entries restored from bytes that cannot be trusted. O(n).
    ///
    /// Throws ``PersistentSortedMapError`` naming the first entry whose key is not greater than the one
    /// before it: ``PersistentSortedMapError/duplicateKey(position:)`` when it is equal,
    /// ``PersistentSortedMapError/outOfOrder(position:)`` when it is less.
    public init<Entries: Sequence>(validatingSorted entries: Entries) throws(PersistentSortedMapError)
    where Entries.Element == (key: Key, value: Value) {
        root = try Self.balancedTree(of: entries)
    }

    /// The entries gathered (checking their order) and built into a perfectly balanced tree.
    private static func balancedTree<Entries: Sequence>(
        of entries: Entries
    ) throws(PersistentSortedMapError) -> Node? where Entries.Element == (key: Key, value: Value) {
        var sorted: [(key: Key, value: Value)] = []
        sorted.reserveCapacity(entries.underestimatedCount)
        for entry in entries {
            if let previous = sorted.last, !(previous.key < entry.key) {
                if previous.key == entry.key { throw .duplicateKey(position: sorted.count) }
                throw .outOfOrder(position: sorted.count)
            }
            sorted.append(entry)
        }
        return built(from: sorted, sorted.indices)
    }
}
