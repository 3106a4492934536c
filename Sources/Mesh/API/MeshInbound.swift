import CohortCore

/// One message or request received from a peer, handed to the endpoint's handler.
public struct MeshInbound: Sendable {
    /// The sending node.
    public let from: NodeID
    /// The sender's incarnation, from the connection's handshake.
    public let incarnation: Incarnation
    /// The endpoint it was sent to.
    public let endpoint: MeshEndpoint
    /// The class it travelled in.
    public let trafficClass: TrafficClass
    /// The payload, reassembled if it was chunked.
    public let payload: [UInt8]

    /// Creates an inbound message (the service does; tests may too).
    public init(from: NodeID, incarnation: Incarnation, endpoint: MeshEndpoint, trafficClass: TrafficClass, payload: [UInt8]) {
        self.from = from
        self.incarnation = incarnation
        self.endpoint = endpoint
        self.trafficClass = trafficClass
        self.payload = payload
    }
}

/// A change in the mesh's connections, as seen by ``MeshService/peerEvents``.
public enum MeshPeerEvent: Sendable, Equatable {
    /// A connection to the peer finished its handshake. A connection that replaces another (the peer
    /// redialled) is reported again, without a `disconnected` in between.
    case connected(NodeID, Incarnation)
    /// The peer's connection ended; it is still a peer, and we (or it) will redial.
    case disconnected(NodeID)
    /// ``MeshService/removePeer(_:)`` forgot the peer: its queues were dropped and its requests failed.
    case removed(NodeID)
}
