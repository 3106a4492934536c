import CohortCore
import GroupsCore
import Testing

@Suite struct MembersTests {
    let a = PID(node: NodeID("a"), incarnation: Incarnation(1), serial: 1)
    let b = PID(node: NodeID("a"), incarnation: Incarnation(1), serial: 2)

    @Test func aProcessThatJoinedTwiceNeedsTwoLeaves() {
        var members = Members()
        members.add(a, to: "g")
        members.add(a, to: "g")
        #expect(members.membersWithMultiplicity(of: "g") == [a, a])
        #expect(members.remove(a, from: "g") == 1)
        #expect(members.members(of: "g") == [a])
        #expect(members.remove(a, from: "g") == 1)
        #expect(members.groups["g"] == nil)
        #expect(members.count == 0)
        #expect(members.remove(a, from: "g") == 0)
    }

    @Test func theDigestDependsOnContentNotOrder() {
        var one = Members()
        one.add(a, to: "g")
        one.add(b, to: "h", times: 2)
        var two = Members()
        two.add(b, to: "h")
        two.add(a, to: "g")
        #expect(one.digest != two.digest)
        two.add(b, to: "h")
        #expect(one.digest == two.digest)
        two.remove(b, from: "h", times: 2)
        two.remove(a, from: "g")
        #expect(two.digest == 0)
        #expect(Members().digest == 0)
    }
}
