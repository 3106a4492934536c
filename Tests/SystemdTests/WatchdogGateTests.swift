import Observability
import Systemd
import Testing

/// A hand-stepped instant: the gate's time is whatever the test says it is.
struct TestInstant: InstantProtocol {
    var offset: Duration

    static let zero = TestInstant(offset: .zero)

    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (lhs: TestInstant, rhs: TestInstant) -> Bool { lhs.offset < rhs.offset }
}

/// A liveness report with these checks, in order (built through a registry: reports have no public initialiser).
private func report(_ statuses: [(String, HealthStatus)]) -> HealthReport {
    let registry = HealthRegistry()
    for (name, status) in statuses {
        registry.register(name, kind: .liveness) { status }
    }
    return registry.evaluate(.liveness)
}

private let healthy = report([("gossip", .ok), ("raft.last_contact", .ok)])
private let wedged = report([("gossip", .fail("score 6")), ("raft.last_contact", .fail("no contact for 31s"))])

@Suite struct WatchdogGateTests {
    @Test func pingsEveryTickWhileEveryLivenessCheckPasses() {
        var gate = WatchdogGate<TestInstant>()
        var now = TestInstant.zero
        for _ in 0..<5 {
            #expect(gate.decide(now: now, liveness: healthy) == WatchdogDecision(ping: true))
            now = now.advanced(by: .milliseconds(100))
        }
        #expect(!gate.isPaused)
    }

    @Test func pingsWithNoLivenessChecksRegistered() {
        var gate = WatchdogGate<TestInstant>()
        #expect(gate.decide(now: .zero, liveness: report([])).ping)
    }

    @Test func stopsPingingWhileAnyCheckFailsAndReportsThePauseOnce() {
        var gate = WatchdogGate<TestInstant>()
        let oneFailing = report([("gossip", .ok), ("raft.last_contact", .fail("no contact"))])
        #expect(gate.decide(now: .zero, liveness: healthy).ping)

        let paused = gate.decide(now: TestInstant(offset: .seconds(1)), liveness: oneFailing)
        #expect(paused == WatchdogDecision(ping: false, transition: .paused(failing: ["raft.last_contact"])))
        #expect(gate.pausedSince == TestInstant(offset: .seconds(1)))

        // Further failing ticks, even with a different set of failing checks, send nothing and report nothing.
        for second in 2...5 {
            let decision = gate.decide(now: TestInstant(offset: .seconds(second)), liveness: wedged)
            #expect(decision == WatchdogDecision(ping: false, transition: nil))
        }
        #expect(gate.pausedSince == TestInstant(offset: .seconds(1)))
    }

    @Test func resumesWhenChecksPassAgainAndReportsHowLongItWasPaused() {
        var gate = WatchdogGate<TestInstant>()
        _ = gate.decide(now: .zero, liveness: healthy)
        let pause = gate.decide(now: TestInstant(offset: .seconds(2)), liveness: wedged)
        #expect(pause.transition == .paused(failing: ["gossip", "raft.last_contact"]))
        _ = gate.decide(now: TestInstant(offset: .seconds(3)), liveness: wedged)

        let resumed = gate.decide(now: TestInstant(offset: .milliseconds(4_500)), liveness: healthy)
        #expect(resumed == WatchdogDecision(ping: true, transition: .resumed(pausedFor: .milliseconds(2_500))))
        #expect(!gate.isPaused)
        #expect(gate.decide(now: TestInstant(offset: .seconds(5)), liveness: healthy) == WatchdogDecision(ping: true))
    }

    @Test func eachNewPauseIsReportedAgain() {
        var gate = WatchdogGate<TestInstant>()
        var transitions: [WatchdogTransition] = []
        let script = [healthy, wedged, wedged, healthy, healthy, wedged, healthy]
        for (second, liveness) in script.enumerated() {
            if let transition = gate.decide(now: TestInstant(offset: .seconds(second)), liveness: liveness).transition {
                transitions.append(transition)
            }
        }
        #expect(transitions == [
            .paused(failing: ["gossip", "raft.last_contact"]), .resumed(pausedFor: .seconds(2)),
            .paused(failing: ["gossip", "raft.last_contact"]), .resumed(pausedFor: .seconds(1)),
        ])
    }
}
