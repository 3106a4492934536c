/// Read-only views of the core's private bookkeeping that the `GossipService` shell reports as metrics or
/// waits on. They change nothing.
extension SWIMInstance {
    /// Broadcasts still waiting to be piggybacked; a leaving node gossips until this reaches zero.
    package var pendingBroadcasts: Int {
        broadcasts.count
    }

    /// User messages among the pending broadcasts.
    package var pendingUserBroadcasts: Int {
        broadcasts.userCount
    }
}
