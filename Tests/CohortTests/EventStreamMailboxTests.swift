import Cohort
@testable import CohortHTTP
import Synchronization
import Testing

/// An event stream's mailbox (`/v1/watch`, group event streams): what the event reader and the keep-alive
/// timer put there, the SSE writer takes all at once, in order; a full mailbox holds the reader back.
@Suite("Event stream mailbox")
struct EventStreamMailboxTests {
    private typealias Mailbox = EventStreamMailbox<StoreEvent, WatchError>

    private func change(_ version: UInt64) -> StoreEvent {
        StoreEvent(kind: .put, store: "default", key: "k\(version)", value: [1], version: version)
    }

    private func versions(_ items: [Mailbox.Item]) -> [UInt64?] {
        items.map { item in
            if case .event(let event) = item { return event.version }
            return nil  // a keep-alive tick
        }
    }

    @Test("everything waiting is taken at once, in the order it was put")
    func takesAllInOrder() async {
        let mailbox = Mailbox(limit: 100)
        for version in 1...5 { #expect(await mailbox.put(change(UInt64(version)))) }
        mailbox.tick()
        #expect(await mailbox.put(change(6)))
        let (items, ending) = await mailbox.take()
        #expect(versions(items) == [1, 2, 3, 4, 5, nil, 6])
        #expect(ending == nil)
    }

    @Test("a writer that waits is woken by the next put")
    func waiterIsWoken() async {
        let mailbox = Mailbox(limit: 100)
        async let taken = mailbox.take()
        #expect(await mailbox.put(change(7)))
        let (items, _) = await taken
        #expect(versions(items) == [7])
    }

    @Test("the end comes after what was put before it, and nothing is taken in after it")
    func endAfterItems() async {
        let mailbox = Mailbox(limit: 100)
        #expect(await mailbox.put(change(1)))
        mailbox.end(.failed(.replicaReplaced(oldest: 9)))
        #expect(!(await mailbox.put(change(2))))
        mailbox.end(.finished)  // the first ending counts
        let (items, ending) = await mailbox.take()
        #expect(versions(items) == [1])
        guard case .failed(.replicaReplaced(oldest: 9)) = ending else {
            Issue.record("ending \(String(describing: ending))")
            return
        }
    }

    @Test("a full mailbox holds the reader back until the writer takes; a tick is skipped meanwhile")
    func fullMailboxHoldsTheReader() async throws {
        let mailbox = Mailbox(limit: 3)
        for version in 1...3 { #expect(await mailbox.put(change(UInt64(version)))) }
        mailbox.tick()  // full: skipped
        let fourthIn = Mutex(false)
        let reader = Task {
            let added = await mailbox.put(change(4))
            fourthIn.withLock { $0 = true }
            return added
        }
        // Held throughout a window while nothing is taken.
        let deadline = ContinuousClock.now + .milliseconds(200)
        while ContinuousClock.now < deadline {
            let returned = fourthIn.withLock { $0 }
            #expect(!returned, "a put into a full mailbox returned")
            await Task.yield()
        }
        let (first, _) = await mailbox.take()
        #expect(versions(first) == [1, 2, 3])
        #expect(await reader.value)
        let (second, _) = await mailbox.take()
        #expect(versions(second) == [4])
    }

    @Test("a cancelled writer stops waiting, and so does a cancelled reader held by a full mailbox")
    func cancelledTasksStop() async {
        let mailbox = Mailbox(limit: 1)
        let writer = Task { await mailbox.take() }
        writer.cancel()
        let (items, ending) = await writer.value
        #expect(items.isEmpty)
        guard case .cancelled = ending else {
            Issue.record("ending \(String(describing: ending))")
            return
        }
        let full = Mailbox(limit: 1)
        #expect(await full.put(change(1)))
        let reader = Task { await full.put(change(2)) }
        reader.cancel()
        #expect(!(await reader.value))
    }
}
