import Gossip

/// The fields of this node's gossip metadata that Raft membership sets during one round of its loop,
/// collected so that they go out as one announcement (each announcement is an alive broadcast to every
/// node). Field by field, so a change another service made meanwhile (the mesh's port) is kept.
struct OwnMetaChanges: Equatable {
    var bootstrapStatus: NodeMeta.BootstrapStatus?
    var bootstrapProposal: UInt64?
    var raftGroup: String?

    var isEmpty: Bool { self == OwnMetaChanges() }

    /// Sets the collected fields in `meta`.
    func apply(to meta: inout NodeMeta) {
        if let bootstrapStatus { meta.bootstrapStatus = bootstrapStatus }
        if let bootstrapProposal { meta.bootstrapProposal = bootstrapProposal }
        if let raftGroup { meta.raftGroup = raftGroup }
    }

    /// `meta` with the collected fields set.
    func applied(to meta: NodeMeta) -> NodeMeta {
        var meta = meta
        apply(to: &meta)
        return meta
    }
}
