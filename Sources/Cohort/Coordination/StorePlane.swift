import CohortCore
import PlaneCore

/// What a `kv.crdt` store needs of the plane that holds its entries: this node's copy, a way to write
/// into it, a way to seed it from the durable copy before the node joins, and the changes as this node
/// applies them (its own writes and merged remote ones, in the order it applied them).
///
/// The state planes' ``Plane`` (`kv:<store>`, replicated to every member by gossip; this node's copy
/// alone with the cluster disabled) provides it; tests put a plane with a manual clock in its place.
protocol StorePlane: AnyObject, Sendable {
    /// The plane's entries now (an O(1) snapshot).
    var state: PlaneState { get }
    /// Writes `value` at `key` (nil: a tombstone) stamped by this node's clock; returns the entry made.
    @discardableResult
    func write(_ key: [UInt8], value: [UInt8]?, expiresAtMillis: UInt64?) -> PlaneEntry
    /// Merges a durable copy's entries, before the node joins; the clock resumes past every stamp.
    func load(_ entries: [PlaneEntry])
    /// The changes this node applies from now on. `.resync` says some were not delivered (the stream
    /// fell behind): read ``state`` again.
    func changes() -> AsyncStream<PlaneEvent>
}

extension Plane: StorePlane {}

