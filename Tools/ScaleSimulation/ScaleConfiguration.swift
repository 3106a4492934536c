import CohortCore
import CohortTestKit
import GossipCore
import NIOCore

/// How a scale run is built: N gossip nodes that all start within a short window and join through a few
/// seeds, and the Raft members among them.
struct ScaleConfiguration: Sendable {
    /// How many nodes, named `node-0` …
    var size: Int
    /// Seeds the network, every node's random stream and the choices of the scenario.
    var seed: UInt64 = 1
    /// Every node's SWIM tuning (memberlist's LAN preset, Cohort's default).
    var settings: SWIMSettings = .lan
    /// Every link's conditions.
    var conditions: LinkConditions = .lan
    /// Each node starts at a random instant in `0 ..< startWindow`.
    var startWindow: Duration = .seconds(1)
    /// Nodes `0 ..< seedCount` are the `join_addrs` every node joins through.
    var seedCount = 3
    /// LZW-compress datagrams and streams. Off by default here: with compression the codec is most of a
    /// run's CPU; the messages, compounds and CRCs are still encoded and decoded for real.
    var compression = false
    /// `max_voters` and `max_standbys` of the voter reconciler.
    var maxVoters = 5
    var maxStandbys = 4
    /// `cluster.raft.heartbeat_interval` (the Raft shell ticks once per heartbeat).
    var raftHeartbeat: Duration = .milliseconds(500)
    /// `cluster.raft.election_timeout` ÷ heartbeat (2 s ÷ 500 ms).
    var raftElectionTicks = 4
    /// Standbys hear every 4th heartbeat, as `RaftServiceSettings` sets it.
    var raftStandbyHeartbeatRounds = 4
}

/// What travels between simulated nodes: memberlist's bytes as the gossip shell puts them on UDP or TCP,
/// and encoded Raft messages as the mesh carries them.
enum ScaleTraffic: Sendable {
    /// A UDP datagram from `PacketEncoder.seal`.
    case datagram(ByteBuffer)
    /// A TCP fallback ping.
    case tcpPing(ByteBuffer)
    /// The answer to a TCP ping.
    case tcpAck(ByteBuffer)
    /// The initiator's side of a push/pull.
    case pushPull(ByteBuffer)
    /// The responder's side of a push/pull.
    case pushPullReply(ByteBuffer)
    /// A Raft message from `MessageCodec`.
    case raft([UInt8])
}

/// What one node sent, counted as the shell would count it on its sockets.
struct NodeTraffic: Sendable, Codable, Hashable {
    /// UDP datagrams (each a compound of gossip messages, or one message).
    var datagrams = 0
    /// Gossip messages inside those datagrams.
    var gossipMessages = 0
    /// Of those, membership and user broadcasts (alive, suspect, dead, user): the dissemination load.
    var broadcasts = 0
    /// TCP exchanges opened or answered: fallback pings and acks, push/pulls and their replies.
    var streams = 0
    /// Bytes of datagrams and streams.
    var gossipBytes = 0
    /// Raft messages (over the mesh).
    var raftMessages = 0
    /// Bytes of encoded Raft messages.
    var raftBytes = 0

    /// Datagrams and streams: the packets the gossip layer puts on the network.
    var gossipPackets: Int { datagrams + streams }

    static func - (lhs: NodeTraffic, rhs: NodeTraffic) -> NodeTraffic {
        NodeTraffic(
            datagrams: lhs.datagrams - rhs.datagrams, gossipMessages: lhs.gossipMessages - rhs.gossipMessages,
            broadcasts: lhs.broadcasts - rhs.broadcasts, streams: lhs.streams - rhs.streams,
            gossipBytes: lhs.gossipBytes - rhs.gossipBytes, raftMessages: lhs.raftMessages - rhs.raftMessages,
            raftBytes: lhs.raftBytes - rhs.raftBytes
        )
    }

    static func + (lhs: NodeTraffic, rhs: NodeTraffic) -> NodeTraffic {
        NodeTraffic(
            datagrams: lhs.datagrams + rhs.datagrams, gossipMessages: lhs.gossipMessages + rhs.gossipMessages,
            broadcasts: lhs.broadcasts + rhs.broadcasts, streams: lhs.streams + rhs.streams,
            gossipBytes: lhs.gossipBytes + rhs.gossipBytes, raftMessages: lhs.raftMessages + rhs.raftMessages,
            raftBytes: lhs.raftBytes + rhs.raftBytes
        )
    }
}
