import CohortCore
import Testing

@Suite struct PIDTests {
    @Test func textFormRoundTrips() {
        let pid = PID(node: NodeID("node-1"), incarnation: Incarnation(1_764_246_229_000), serial: 42)
        #expect(pid.description == "node-1@1764246229000.42")
        #expect(PID(pid.description) == pid)
    }

    @Test func nodeNamesWithAtAndDotsParseFromTheRight() {
        let pid = PID(node: NodeID("a@b.example.com"), incarnation: Incarnation(7), serial: 9)
        #expect(PID(pid.description) == pid)
    }

    @Test(arguments: ["", "node", "node@1", "node@.1", "node@1.", "@1.2", "node@-1.2", "node@1.+2", "node@x.2", "node@1.2x"])
    func malformedTextIsRejected(_ text: String) {
        #expect(PID(text) == nil)
    }

    @Test func aLaterIncarnationOrdersAfterEveryPIDOfAnEarlierOne() {
        let node = NodeID("n")
        let old = PID(node: node, incarnation: Incarnation(10), serial: 1_000_000)
        let new = PID(node: node, incarnation: Incarnation(11), serial: 1)
        #expect(old < new)
        #expect(old != new)
    }
}
