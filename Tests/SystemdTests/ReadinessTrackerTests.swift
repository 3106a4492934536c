import Observability
import Systemd
import Testing

/// A readiness report with these checks, in order (built through a registry: reports have no public initialiser).
private func readiness(_ statuses: [(String, HealthStatus)]) -> HealthReport {
    let registry = HealthRegistry()
    for (name, status) in statuses {
        registry.register(name, kind: .readiness) { status }
    }
    return registry.evaluate(.readiness)
}

@Suite struct ReadinessTrackerTests {
    @Test func reportsStartingWithTheFailingChecksAndNeverReadyWhileOneFails() {
        var tracker = ReadinessTracker()
        let notReady = readiness([("gossip.joined", .ok), ("raft.leader", .fail("no leader yet"))])
        #expect(tracker.update(readiness: notReady) { "unused" } == ["STATUS=starting: waiting for checks: raft.leader"])
        for _ in 0..<10 {
            #expect(tracker.update(readiness: notReady) { "unused" } == [])
        }
        #expect(!tracker.isReady)
    }

    @Test func sendsReadyExactlyOnceWithTheProvidedStatus() {
        var tracker = ReadinessTracker()
        _ = tracker.update(readiness: readiness([("raft.leader", .fail("none"))])) { "x" }
        let ready = readiness([("raft.leader", .ok)])
        #expect(tracker.update(readiness: ready) { "ready: single node 'a', cluster disabled" }
            == ["READY=1", "STATUS=ready: single node 'a', cluster disabled"])
        #expect(tracker.update(readiness: ready) { "ready: single node 'a', cluster disabled" } == [])
        #expect(tracker.isReady)
    }

    @Test func readyOnTheFirstPollWhenEveryCheckAlreadyPasses() {
        var tracker = ReadinessTracker()
        #expect(tracker.update(readiness: readiness([])) { "ready" } == ["READY=1", "STATUS=ready"])
    }

    @Test func sendsStatusOnlyWhenItsTextChanges() {
        var tracker = ReadinessTracker()
        let ready = readiness([])
        _ = tracker.update(readiness: ready) { "follower, term 3, 3 members" }
        #expect(tracker.update(readiness: ready) { "follower, term 3, 3 members" } == [])
        #expect(tracker.update(readiness: ready) { "leader, term 4, 3 members" } == ["STATUS=leader, term 4, 3 members"])
    }

    @Test func losingReadinessAfterReadyShowsInStatusButNeverRepeatsReady() {
        var tracker = ReadinessTracker()
        _ = tracker.update(readiness: readiness([("raft.leader", .ok)])) { "follower, term 3" }
        let lost = readiness([("raft.leader", .fail("no leader"))])
        #expect(tracker.update(readiness: lost) { "follower, term 3" } == ["STATUS=follower, term 3 (not ready: raft.leader)"])
        #expect(tracker.update(readiness: readiness([("raft.leader", .ok)])) { "follower, term 4" } == ["STATUS=follower, term 4"])
    }

    @Test func statusTextIsKeptOnOneLine() {
        var tracker = ReadinessTracker()
        #expect(tracker.update(readiness: readiness([])) { "ready\nWATCHDOG=1" } == ["READY=1", "STATUS=ready WATCHDOG=1"])
    }

    @Test func stoppingSendsStoppingAndAStatus() {
        #expect(ReadinessTracker.stoppingAssignments == ["STOPPING=1", "STATUS=stopping"])
    }

    @Test func settingsDefaultsArePinned() {
        let settings = ReadinessService.Settings()
        #expect(settings.pollUntilReady == .milliseconds(20))
        #expect(settings.pollWhenReady == .seconds(1))
    }
}
