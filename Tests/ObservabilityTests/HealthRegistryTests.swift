import Observability
import Synchronization
import Testing

@Suite struct HealthRegistryTests {
    @Test func reportPassesOnlyWhenEveryCheckOfItsKindPasses() {
        let registry = HealthRegistry()
        let gossip = HealthFlag(.ok)
        registry.register("gossip", kind: .liveness) { gossip.status }
        registry.register("raft.leader", kind: .readiness) { .fail("no leader known") }

        #expect(registry.evaluate(.liveness).isPassing)
        #expect(!registry.evaluate(.readiness).isPassing)

        gossip.set(.fail("health score 6 > 4"))
        let liveness = registry.evaluate(.liveness)
        #expect(!liveness.isPassing)
        #expect(liveness.failing == ["gossip"])
    }

    @Test func renderWritesOneTabSeparatedLinePerCheckInRegistrationOrder() {
        let registry = HealthRegistry()
        registry.register("b.second", kind: .liveness) { .fail("why it failed") }
        registry.register("a.first", kind: .liveness) { .ok }
        #expect(registry.evaluate(.liveness).render() == "b.second\tfail: why it failed\na.first\tok\n")
    }

    @Test func registeringTheSameNameAgainReplacesTheCheckAndUnregisterRemovesIt() {
        let registry = HealthRegistry()
        registry.register("x", kind: .readiness) { .fail("old") }
        registry.register("x", kind: .readiness) { .ok }
        registry.register("x", kind: .liveness) { .fail("other kind") }
        #expect(registry.evaluate(.readiness).entries == [.init(name: "x", status: .ok)])
        registry.unregister("x", kind: .liveness)
        #expect(registry.evaluate(.liveness).entries.isEmpty)
        #expect(registry.evaluate(.liveness).isPassing)
    }

    @Test func everyCheckIsAGaugeOnMetricsOneWhilePassingZeroWhileFailing() {
        let registry = HealthRegistry()
        let metrics = CohortMetrics(version: "test")
        registry.export(to: metrics)
        let failing = Mutex(false)
        registry.register("raft.last_contact", kind: .liveness) { failing.withLock { $0 } ? .fail("silent") : .ok }
        registry.register("raft.member", kind: .readiness) { .ok }
        var text = metrics.render()
        #expect(text.contains(#"cohort_health_check{check="raft.last_contact",kind="liveness"} 1"#), "\(text)")
        #expect(text.contains(#"cohort_health_check{check="raft.member",kind="readiness"} 1"#))
        failing.withLock { $0 = true }
        text = metrics.render()
        #expect(text.contains(#"cohort_health_check{check="raft.last_contact",kind="liveness"} 0"#), "\(text)")
    }
}
