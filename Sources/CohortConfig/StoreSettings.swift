/// The replication model of a declared store (`stores[].kind`).
public enum StoreKind: String, Sendable, Equatable, CaseIterable {
    /// Linearizable, through Raft.
    case raft = "kv.raft"
    /// Eventual, last-writer-wins by hybrid logical clock, over gossip.
    case crdt = "kv.crdt"
    /// This node only.
    case local = "kv.local"
}

/// One item of `stores`: a declared key-value store.
public struct StoreSettings: Sendable, Equatable {
    /// `name`: unique, non-empty, not starting with `_` (reserved).
    public var name: String
    /// `kind`: `kv.raft`, `kv.crdt` or `kv.local`. Required.
    public var kind: StoreKind
    /// `durable`: keep the data on disk under the data directory. Default: true.
    public var durable: Bool

    /// Creates a store declaration.
    public init(name: String, kind: StoreKind, durable: Bool = true) {
        self.name = name
        self.kind = kind
        self.durable = durable
    }
}
