@testable import Cohort
import CohortCore
import PlaneCore
import Synchronization
import Testing

/// The state planes' timer parks while nothing can expire or be collected.
@Suite("Plane timer")
struct PlaneTimerTests {
    @Test("planes: the timer parks with nothing to expire or collect, and a change that brings some rings it")
    func planeTimerParks() {
        let rings = Atomic<Int>(0)
        var sync = PlaneSync(selfID: NodeID("a"), incarnation: Incarnation(1))
        sync.addPlane("kv", graceMillis: 1000)
        let hub = PlaneHub(sync: sync, metrics: nil, deltasQueued: {}, tickNeeded: { rings.add(1, ordering: .relaxed) })
        hub.start()
        #expect(hub.parkTicker() == .park(wakeAfter: nil))
        // A value without an expiry gives the timer nothing to do.
        _ = hub.write(plane: "kv", key: Array("plain".utf8), value: [1], expiresAtMillis: nil)
        #expect(rings.load(ordering: .relaxed) == 0)
        // One with an expiry rings the parked timer, once.
        let soon = hub.now().physicalMillis + 60_000
        _ = hub.write(plane: "kv", key: Array("ttl".utf8), value: [2], expiresAtMillis: soon)
        _ = hub.write(plane: "kv", key: Array("ttl2".utf8), value: [3], expiresAtMillis: soon)
        #expect(rings.load(ordering: .relaxed) == 1)
        #expect(hub.parkTicker() == .tick)
        // Not parked: a further change does not ring.
        _ = hub.write(plane: "kv", key: Array("plain".utf8), value: nil, expiresAtMillis: nil)
        #expect(rings.load(ordering: .relaxed) == 1)
    }
}
