import ServiceLifecycle

/// Runs `loop` until it returns or the calling service's graceful shutdown begins, which cancels it (a
/// stream it iterates then ends, as `cancelOnGracefulShutdown()` would end it).
///
/// ServiceLifecycle's `cancelOnGracefulShutdown()` ends a sequence by merging it with the shutdown signal,
/// and AsyncAlgorithms' merge iterates the sequence in a task on Swift's global pool: every element (a
/// membership batch, a Raft status, a coordination input) crossed to the pool and back, two thread
/// switches each — in a 100-node start, where every node takes hundreds of membership batches, 3 % of the
/// machine's CPU went to the merge alone. Here the loop runs in a child task (on the caller's executor
/// preference) that is cancelled once, at shutdown.
func untilGracefulShutdown(_ loop: @escaping @Sendable () async -> Void) async {
    await cancelWhenGracefulShutdown(loop)
}
