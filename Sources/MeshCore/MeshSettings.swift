import CohortCore

/// Everything a ``MeshService`` needs: identity, socket, cluster key, limits, queues and timing.
///
/// The defaults are pinned by a test, so this documentation and the code cannot drift.
public struct MeshSettings: Sendable {
    /// This node's name (`cluster.name`); 1…255 bytes of UTF-8. Of two nodes dialling each other at once,
    /// the smaller ID's connection is kept.
    public var nodeID: NodeID
    /// This node's boot identity; a peer that sees it change resets its reliable stream to us.
    public var incarnation: Incarnation
    /// The address the listener binds to. Default `0.0.0.0`.
    public var bindHost: String = "0.0.0.0"
    /// The listening port. Default 0: the first free port of 7950…7959, else an ephemeral port. Whatever
    /// is bound is kept for the service's life; read it from ``MeshService/boundPort``.
    public var bindPort: Int = 0
    /// The host peers should dial, for the node to advertise. Default nil: ``bindHost`` unless that is a
    /// wildcard, in which case the node advertises the gossip address.
    public var advertiseHost: String?
    /// Cluster keys of 16, 24 or 32 bytes, the primary (the one we dial with) first; the gossip
    /// `secret_key` ring. Default empty: plaintext, with a loud warning at start.
    public var keyring: [[UInt8]] = []
    /// Largest frame accepted or sent, before sealing. Default 16 MiB. A longer length prefix closes the
    /// connection before anything is buffered.
    public var maxFrameBytes: Int = 16 << 20
    /// Payloads larger than this are sent as chunk frames of this size, so one big message cannot hold the
    /// socket while Raft waits. Default 64 KiB.
    public var chunkBytes: Int = 64 << 10
    /// Largest message (one payload, reassembled from chunks). Default 64 MiB.
    public var maxMessageBytes: Int = 64 << 20
    /// The bound and drop policy of each class's per-peer queue.
    public var queues = MeshQueueSettings()
    /// How long a dial may take to connect. Default 2 s.
    public var connectTimeout: Duration = .seconds(2)
    /// How long a connection may take from accept or connect to a finished handshake. Default 5 s.
    public var handshakeTimeout: Duration = .seconds(5)
    /// Pauses between dial attempts.
    public var reconnect = MeshBackoffSettings()
    /// How often the keepalive looks at a connection; one on which nothing arrived since the last look is
    /// pinged. Traffic (Raft heartbeats, relay, a peer's own ping) counts, so a busy connection is never
    /// pinged and an idle one costs one ping and one pong per interval. Default 5 s: with a connection
    /// to every member, keepalives are most of an idle node's mesh work (and gossip, not the mesh, tells
    /// that a node died).
    public var keepaliveInterval: Duration = .seconds(5)
    /// A connection that receives nothing (not even a pong) for this long is closed. Default 15 s.
    public var deadPeerTimeout: Duration = .seconds(15)
    /// A connection idle this long — nothing sent or received beyond keepalives, nothing queued, no
    /// request under way either way — is closed; the next message dials again. Checked once the keepalive
    /// has parked (after one to two ``keepaliveInterval``s of quiet), so a connection closes 1–2 intervals
    /// plus this after its last use. Default 60 s; nil keeps connections open (`cluster.internode.idle_timeout: 0`).
    public var idleTimeout: Duration? = .seconds(60)
    /// The longest a delivered relay message waits to be acknowledged. Default 20 ms.
    public var ackInterval: Duration = .milliseconds(20)
    /// Acknowledge at once after this many relay messages, whatever the interval. Default 256.
    public var ackEveryMessages: Int = 256
    /// The kernel send and receive buffer of every mesh socket. Default 256 KiB. Whatever sits in these
    /// buffers is ahead of a Raft frame no matter its priority (TCP is one ordered stream), so they are
    /// kept small instead of autotuned to megabytes; on loopback and a LAN this still carries hundreds of
    /// MB/s. Raise it for high-latency links (throughput ≤ buffer / RTT); 0 leaves the kernel's autotuning.
    public var socketBufferBytes: Int = 256 << 10
    /// Incoming requests handled at once, over all peers; more get an `overloaded` error reply. Default 4096.
    public var maxConcurrentRequests: Int = 4096
    /// Incoming connections served at once (including ones still in their handshake). Default 1024.
    public var maxInboundConnections: Int = 1024

    /// Settings with every default; only the identity is required.
    public init(nodeID: NodeID, incarnation: Incarnation) {
        self.nodeID = nodeID
        self.incarnation = incarnation
    }

}

/// What a full queue does with one more message.
public enum MeshDropPolicy: Sendable, Equatable {
    /// Refuse the new message (`send` returns `.dropped(.queueFull)`).
    case dropNewest
    /// Drop the oldest message not yet started, then queue the new one.
    case dropOldest
}

/// The bound of one class's queue to one peer: whichever of the two limits is reached first.
public struct MeshQueueLimit: Sendable, Equatable {
    /// Messages held at most.
    public var maxMessages: Int
    /// Payload bytes held at most.
    public var maxBytes: Int
    /// What happens to one more message when full.
    public var policy: MeshDropPolicy

    /// Creates a limit.
    public init(maxMessages: Int, maxBytes: Int, policy: MeshDropPolicy = .dropNewest) {
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
        self.policy = policy
    }
}

/// The per-peer queue of every traffic class.
public struct MeshQueueSettings: Sendable, Equatable {
    /// Default 1024 messages, 8 MiB, drop newest.
    public var control = MeshQueueLimit(maxMessages: 1024, maxBytes: 8 << 20)
    /// Default 8192 messages, 64 MiB, drop newest (Raft retransmits).
    public var raft = MeshQueueLimit(maxMessages: 8192, maxBytes: 64 << 20)
    /// Default 65 536 messages, 128 MiB, drop newest; counts messages sent but not yet acknowledged.
    public var relay = MeshQueueLimit(maxMessages: 65_536, maxBytes: 128 << 20)
    /// Default 64 messages, 256 MiB, drop newest.
    public var bulk = MeshQueueLimit(maxMessages: 64, maxBytes: 256 << 20)

    /// The defaults.
    public init() {}

    /// The limit of `trafficClass`.
    public subscript(_ trafficClass: TrafficClass) -> MeshQueueLimit {
        get {
            switch trafficClass {
            case .control: control
            case .raft: raft
            case .relay: relay
            case .bulk: bulk
            }
        }
        set {
            switch trafficClass {
            case .control: control = newValue
            case .raft: raft = newValue
            case .relay: relay = newValue
            case .bulk: bulk = newValue
            }
        }
    }
}

/// Exponential backoff between dial attempts, reset by a successful handshake.
public struct MeshBackoffSettings: Sendable, Equatable {
    /// The first pause. Default 50 ms.
    public var initial: Duration = .milliseconds(50)
    /// The longest pause; pauses double up to it. Default 5 s.
    public var maximum: Duration = .seconds(5)
    /// Each pause is scaled by a random factor in 1 ± jitter, so peers do not redial in lockstep.
    /// Default 0.2.
    public var jitter: Double = 0.2

    /// The defaults.
    public init() {}
}
