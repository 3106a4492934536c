@testable import Cohort
import CohortCore
import Foundation
import Gossip
import Logging
import Testing

@Suite("Known members: the file a restarted node joins from")
struct KnownMembersTests {
    static func member(_ name: String, ip: [UInt8], port: UInt16 = 7946, role: NodeMeta.Role?) throws -> Member {
        var meta: [UInt8] = []
        if let role {
            var nodeMeta = NodeMeta(
                internodePort: 7950, raftEligible: true, raftPriority: 100, failureDomain: "", role: role,
                bootstrapStatus: .pre, bootstrapExpect: 1, bootID: 1, buildVersion: "0"
            )
            nodeMeta.clusterID = ""
            meta = try nodeMeta.encoded()
        }
        return Member(name: NodeID(name), ip: ip, port: port, meta: meta, incarnation: 1, state: .alive, stateChange: .now)
    }

    @Test("servers first, then clients and foreign peers, by name; this node left out; at most 64")
    func whatIsRecorded() throws {
        let live = [
            try Self.member("c-client", ip: [127, 0, 0, 3], role: .client),
            try Self.member("b-server", ip: [127, 0, 0, 2], port: 8000, role: .server),
            try Self.member("a-memberlist", ip: [127, 0, 0, 4], role: nil),
            try Self.member("self", ip: [127, 0, 0, 1], role: .server),
            try Self.member("v6", ip: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1], role: .server),
        ]
        let known = KnownMembersFile.known(live, excluding: NodeID("self"))
        #expect(known.map(\.name) == ["b-server", "v6", "a-memberlist", "c-client"])
        #expect(known[0].address == JoinAddress(host: "127.0.0.2", port: 8000))
        #expect(known[1].address.description == "[2001:db8:0:0:0:0:0:1]:7946")

        let many = try (0..<100).map { try Self.member("n\($0)", ip: [127, 0, 1, UInt8($0)], role: .client) }
        #expect(KnownMembersFile.known(many, excluding: NodeID("self")).count == KnownMembersFile.limit)
    }

    @Test("the view kept per membership update selects what the whole live set would")
    func viewKeptPerUpdate() throws {
        var view = KnownMembersView(selfID: NodeID("self"))
        var live: [NodeID: Member] = [:]
        func step(_ update: MembershipUpdate) {
            view.apply(update)
            switch update {
            case .snapshot(let all), .resync(let all): live = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
            case .joined(let member), .updated(let member): live[member.name] = member
            case .left(let member, _): live[member.name] = nil
            }
            #expect(view.selection == KnownMembersFile.known(live.values, excluding: NodeID("self")))
        }
        step(.snapshot([try Self.member("self", ip: [127, 0, 0, 1], role: .server), try Self.member("a", ip: [127, 0, 0, 2], role: .client)]))
        for index in 0..<80 {
            step(.joined(try Self.member("n\(index)", ip: [127, 0, 1, UInt8(index)], role: index % 3 == 0 ? .server : .client)))
        }
        step(.updated(try Self.member("a", ip: [127, 0, 0, 9], role: .server)))
        step(.updated(try Self.member("self", ip: [127, 0, 0, 1], role: .client)))
        step(.left(try Self.member("n0", ip: [127, 0, 1, 0], role: .server), reason: .dead))
        step(.resync([try Self.member("b", ip: [127, 0, 0, 3], role: nil)]))
        #expect(view.selection.map(\.name) == ["b"])
    }

    @Test("the file round-trips (IPv6 too); lines it cannot read are skipped, not fatal")
    func fileFormat() throws {
        let members = [
            KnownMember(name: "a", address: JoinAddress(host: "10.0.0.1", port: 7946), server: true),
            KnownMember(name: "b", address: JoinAddress(host: "2001:db8::1", port: 7000), server: false),
        ]
        let text = KnownMembersFile.encode(members)
        #expect(text.hasPrefix("# cohort known members v1"))
        #expect(KnownMembersFile.decode(text) == members)

        let damaged = text + """
            only-two-fields 10.0.0.9:7946
            bad-role 10.0.0.9:7946 voter
            bad-port 10.0.0.9:99999 server
            empty-host :7946 server
            \u{0}\u{1} garbage
            c 10.0.0.3:7946 client
            """
        #expect(KnownMembersFile.decode(damaged).map(\.name) == ["a", "b", "c"])
        #expect(KnownMembersFile.decode("").isEmpty)
    }

    @Test("stored durably and loaded by the next boot; without a file the boot knows nobody")
    func bootReadsTheFile() throws {
        let data = NodeBootTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let settings = try NodeBootTests.settings(data: data)
        let first = NodeBoot.resolve(settings: settings, logger: Logger(label: "test"), environment: [:], nowMilliseconds: 1)
        #expect(first.knownMembers.isEmpty)

        let members = [KnownMember(name: "n2", address: JoinAddress(host: "127.0.0.2", port: 7946), server: true)]
        try KnownMembersFile(directory: data + "/_sys").store(members)
        let second = NodeBoot.resolve(settings: settings, logger: Logger(label: "test"), environment: [:], nowMilliseconds: 2)
        #expect(second.knownMembers == members)
    }
}
