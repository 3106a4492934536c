import CohortCore
import Synchronization

/// memberlist's delegate pair for push/pull (`LocalState(join)` and `MergeRemoteState(buf, join)`): the
/// bytes a layer above gossip adds to every push/pull this node sends or answers, and what it receives
/// in the other side's. Cohort's state planes put their digests here (see docs/planes.md).
///
/// Both closures are called on the gossip service's event loop, once per push/pull: they must be quick
/// and must not block (hand work off). With no delegate, or one that returns no bytes, the push/pull is
/// byte-identical to one without a delegate (`UserStateLen` 0).
public struct GossipStateDelegate: Sendable {
    /// This node's state for a push/pull it sends (initiating side) or answers (answering side); `join`
    /// is true for a join's push/pull. Empty: none.
    public var localState: @Sendable (_ join: Bool) -> [UInt8]
    /// The other side's non-empty state, once its push/pull has been merged into membership. `peer` is
    /// the other node when known: always on the initiating side of a periodic push/pull; on a join's
    /// push/pull and on the answering side, the one node of the remote state whose address matches the
    /// connection's (nil when that is not exactly one node). Never called for an empty state, nor for a
    /// push/pull refused for incompatible versions.
    public var mergeRemoteState: @Sendable (_ state: [UInt8], _ join: Bool, _ peer: NodeID?) -> Void

    /// A delegate.
    public init(
        localState: @escaping @Sendable (_ join: Bool) -> [UInt8],
        mergeRemoteState: @escaping @Sendable (_ state: [UInt8], _ join: Bool, _ peer: NodeID?) -> Void
    ) {
        self.localState = localState
        self.mergeRemoteState = mergeRemoteState
    }
}

extension GossipService {
    /// Installs (or, with nil, removes) the push/pull state delegate. Callable at any time; push/pulls
    /// already under way keep the delegate they started with.
    public nonisolated func setStateDelegate(_ delegate: GossipStateDelegate?) {
        stateDelegate.withLock { $0 = delegate }
    }

    /// The delegate's state for an outgoing push/pull (empty without a delegate).
    nonisolated func delegateLocalState(join: Bool) -> [UInt8] {
        guard let delegate = stateDelegate.withLock({ $0 }) else { return [] }
        return delegate.localState(join)
    }

    /// Hands a merged push/pull's non-empty user state to the delegate.
    nonisolated func delegateMerge(_ remote: PushPullMessage, peer: NodeID?, peerIP: [UInt8]?) {
        guard !remote.userState.isEmpty, let delegate = stateDelegate.withLock({ $0 }) else { return }
        var sender = peer
        if sender == nil, let peerIP {
            let matching = remote.nodes.filter { $0.address == peerIP }
            if matching.count == 1 { sender = NodeID(matching[0].name) }
        }
        delegate.mergeRemoteState(remote.userState, remote.join, sender)
    }
}
