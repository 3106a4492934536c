/// Suspends until the calling task is cancelled, then throws `CancellationError`: a request handler that
/// never answers, for tests of timeouts and shutdown. Nothing waits on time passing.
public func hangUntilCancelled() async throws -> Never {
    let (never, keepOpen) = AsyncStream<Never>.makeStream()
    // The stream never yields and is never finished; its iterator returns nil only on cancellation.
    for await _ in never {}
    withExtendedLifetime(keepOpen) {}
    throw CancellationError()
}
