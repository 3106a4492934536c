import CohortCore

extension ProcessRuntime {
    /// An encoded signal arrived from `node` (called by the node's mesh wiring, in arrival order per node).
    ///
    /// Bytes that do not decode are counted (`processes_messages_dropped_total{reason="decode_error"}`) and logged,
    /// never trusted or crashed on.
    public func receive(_ signal: [UInt8], from node: NodeID) {
        let decoded: ProcessSignal
        do {
            decoded = try ProcessSignalCodec.decode(signal)
        } catch {
            metrics.dropped(.decodeError)
            logger.warning("undecodable process signal: \(error)", metadata: ["peer": "\(node)"])
            return
        }
        perform(path: .remoteIn) { $0.receive(decoded, from: node) }
    }

    /// `node` is a member in boot `incarnation`; signals to it go through the transport from now on. A newer boot than
    /// the one known means the old boot's processes are dead: monitors on them fire `.nodeDown` and links propagate it.
    public func nodeUp(_ node: NodeID, incarnation: Incarnation) {
        perform { $0.nodeUp(node, incarnation: incarnation) }
    }

    /// `node` left membership: monitors on its processes fire `.nodeDown` and links to them propagate it (without any
    /// word from that node), and the monitors and links its processes held here are dropped. Messages to it are
    /// dropped (reason `node_down`) until it is up again.
    public func nodeDown(_ node: NodeID) {
        perform { $0.nodeDown(node) }
    }
}
