import CohortTestKit
import Foundation
import NIOCore
import NIOPosix
import NIOSupport
import Synchronization
import Testing

/// The gossip timer loop's `LoopTimer`: fires at its deadline, moves either way, and a deadline moved later
/// does not fire at the old one (what NIO's own scheduled tasks do: every node woke once a second for the
/// probe timeout of a probe long acknowledged).
@Suite("LoopTimer")
struct LoopTimerTests {
    /// Every firing, by the time it happened.
    final class Firings: Sendable {
        private let times = Mutex<[ContinuousClock.Instant]>([])
        func record() { times.withLock { $0.append(.now) } }
        var all: [ContinuousClock.Instant] { times.withLock { $0 } }
    }

    static func timer(_ firings: Firings) async -> LoopTimer {
        await LoopTimer.make(on: MultiThreadedEventLoopGroup.singleton.next()) { firings.record() }
    }

    @Test func onLinuxItHasADescriptorOfItsOwn() async {
        let timer = await Self.timer(Firings())
        #if os(Linux)
        #expect(timer.ownsDescriptor)
        #endif
        await timer.close()
    }

    @Test func firesOnceAtItsDeadline() async throws {
        let firings = Firings()
        let timer = await Self.timer(firings)
        let deadline = ContinuousClock.now + .milliseconds(100)
        timer.arm(at: deadline)
        try await waitUntil(within: .seconds(30), "the timer to fire") { !firings.all.isEmpty }
        #expect(firings.all[0] >= deadline)
        // One-shot: nothing more through a window while it is not armed again.
        try await holdsThroughout(.milliseconds(300), "one firing", pollEvery: .milliseconds(20)) { firings.all.count == 1 }
        await timer.close()
    }

    /// The last deadline set counts, whether it moved later (150 ms → 900 ms) or earlier (60 s → 100 ms).
    @Test(arguments: [(150, 900), (60_000, 100)])
    func theLastDeadlineSetIsTheOneThatFires(first: Int, second: Int) async throws {
        let firings = Firings()
        let timer = await Self.timer(firings)
        let start = ContinuousClock.now
        timer.arm(at: start + .milliseconds(first))
        timer.arm(at: start + .milliseconds(second))
        try await waitUntil(within: .seconds(30), "the timer to fire") { !firings.all.isEmpty }
        // Its first firing is at the new deadline, none at the old one (the times are recorded as they happen).
        #expect(firings.all[0] >= start + .milliseconds(second), "fired \(firings.all[0] - start) after arming")
        try await holdsThroughout(.milliseconds(200), "one firing", pollEvery: .milliseconds(20)) { firings.all.count == 1 }
        await timer.close()
    }

    #if os(Linux)
    /// The thread's voluntary context switches: one per time it slept and was woken.
    static func wakeUps(ofThread tid: String) throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/task/\(tid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("voluntary_ctxt_switches:") })
        return try #require(Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)))
    }

    @Test func theLoopSleepsThroughADeadlineMovedLater() async throws {
        // A loop of its own, so that nothing else wakes it.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let firings = Firings()
        let timer = await LoopTimer.make(on: loop) { firings.record() }
        let tid = try await loop.submit {
            // "<pid>/task/<tid>"
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self"))?.split(separator: "/").last.map(String.init) ?? ""
        }.get()
        try #require(!tid.isEmpty)
        // Armed on the loop, as the services arm it (from another thread the arm itself would wake the loop),
        // and the loop asleep with that deadline before it moves: NIO's own timer would by then be set for it.
        let start = ContinuousClock.now
        // Jobs handed over with `execute` and their completion polled: waiting on a future would register
        // its callback with the loop, from this thread, and wake it once more (or not, depending on timing).
        let done = Mutex(0)
        loop.execute {
            timer.arm(at: start + .milliseconds(500))
            done.withLock { $0 = 1 }
        }
        func asleep() throws -> Bool {
            let stat = try String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8)
            return stat.split(separator: ")").last?.split(separator: " ").first == "S"
        }
        try await waitUntil(within: .seconds(30), "the loop to sleep", pollEvery: .milliseconds(5)) {
            try done.withLock { $0 } == 1 && asleep()
        }
        let before = try Self.wakeUps(ofThread: tid)
        loop.execute {
            timer.arm(at: start + .milliseconds(1500))
            done.withLock { $0 = 2 }
        }
        try await waitUntil(within: .seconds(30), "the deadline to move", pollEvery: .milliseconds(5)) { done.withLock { $0 } == 2 }
        guard ContinuousClock.now < start + .milliseconds(450) else {
            // A machine this loaded cannot move the deadline before it comes; nothing to assert.
            print("LoopTimerTests: the deadline moved only \(ContinuousClock.now - start) after arming")
            await timer.close()
            try await group.shutdownGracefully()
            return
        }
        try await waitUntil(within: .seconds(30), "the timer to fire") { !firings.all.isEmpty }
        #expect(firings.all[0] >= start + .milliseconds(1500))
        // Two wake-ups: the job that moved the deadline and the firing. NIO's own timer (a cancelled
        // scheduled task) would also have woken the loop at 500 ms. (Counted once the loop sleeps after the
        // firing, so a test task that wakes late cannot miss one.)
        try await waitUntil(within: .seconds(30), "the loop to sleep again", pollEvery: .milliseconds(5)) { try asleep() }
        let wakeUps = try Self.wakeUps(ofThread: tid) - before
        #expect(wakeUps == 1 + firings.all.count, "the loop woke \(wakeUps) times for \(firings.all.count) firing")
        await timer.close()
        try await group.shutdownGracefully()
    }
    #endif

    /// Re-arms the timer whenever its pipe has bytes to read.
    final class RearmOnRead: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let timer: LoopTimer
        init(timer: LoopTimer) { self.timer = timer }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            timer.arm(at: .now + .seconds(1))
        }
    }

    @Test func anExpiryAndARearmInOneWakeUpDoNotUpsetTheLoop() async throws {
        // The loop is told in one wake-up that a pipe and the timer are readable, and the pipe's handler,
        // run first, moves the timer. Had it re-armed the descriptor there and then, the expiry would be gone
        // when NIO reads it, and NIO asserts that a readable descriptor has something to read (a debug
        // build traps). The re-arm waits for the loop's tasks, after the read.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let firings = Firings()
        let timer = await LoopTimer.make(on: loop) { firings.record() }
        var descriptors: [Int32] = [0, 0]
        try #require(pipe(&descriptors) == 0)
        let reader = try await NIOPipeBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(RearmOnRead(timer: timer)) }
            }
            .takingOwnershipOfDescriptor(input: descriptors[0])
            .get()
        let writeEnd = descriptors[1]
        for _ in 0..<20 {
            let before = firings.all.count
            try await loop.submit {
                // The pipe becomes readable first, then the timer expires (the deadline has passed).
                var byte: UInt8 = 1
                _ = write(writeEnd, &byte, 1)
                timer.arm(at: .now - .seconds(1))
            }.get()
            try await waitUntil(within: .seconds(30), "the timer to fire") { firings.all.count > before }
        }
        try await reader.close()
        close(writeEnd)
        await timer.close()
        try await group.shutdownGracefully()
    }

    @Test func aDisarmedTimerDoesNotFire() async throws {
        let firings = Firings()
        let timer = await Self.timer(firings)
        let start = ContinuousClock.now
        timer.arm(at: start + .milliseconds(100))
        timer.disarm()
        // Through a window well past the cancelled deadline.
        try await holdsThroughout(start + .milliseconds(500) - .now, "no firing", pollEvery: .milliseconds(20)) { firings.all.isEmpty }
        await timer.close()
        // Closed: arming does nothing.
        timer.arm(at: .now)
        try await holdsThroughout(.milliseconds(200), "no firing once closed", pollEvery: .milliseconds(20)) { firings.all.isEmpty }
    }

    @Test func aDeadlineAlreadyPastFiresAtOnce() async throws {
        let firings = Firings()
        let timer = await Self.timer(firings)
        timer.arm(at: .now - .seconds(1))
        try await waitUntil(within: .seconds(30), "the timer to fire") { !firings.all.isEmpty }
        await timer.close()
    }
}
