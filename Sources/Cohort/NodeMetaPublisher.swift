import Gossip
import Logging
import Synchronization

/// This node's gossip metadata, changed by more than one service (the mesh advertises its port, Raft its
/// bootstrap status): each change is applied to the one current copy and republished whole.
final class NodeMetaPublisher: Sendable {
    private let gossip: GossipService
    private let logger: Logger
    private let current: Mutex<NodeMeta>

    init(meta: NodeMeta, gossip: GossipService, logger: Logger) {
        current = Mutex(meta)
        self.gossip = gossip
        self.logger = logger
    }

    /// The metadata as last published (or as configured, before any change).
    var meta: NodeMeta { current.withLock { $0 } }

    /// Applies `change` and publishes the result when it differs.
    func update(_ change: (inout NodeMeta) -> Void) async {
        let (changed, meta) = current.withLock { meta -> (Bool, NodeMeta) in
            let before = meta
            change(&meta)
            return (meta != before, meta)
        }
        guard changed else { return }
        do {
            await gossip.updateMeta(try meta.encoded())
        } catch {
            // Only oversized fields fail to encode, and the configuration rejects those.
            logger.error("cannot publish the node's gossip metadata", metadata: ["error": "\(error)"])
        }
    }
}
