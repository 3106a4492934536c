import CohortTestKit
import Glibc
import Logging
import Observability
import ServiceLifecycle
import Synchronization
import Systemd
import Testing

/// The notifier, `WatchdogService` and `ReadinessService` against a real datagram socket.
///
/// The notifier reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the process environment on every call
/// (as `sd_notify(3)` does) and offers no way to pass a socket, so these tests must `setenv` them. The environment is process-wide: the suite
/// is `.serialized` so no two of its tests point the variables at different listeners at once, and every test
/// restores the previous values when it ends. No other code in this test process sends notifications; tests that start
/// child processes clear these variables in the child's environment (see `DaemonProcess`).
@Suite(.serialized) struct NotifySocketTests {
    private static let notifyVariables = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]

    /// Runs `body` with the notify variables set to `values` (nil unsets), restoring the previous values after.
    private func withEnvironment<T>(_ values: [String: String?], _ body: () async throws -> T) async rethrows -> T {
        let saved = Self.notifyVariables.map { ($0, getenv($0).map { String(cString: $0) }) }
        defer {
            for (name, value) in saved {
                if let value { setenv(name, value, 1) } else { unsetenv(name) }
            }
        }
        for name in Self.notifyVariables {
            if let value = values[name] ?? nil { setenv(name, value, 1) } else { unsetenv(name) }
        }
        return try await body()
    }

    /// Runs `services` in a `ServiceGroup` while `body` runs, then shuts the group down gracefully and waits for it.
    private func withRunning(_ services: [any Service], _ body: (ServiceGroup) async throws -> Void) async throws {
        let group = ServiceGroup(services: services, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body(group)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    // MARK: Notifier

    @Test func noNotifierWithoutNotifySocket() async {
        await withEnvironment(["NOTIFY_SOCKET": nil, "WATCHDOG_USEC": "200000"]) {
            #expect(SystemdNotifier.fromEnvironment() == nil)
        }
        await withEnvironment(["NOTIFY_SOCKET": ""]) {
            #expect(SystemdNotifier.fromEnvironment() == nil)
        }
    }

    @Test func watchdogIntervalIsHalfOfWatchdogUSecForThisProcessOnly() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        let socket = listener.notifySocket
        await withEnvironment(["NOTIFY_SOCKET": socket, "WATCHDOG_USEC": "200000"]) {
            #expect(SystemdNotifier.fromEnvironment()?.watchdogInterval == .milliseconds(100))
        }
        await withEnvironment(["NOTIFY_SOCKET": socket, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(getpid())"]) {
            #expect(SystemdNotifier.fromEnvironment()?.watchdogInterval == .seconds(15))
        }
        await withEnvironment(["NOTIFY_SOCKET": socket, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "\(getpid() + 1)"]) {
            let notifier = SystemdNotifier.fromEnvironment()
            #expect(notifier?.socket == socket)
            #expect(notifier != nil && notifier?.watchdogInterval == nil)
        }
        await withEnvironment(["NOTIFY_SOCKET": socket]) {
            #expect(SystemdNotifier.fromEnvironment()?.watchdogInterval == nil)
        }
        for bad in ["0", "-5", "abc", "", "200000 "] {
            await withEnvironment(["NOTIFY_SOCKET": socket, "WATCHDOG_USEC": bad]) {
                #expect(SystemdNotifier.fromEnvironment()?.watchdogInterval == nil, "WATCHDOG_USEC=\(bad.debugDescription)")
            }
        }
        await withEnvironment(["NOTIFY_SOCKET": socket, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "not-a-pid"]) {
            #expect(SystemdNotifier.fromEnvironment()?.watchdogInterval == nil)
        }
    }

    @Test func notificationsReachPathAndAbstractSockets() async throws {
        let pathListener = try NotifyListener()
        defer { pathListener.close() }
        let abstractListener = try NotifyListener(address: .abstract("cohort-test-\(getpid())-notify"))
        defer { abstractListener.close() }
        for listener in [pathListener, abstractListener] {
            try await withEnvironment(["NOTIFY_SOCKET": listener.notifySocket]) {
                let notifier = try #require(SystemdNotifier.fromEnvironment())
                try notifier.status("line one\nline two")
                try notifier.ready()
                try notifier.watchdog()
                try notifier.stopping()
                try notifier.notify("EXTEND_TIMEOUT_USEC=1000000\nSTATUS=two assignments")
            }
            for expected in ["STATUS=line one line two", "READY=1", "WATCHDOG=1", "STOPPING=1",
                             "EXTEND_TIMEOUT_USEC=1000000", "STATUS=two assignments"] {
                #expect(try await listener.next(matching: { $0 == expected }, within: .seconds(5)) == expected)
            }
        }
    }

    @Test func sendingToAMissingSocketThrowsATypedError() async throws {
        try await withEnvironment(["NOTIFY_SOCKET": "/tmp/cohort-no-such-socket-\(getpid())"]) {
            let notifier = try #require(SystemdNotifier.fromEnvironment())
            #expect(throws: SystemdNotifyError.sendFailed(state: "READY=1", errno: ENOENT)) { try notifier.ready() }
        }
    }

    // MARK: WatchdogService

    @Test func watchdogPingsAtHalfOfWatchdogUSec() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        try await withEnvironment(["NOTIFY_SOCKET": listener.notifySocket, "WATCHDOG_USEC": "200000"]) {
            let notifier = try #require(SystemdNotifier.fromEnvironment())
            // Half of WATCHDOG_USEC, as sd_watchdog_enabled(3) recommends.
            #expect(notifier.watchdogInterval == .milliseconds(100))
            let health = HealthRegistry()
            health.register("gossip", kind: .liveness) { .ok }
            // Readiness does not gate the watchdog.
            health.register("raft.leader", kind: .readiness) { .fail("no leader") }
            try await withRunning([WatchdogService(notifier: notifier, health: health, logger: quietLogger)]) { _ in
                // Six pings on the 100 ms grid. A starved machine stretches gaps (and the grid then makes the
                // next one shorter), but five gaps never span less than four intervals: no ping spam. How
                // close pings come to the grid depends on the machine's load, so it is not asserted here.
                try await waitUntil(within: .seconds(10), "six watchdog pings") {
                    listener.arrivals { $0 == "WATCHDOG=1" }.count >= 6
                }
                let arrivals = Array(listener.arrivals { $0 == "WATCHDOG=1" }.prefix(6))
                let gaps = zip(arrivals.dropFirst(), arrivals).map { $0.0 - $0.1 }
                #expect(arrivals[5] - arrivals[0] >= .milliseconds(400), "gaps \(gaps)")
            }
        }
    }

    @Test func watchdogStopsWhileALivenessCheckFailsAndResumesAfter() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        let logs = RecordedLogs()
        try await withEnvironment(["NOTIFY_SOCKET": listener.notifySocket, "WATCHDOG_USEC": "100000"]) {
            let notifier = try #require(SystemdNotifier.fromEnvironment())
            let health = HealthRegistry()
            let gossip = HealthFlag(.ok)
            let failingEvaluations = Mutex(0)
            health.register("gossip", kind: .liveness) {
                let status = gossip.status
                if !status.isPassing { failingEvaluations.withLock { $0 += 1 } }
                return status
            }
            health.register("raft.last_contact", kind: .liveness) { .ok }
            let service = WatchdogService(notifier: notifier, health: health, logger: logs.logger)
            try await withRunning([service]) { _ in
                let isPing: (String) -> Bool = { $0 == "WATCHDOG=1" }
                try await waitUntil(within: .seconds(5), "two pings while healthy") { listener.count(matching: isPing) >= 2 }

                gossip.set(.fail("health score 6"))
                // A ping decided just before the flip has reached the listener by the second failing tick (50 ms on).
                try await waitUntil(within: .seconds(5)) { failingEvaluations.withLock { $0 } >= 2 }
                let pingsWhenPaused = listener.count(matching: isPing)
                try await waitUntil(within: .seconds(5), "six failing ticks") { failingEvaluations.withLock { $0 } >= 6 }
                #expect(listener.count(matching: isPing) == pingsWhenPaused, "no WATCHDOG=1 while gossip fails")

                gossip.set(.ok)
                try await waitUntil(within: .seconds(5), "pings to resume") {
                    listener.count(matching: isPing) >= pingsWhenPaused + 2
                }
            }
        }
        #expect(logs.messages.filter { $0 == "watchdog paused: failing checks gossip" }.count == 1)
        #expect(logs.messages.filter { $0 == "watchdog resumed" }.count == 1)
    }

    // MARK: ReadinessService and shutdown

    @Test func readyOnlyAfterEveryReadinessCheckPassesThenStatusUpdatesThenStopping() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        try await withEnvironment(["NOTIFY_SOCKET": listener.notifySocket]) {
            let notifier = try #require(SystemdNotifier.fromEnvironment())
            let health = HealthRegistry()
            let leader = HealthFlag(.fail("no leader known"))
            let evaluations = Mutex(0)
            health.register("gossip.joined", kind: .readiness) { .ok }
            health.register("raft.leader", kind: .readiness) {
                evaluations.withLock { $0 += 1 }
                return leader.status
            }
            let statusText = Mutex("ready: single node 'a', cluster disabled")
            let service = ReadinessService(
                notifier: notifier, health: health, settings: .init(pollWhenReady: .milliseconds(20)),
                logger: quietLogger, status: { statusText.withLock { $0 } }
            )
            try await withRunning([service]) { group in
                let starting = try await listener.next(matching: { $0.hasPrefix("STATUS=") }, within: .seconds(5))
                #expect(starting == "STATUS=starting: waiting for checks: raft.leader")
                try await waitUntil(within: .seconds(5), "ten readiness polls") { evaluations.withLock { $0 } >= 10 }
                #expect(listener.count { $0 == "READY=1" } == 0, "READY=1 while raft.leader fails")

                leader.set(.ok)
                try await listener.next("READY=1", within: .seconds(5))
                #expect(try await listener.next(matching: { $0.hasPrefix("STATUS=") }, within: .seconds(5))
                    == "STATUS=ready: single node 'a', cluster disabled")

                statusText.withLock { $0 = "leader, term 2, 1 member" }
                try await listener.next("STATUS=leader, term 2, 1 member", within: .seconds(5))
                #expect(listener.count { $0 == "STOPPING=1" } == 0)

                await group.triggerGracefulShutdown()
                try await listener.next("STOPPING=1", within: .seconds(5))
                try await listener.next("STATUS=stopping", within: .seconds(5))
            }
            #expect(listener.count { $0 == "READY=1" } == 1)
        }
    }

    @Test func gracefulShutdownOfTheGroupSendsStoppingAndEndsBothServices() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        try await withEnvironment(["NOTIFY_SOCKET": listener.notifySocket]) {
            // No WATCHDOG_USEC: the watchdog service must idle, not end the group early.
            let notifier = try #require(SystemdNotifier.fromEnvironment())
            let health = HealthRegistry()
            let polls = Mutex(0)
            health.register("counted", kind: .readiness) {
                polls.withLock { $0 += 1 }
                return .ok
            }
            let services: [any Service] = [
                WatchdogService(notifier: notifier, health: health, logger: quietLogger),
                ReadinessService(
                    notifier: notifier, health: health, settings: .init(pollWhenReady: .milliseconds(20)),
                    logger: quietLogger
                ) { "ready" },
            ]
            let group = ServiceGroup(services: services, logger: quietLogger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await listener.next("READY=1", within: .seconds(5))
                // Still polling well after start: a watchdog service that returned would have ended the group.
                try await waitUntil(within: .seconds(5), "five readiness polls") { polls.withLock { $0 } >= 5 }
                #expect(listener.count { $0 == "STOPPING=1" } == 0, "the group stopped before it was asked to")

                await group.triggerGracefulShutdown()
                try await listener.next("STOPPING=1", within: .seconds(5))
                try await tasks.waitForAll()  // run() returned: both services ended.
            }
            #expect(listener.count { $0 == "WATCHDOG=1" } == 0)
        }
    }
}

private let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

/// Collects the messages logged through `logger`.
final class RecordedLogs: Sendable {
    private let lines = Mutex<[String]>([])

    /// Every message logged so far.
    var messages: [String] { lines.withLock { $0 } }

    /// A logger whose messages are recorded here.
    var logger: Logger {
        Logger(label: "test") { _ in RecordingHandler(logs: self) }
    }

    fileprivate func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }
}

private struct RecordingHandler: LogHandler {
    let logs: RecordedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        logs.append(event.message.description)
    }
}
