/// Read-only views of the core's private bookkeeping that the `GossipService` shell reports as metrics or
/// waits on. They change nothing.
extension SWIMInstance {
    /// The probe in flight: its sequence number and whether its indirect phase has started. The shell
    /// compares this before and after each step to count probes by result.
    var probeInFlight: (sequenceNumber: UInt32, indirect: Bool)? {
        probe.map { ($0.ping.sequenceNumber, $0.indirectSent) }
    }

    /// Broadcasts still waiting to be piggybacked; a leaving node gossips until this reaches zero.
    var pendingBroadcasts: Int {
        broadcasts.count
    }
}
