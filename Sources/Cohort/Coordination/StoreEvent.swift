import CoordinationCore

/// One change of a store's key, as a watch delivers it.
public struct StoreEvent: Sendable, Hashable {
    /// A put or a delete (including a TTL's expiry).
    public enum Kind: String, Sendable, Hashable {
        case put, delete
    }

    /// What happened.
    public var kind: Kind
    /// The store.
    public var store: String
    /// The key.
    public var key: String
    /// The new value (nil for a delete).
    public var value: [UInt8]?
    /// The change's version: the Raft index of the entry that made it. Strictly increasing across a
    /// store's events, so a watch resumes after the last one it saw.
    public var version: UInt64

    /// An event.
    public init(kind: Kind, store: String, key: String, value: [UInt8]?, version: UInt64) {
        self.kind = kind
        self.store = store
        self.key = key
        self.value = value
        self.version = version
    }

    /// The event of a coordination change, when it is a key change.
    init?(_ change: CoordinationChange) {
        switch change {
        case .put(let store, let key, let value):
            self.init(kind: .put, store: store.string, key: key.string, value: value.value, version: value.version)
        case .delete(let store, let key, let version):
            self.init(kind: .delete, store: store.string, key: key.string, value: nil, version: version)
        default:
            return nil
        }
    }
}

/// Why a watch cannot start or had to end.
public enum WatchError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The changes after the version asked for are no longer kept; `oldest` is the earliest version a
    /// watch can start from (list the store, then watch from there).
    case compacted(oldest: UInt64)
    /// The watcher read too slowly and its backlog filled; resume from the last version it saw.
    case fellBehind
    /// This node's replica was replaced by a snapshot from the leader: resume from the last version seen
    /// (on this node, or another).
    case replicaReplaced(oldest: UInt64)
    /// A client node's watch could not reach a Raft member to read changes from (`reason`); resume from
    /// the last version seen.
    case interrupted(String)

    public var description: String {
        switch self {
        case .compacted(let oldest): "the history before version \(oldest) is compacted"
        case .fellBehind: "the watcher fell behind; resume from the last version it saw"
        case .replicaReplaced(let oldest): "this node's replica was replaced by a snapshot; resume from a version at or after \(oldest)"
        case .interrupted(let reason): "no Raft member could be reached to watch from (\(reason)); resume from the last version seen"
        }
    }
}
