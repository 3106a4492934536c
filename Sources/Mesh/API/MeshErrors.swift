import CohortCore

/// Why a message was not sent or delivered; the `reason` label of `internode_dropped_total`.
public enum MeshDropReason: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// The (peer, class) queue was full.
    case queueFull = "queue_full"
    /// No ``MeshService/setPeer(_:host:port:incarnation:)`` for the peer (and no connection from it).
    case unknownPeer = "unknown_peer"
    /// The payload is larger than ``MeshSettings/maxMessageBytes``.
    case tooLarge = "too_large"
    /// The peer left membership while the message was queued.
    case peerRemoved = "peer_removed"
    /// The peer restarted (new incarnation) after the message was sent but before it was acknowledged.
    case peerRestarted = "peer_restarted"
    /// A request whose deadline passed before it could be sent or handled.
    case expired
    /// An incoming message for an endpoint with no handler.
    case noHandler = "no_handler"
    /// A reply to a request whose connection is gone (the requester was told `connectionLost`).
    case connectionLost = "connection_lost"
    /// The service is not running any more.
    case stopped

    public var description: String { rawValue }
}

/// The outcome of ``MeshService/send(_:to:endpoint:class:)``: queued is not delivered.
public enum MeshSendResult: Sendable, Equatable {
    /// Queued for the peer; it goes out when connected, in order within its class.
    case queued
    /// Not queued, and counted in `internode_dropped_total{reason}`.
    case dropped(MeshDropReason)
}

/// What went wrong in the mesh; each message says what happened and what to do.
public enum MeshError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No reply within the request's timeout.
    case timeout(peer: NodeID, after: Duration)
    /// The peer was removed from membership while the request was pending.
    case peerRemoved(NodeID)
    /// The peer is not known: no `setPeer` and no connection from it.
    case unknownPeer(NodeID)
    /// The connection the request was written on was lost (requests outside the relay class are not
    /// resent).
    case connectionLost(NodeID)
    /// The remote request handler threw; the text is its error's description.
    case remote(String)
    /// The remote node has no request handler for the endpoint.
    case noHandler(MeshEndpoint)
    /// The remote node was handling too many requests at once.
    case overloaded(NodeID)
    /// A payload larger than ``MeshSettings/maxMessageBytes``.
    case tooLarge(bytes: Int, limit: Int)
    /// The request could not be queued.
    case dropped(peer: NodeID, reason: MeshDropReason)
    /// The service has stopped.
    case stopped
    /// The settings are not usable.
    case invalidSettings(String)
    /// No port could be bound.
    case bindFailed(address: String, reason: String)

    public var description: String {
        switch self {
        case .timeout(let peer, let after):
            "no reply from \(peer) within \(after); the peer may be slow, partitioned or down — retry or raise the timeout"
        case .peerRemoved(let peer):
            "\(peer) left membership while the request was pending; do not retry against it"
        case .unknownPeer(let peer):
            "\(peer) is not a known peer; wait until membership reports it (setPeer) before sending"
        case .connectionLost(let peer):
            "the connection to \(peer) was lost after the request was sent; it may or may not have been handled — retry if idempotent"
        case .remote(let message):
            "the remote handler failed: \(message)"
        case .noHandler(let endpoint):
            "the remote node has no handler for mesh endpoint \(endpoint); is it running the same version?"
        case .overloaded(let peer):
            "\(peer) refused the request: too many requests in flight; retry later"
        case .tooLarge(let bytes, let limit):
            "payload of \(bytes) bytes exceeds maxMessageBytes \(limit); split it or raise the limit"
        case .dropped(let peer, let reason):
            "the request to \(peer) was not queued (\(reason)); the queue is full or the peer unknown — retry later"
        case .stopped:
            "the mesh service is not running"
        case .invalidSettings(let problem):
            "invalid mesh settings: \(problem)"
        case .bindFailed(let address, let reason):
            "cannot listen on \(address): \(reason); free the port or set a different internode port"
        }
    }
}
