import CohortCore
import PlaneCore
import Testing

/// The names plane's rules: one binding per name (the earliest registration), the losers each node must
/// revoke, listings in name order.
@Suite struct NamePlaneTests {
    static func registration(_ name: String, _ pid: PID, at millis: UInt64) -> PlaneEntry {
        PlaneEntry(key: NamePlane.key(name: name, pid: pid), stamp: PlaneStamp(time: HLC(millis: millis, logical: 0), node: pid.node), value: NamePlane.value)
    }

    static let a = PID(node: NodeID("a"), incarnation: Incarnation(1), serial: 1)
    static let b = PID(node: NodeID("b"), incarnation: Incarnation(1), serial: 2)
    static let c = PID(node: NodeID("c"), incarnation: Incarnation(1), serial: 3)

    @Test func theEarliestRegistrationIsTheBindingAndEveryOtherOwnerNodeRevokesItsOwn() {
        var state = PlaneState()
        for entry in [Self.registration("svc", Self.b, at: 20), Self.registration("svc", Self.a, at: 10), Self.registration("svc", Self.c, at: 30)] {
            state.merge(entry, atLocalMillis: 0, physicalMillis: 0)
        }
        #expect(NamePlane.binding(of: "svc", in: state)?.pid == Self.a)
        #expect(NamePlane.losers(of: ["svc"], in: state, node: NodeID("a")).isEmpty)
        #expect(NamePlane.losers(of: ["svc"], in: state, node: NodeID("b")).map(\.pid) == [Self.b])
        #expect(NamePlane.losers(of: ["svc"], in: state, node: NodeID("c")).map(\.pid) == [Self.c])
        // The winner unregisters: the next earliest becomes the binding.
        state.merge(PlaneEntry(tombstone: NamePlane.key(name: "svc", pid: Self.a), stamp: PlaneStamp(time: HLC(millis: 40, logical: 0), node: NodeID("a"))),
                    atLocalMillis: 0, physicalMillis: 0)
        #expect(NamePlane.binding(of: "svc", in: state)?.pid == Self.b)
    }

    @Test func listingsGroupRegistrationsByNameInNameOrder() {
        var state = PlaneState()
        for entry in [
            Self.registration("ab", Self.a, at: 5), Self.registration("a", Self.b, at: 7), Self.registration("a", Self.c, at: 6),
            Self.registration("b", Self.a, at: 1),
        ] {
            state.merge(entry, atLocalMillis: 0, physicalMillis: 0)
        }
        let all = NamePlane.bindings(in: state)
        #expect(all.map(\.name) == ["a", "ab", "b"])
        #expect(all.map(\.pid) == [Self.c, Self.a, Self.a])
        #expect(NamePlane.bindings(prefix: "a", in: state).map(\.name) == ["a", "ab"])
        #expect(NamePlane.bindings(limit: 2, in: state).map(\.name) == ["a", "ab"])
        #expect(NamePlane.bindingCount(in: state) == 3)
        #expect(NamePlane.decode(NamePlane.key(name: "x/y", pid: Self.b))?.pid == Self.b)
        #expect(NamePlane.decode([0, 1, 2]) == nil)
    }
}
