import CohortCore

/// What the SWIM core asks its shell to do.
public enum SWIMEffect: Hashable, Sendable {
    /// Send these messages in one datagram (a compound when several) to `address`.
    case send([GossipMessage], to: MemberAddress)
    /// Probe `address` over TCP with `ping` and report with
    /// ``SWIMInstance/tcpPingCompleted(sequenceNumber:reachable:now:)`` by `deadline`.
    case tcpPing(PingMessage, to: MemberAddress, deadline: ContinuousClock.Instant)
    /// Run a periodic push/pull with `address` and feed its reply to ``SWIMInstance/mergeRemoteState(_:now:)``.
    case pushPull(to: MemberAddress)
    /// Publish a membership change.
    case event(MembershipEvent)
    /// A member answered over TCP but not over UDP: report "UDP blocked, TCP works"; it is not suspected.
    case udpUnreachable(NodeID)
    /// The probe of `target` ended with `result` (for metrics: every probe ends exactly once).
    case probeCompleted(target: NodeID, result: ProbeResult)
}

/// How a probe of a member ended.
public enum ProbeResult: String, Hashable, Sendable, CaseIterable {
    /// The member acknowledged the direct ping in time.
    case ack
    /// An acknowledgement arrived after the indirect phase had started (relayed by a helper, or late).
    case indirectAck = "indirect_ack"
    /// No acknowledgement over UDP, but the TCP fallback ping reached it.
    case tcpOnly = "tcp_only"
    /// Nothing answered within the round: the member is suspected.
    case failed
}
