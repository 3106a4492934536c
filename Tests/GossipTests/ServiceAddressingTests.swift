@testable import Gossip
import NIOCore
import Testing

/// The shell's address handling: name resolution off the cooperative pool, raw memberlist addresses.
@Suite("GossipService addressing")
struct ServiceAddressingTests {
    @Test func ipLiteralsResolveToThemselvesWithoutALookup() async throws {
        #expect(try await GossipAddressing.resolve("127.0.0.9", port: 7946) == [try SocketAddress(ipAddress: "127.0.0.9", port: 7946)])
        #expect(try await GossipAddressing.resolve("[::1]", port: 7) == [try SocketAddress(ipAddress: "::1", port: 7)])
        #expect(try await GossipAddressing.resolve("", port: 7) == [try SocketAddress(ipAddress: "0.0.0.0", port: 7)])
    }

    @Test func namesResolveToEveryRecordOnThePort() async throws {
        let addresses = try await GossipAddressing.resolve("localhost", port: 7946)
        #expect(addresses.contains(try SocketAddress(ipAddress: "127.0.0.1", port: 7946)))
        #expect(Set(addresses.map { $0.port }) == [7946])
        #expect(Set(addresses).count == addresses.count)
    }

    @Test func rawAddressesRoundTrip() throws {
        let v4 = try GossipAddressing.socketAddress(ip: [127, 1, 2, 3], port: 7946)
        #expect(v4 == (try SocketAddress(ipAddress: "127.1.2.3", port: 7946)))
        #expect(GossipAddressing.packedIP(v4) == [127, 1, 2, 3])
        let v6 = try GossipAddressing.socketAddress(ip: [UInt8](repeating: 0, count: 15) + [1], port: 1)
        #expect(v6 == (try SocketAddress(ipAddress: "::1", port: 1)))
        #expect(GossipAddressing.packedIP(v6)?.count == 16)
    }

    @Test func wildcardsAreRecognised() {
        #expect(["", "0.0.0.0", "::", "[::]"].allSatisfy(GossipAddressing.isWildcard))
        #expect(!GossipAddressing.isWildcard("127.0.0.1"))
        #expect(GossipAddressing.defaultAdvertiseIP().count == 4)
    }
}
