import CohortTestKit
import Logging
import ServiceLifecycle
import Synchronization
import Testing
@testable import Cohort

/// `untilGracefulShutdown` ends a loop over a stream that never finishes once its service's graceful
/// shutdown begins, and the service returns.
@Suite struct UntilGracefulShutdownTests {
    final class Looping: Service, Sendable {
        let (stream, sink) = AsyncStream.makeStream(of: Int.self)
        let seen = Mutex<[Int]>([])
        let ended = Mutex(false)

        func run() async throws {
            await untilGracefulShutdown { [self] in
                for await value in stream { seen.withLock { $0.append(value) } }
            }
            ended.withLock { $0 = true }
        }
    }

    @Test(.timeLimit(.minutes(2))) func aLoopEndsWhenGracefulShutdownBegins() async throws {
        let service = Looping()
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: service)], logger: Logger(label: "test"))
        )
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            service.sink.yield(1)
            service.sink.yield(2)
            // 60 s: in a full parallel run the simulations can keep Swift's pool (where this loop runs) busy for seconds.
            try await waitUntil(within: .seconds(60), "the loop to take both values") { service.seen.withLock { $0 } == [1, 2] }
            #expect(!service.ended.withLock { $0 })
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(service.ended.withLock { $0 })
    }
}
