import Cohort
@testable import CohortHTTP
import Testing

/// An event stream's mailbox (`/v1/watch`, group event streams): what the event reader and the keep-alive
/// timer put there, the SSE writer takes all at once, in order, bounded.
@Suite("Event stream mailbox")
struct EventStreamMailboxTests {
    private typealias Mailbox = EventStreamMailbox<StoreEvent, WatchError>

    private func change(_ version: UInt64) -> Mailbox.Item {
        .event(StoreEvent(kind: .put, store: "default", key: "k\(version)", value: [1], version: version))
    }

    private func versions(_ items: [Mailbox.Item]) -> [UInt64?] {
        items.map { item in
            if case .event(let event) = item { return event.version }
            return nil  // a keep-alive tick
        }
    }

    @Test("everything waiting is taken at once, in the order it was put")
    func takesAllInOrder() async {
        let mailbox = Mailbox(limit: 100, fellBehind: .fellBehind)
        for version in 1...5 { #expect(mailbox.put(change(UInt64(version)))) }
        #expect(mailbox.put(.tick))
        #expect(mailbox.put(change(6)))
        let (items, ending) = await mailbox.take()
        #expect(versions(items) == [1, 2, 3, 4, 5, nil, 6])
        #expect(ending == nil)
    }

    @Test("a writer that waits is woken by the next put")
    func waiterIsWoken() async {
        let mailbox = Mailbox(limit: 100, fellBehind: .fellBehind)
        async let taken = mailbox.take()
        #expect(mailbox.put(change(7)))
        let (items, _) = await taken
        #expect(versions(items) == [7])
    }

    @Test("the end comes after what was put before it, and nothing is taken in after it")
    func endAfterItems() async {
        let mailbox = Mailbox(limit: 100, fellBehind: .fellBehind)
        #expect(mailbox.put(change(1)))
        mailbox.end(.failed(.replicaReplaced(oldest: 9)))
        #expect(!mailbox.put(change(2)))
        mailbox.end(.finished)  // the first ending counts
        let (items, ending) = await mailbox.take()
        #expect(versions(items) == [1])
        guard case .failed(.replicaReplaced(oldest: 9)) = ending else {
            Issue.record("ending \(String(describing: ending))")
            return
        }
    }

    @Test("a writer `limit` items behind ends the watch with fell_behind; what was accepted is still delivered")
    func boundedFellBehind() async {
        let mailbox = Mailbox(limit: 3, fellBehind: .fellBehind)
        for version in 1...3 { #expect(mailbox.put(change(UInt64(version)))) }
        #expect(!mailbox.put(change(4)))
        #expect(!mailbox.put(.tick))
        let (items, ending) = await mailbox.take()
        #expect(versions(items) == [1, 2, 3])
        guard case .failed(.fellBehind) = ending else {
            Issue.record("ending \(String(describing: ending))")
            return
        }
    }

    @Test("a cancelled writer stops waiting")
    func cancelledWriterStops() async {
        let mailbox = Mailbox(limit: 10, fellBehind: .fellBehind)
        let task = Task { await mailbox.take() }
        task.cancel()
        let (items, ending) = await task.value
        #expect(items.isEmpty)
        guard case .cancelled = ending else {
            Issue.record("ending \(String(describing: ending))")
            return
        }
    }
}
