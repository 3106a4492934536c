@testable import Cohort
import CohortTestKit
import Observability
import Testing

/// The runtime heartbeat beats when its check asks, not on a timer.
@Suite("Runtime heartbeat")
struct RuntimeHeartbeatTests {
    @Test("runtime.heartbeat: no beat unless the check asks; a beat asked for and late for 10 s fails liveness")
    func heartbeatBeatsWhenAsked() async throws {
        // The failure path, without a running service: a beat is asked for and never comes.
        let stuck = RuntimeHeartbeat(interval: .seconds(2), staleAfter: .seconds(10))
        let t0 = ContinuousClock.now
        #expect(stuck.status(now: t0 + .seconds(60)) == .ok)  // not started: boot grace
        stuck.beat()
        let started = try #require(stuck.lastBeat)
        #expect(stuck.status(now: started + .seconds(1)) == .ok)  // fresh: nothing asked
        #expect(stuck.status(now: started + .seconds(3)) == .ok)  // asks for a beat
        #expect(stuck.status(now: started + .seconds(13)) == .ok)  // asked 10 s ago: not yet late
        guard case .fail(let why) = stuck.status(now: started + .seconds(14)) else {
            Issue.record("a beat asked for 11 s ago and not come must fail")
            return
        }
        #expect(why.contains("11s"))

        // The running service: parked until asked, then it beats at once.
        let heartbeat = RuntimeHeartbeat(interval: .milliseconds(10), staleAfter: .seconds(10))
        let health = HealthRegistry()
        heartbeat.register(with: health)
        let run = Task { try await heartbeat.run() }
        defer { run.cancel() }
        try await waitUntil(within: .seconds(30), "the heartbeat to start") { health.evaluate(.readiness).isPassing }
        let first = try #require(heartbeat.lastBeat)
        // Nobody asks: no beat (it used to beat every `interval`).
        try await holdsThroughout(.milliseconds(500), "no beat while nobody asks", pollEvery: .milliseconds(20)) {
            heartbeat.lastBeat == first
        }
        #expect(health.evaluate(.liveness).isPassing)  // asks
        try await waitUntil(within: .seconds(30), "the beat asked for") { heartbeat.lastBeat != first }
        #expect(health.evaluate(.liveness).isPassing)
    }
}
