import CohortCore
@testable import CoordinationCore
import Testing

@Suite("Coordination state: consistent names")
struct NameTests {
    @Test("the first registration wins with the entry's index as token; a rival gets the owner; the owner's retry is the same registration")
    func firstWriteWins() {
        var replica = Replica()
        let owner = pid("n1"), rival = pid("n2")
        #expect(replica.apply(.registerName(name: "db", pid: owner), at: 0) == .nameRegistered(token: 1))
        #expect(replica.apply(.registerName(name: "db", pid: rival), at: 0) == .nameTaken(owner: owner))
        #expect(replica.apply(.registerName(name: "db", pid: owner), at: 0) == .nameRegistered(token: 1))
        #expect(replica.apply(.unregisterName(name: "db", pid: rival), at: 0) == .notOwner(owner: owner))
        #expect(replica.apply(.unregisterName(name: "nope", pid: rival), at: 0) == .notFound)
        #expect(replica.apply(.unregisterName(name: "db", pid: owner), at: 0) == .nameUnregistered)
        #expect(replica.apply(.registerName(name: "db", pid: rival), at: 0) == .nameRegistered(token: 7))
        #expect(replica.changes == [
            .nameRegistered(name: ByteKey("db"), pid: owner, token: 1), .nameReleased(name: ByteKey("db"), pid: owner),
            .nameRegistered(name: ByteKey("db"), pid: rival, token: 7),
        ])
    }

    @Test("an owner's exit releases its names, and only its own")
    func exitReleasesNames() {
        var replica = Replica()
        let owner = pid("n1", 1, 1), neighbour = pid("n1", 1, 2)
        replica.apply(.registerName(name: "a", pid: owner), at: 0)
        replica.apply(.registerName(name: "b", pid: owner), at: 0)
        replica.apply(.registerName(name: "c", pid: neighbour), at: 0)
        #expect(replica.state.holdings(of: owner).names == ["a", "b"])
        #expect(replica.apply(.releaseOwner(owner), at: 0) == .released(locks: 0, names: 2, waits: 0))
        #expect(replica.state.name("a") == nil && replica.state.name("b") == nil)
        #expect(replica.state.name("c")?.pid == neighbour)
    }

    @Test("names compare as bytes: a precomposed and a decomposed accent are two names")
    func namesAreBytes() {
        var replica = Replica()
        #expect(replica.apply(.registerName(name: "caf\u{E9}", pid: pid("n1")), at: 0) == .nameRegistered(token: 1))
        #expect(replica.apply(.registerName(name: "cafe\u{301}", pid: pid("n2")), at: 0) == .nameRegistered(token: 2))
    }
}
