/// One message that can travel in a datagram, after compound and compress wrappers are removed.
///
/// The message values live here, in the pure core that speaks them; their msgpack codec (`MessageBody`,
/// `encodedMessage()`, `init(type:body:limits:)`) is in the Gossip target (`Sources/Gossip/Wire`), and the
/// core knows their encoded lengths through ``encodedLength``.
public enum GossipMessage: Hashable, Sendable {
    /// A direct probe.
    case ping(PingMessage)
    /// A request to probe someone for the sender.
    case indirectPing(IndirectPingMessage)
    /// The answer to a probe.
    case ackResponse(AckResponseMessage)
    /// An indirect helper's "no answer".
    case nackResponse(NackResponseMessage)
    /// A suspicion.
    case suspect(SuspectMessage)
    /// An alive announcement.
    case alive(AliveMessage)
    /// A death or a leave.
    case dead(DeadMessage)
    /// An opaque delegate payload (Cohort multiplexes its own planes here).
    case user([UInt8])
}
