import CohortTestKit
import Gossip
import Testing

@Suite("node metadata")
struct NodeMetaTests {
    static let sample = NodeMeta(
        internodePort: 7951, raftEligible: true, raftPriority: 100, failureDomain: "rack-1", role: .server,
        bootstrapStatus: .inCluster, bootstrapExpect: 3, bootID: 0x0102_0304_0506_0708, buildVersion: "0.1.0"
    )

    @Test("the version 1 layout is pinned byte for byte")
    func layout() throws {
        let expected: [UInt8] = [0xC7, 1, 0x1F, 0x0F, 0, 1, 0, 100, 1, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 6]
            + Array("rack-1".utf8) + [5] + Array("0.1.0".utf8)
        #expect(try Self.sample.encoded() == expected)
    }

    @Test("round-trips every field")
    func roundTrip() throws {
        let variants = [
            Self.sample,
            NodeMeta(internodePort: 0, raftEligible: false, raftPriority: .max, failureDomain: "", role: .client,
                     bootstrapStatus: .pre, bootstrapExpect: 0, bootID: .max, buildVersion: ""),
            NodeMeta(internodePort: .max, failureDomain: String(repeating: "é", count: 64), bootID: 1,
                     buildVersion: String(repeating: "v", count: 64)),
            { var meta = Self.sample; meta.internodeHost = "10.1.2.3"; return meta }(),
            { var meta = Self.sample; meta.clusterID = "prod"; meta.internodeHost = "mesh.example.com"; return meta }(),
            { var meta = Self.sample; meta.raftGroup = "5f0c2a9e81d34b77"; return meta }(),
            { var meta = Self.sample; meta.bootstrapProposal = .max; return meta }(),
            { var meta = Self.sample; meta.raftGroup = "5f0c"; meta.bootstrapProposal = 0x1f; return meta }(),
        ]
        for meta in variants {
            let bytes = try meta.encoded()
            #expect(bytes.count <= NodeMeta.maxEncodedBytes)
            #expect(try NodeMeta(decoding: bytes) == meta)
        }
    }

    @Test("a newer version's appended fields and reserved flag bits are ignored")
    func forwardCompatible() throws {
        var bytes = try Self.sample.encoded()
        bytes[1] = 7
        bytes[5] |= 0b1111_0000
        // A newer version writes the cluster id, the internode host, the Raft group and the bootstrap
        // proposal (here empty) before the fields it adds.
        bytes += [0x00, 0x00, 0x00, 0x00, 0xAA, 0xBB, 0x00, 0x10]
        #expect(try NodeMeta(decoding: bytes) == Self.sample)
    }

    @Test("foreign, corrupt, cut or oversized metadata is a typed error")
    func rejects() throws {
        let bytes = try Self.sample.encoded()
        #expect(throws: GossipDecodeError.empty) { try NodeMeta(decoding: []) }
        for cut in 1..<bytes.count {
            #expect(throws: GossipDecodeError.truncated, "cut \(cut)") { try NodeMeta(decoding: Array(bytes.prefix(cut))) }
        }
        #expect(throws: GossipDecodeError.malformed(field: "NodeMeta.magic")) { try NodeMeta(decoding: Array("meta:go-a".utf8)) }
        var corrupt = bytes
        corrupt[1] = 0
        #expect(throws: GossipDecodeError.malformed(field: "NodeMeta.version")) { try NodeMeta(decoding: corrupt) }
        corrupt = bytes
        corrupt[4] = 9
        #expect(throws: GossipDecodeError.malformed(field: "NodeMeta.role")) { try NodeMeta(decoding: corrupt) }
        corrupt = bytes
        corrupt[8] = 2
        #expect(throws: GossipDecodeError.malformed(field: "NodeMeta.bootstrapStatus")) { try NodeMeta(decoding: corrupt) }
        corrupt = bytes
        corrupt[20] = 0xFF
        #expect(throws: GossipDecodeError.malformed(field: "NodeMeta.failureDomain")) { try NodeMeta(decoding: corrupt) }
        #expect(throws: GossipDecodeError.oversized("NodeMeta")) { try NodeMeta(decoding: bytes + [UInt8](repeating: 0, count: 513)) }
    }

    @Test("refuses to encode fields that would not fit")
    func encodeLimits() {
        var meta = Self.sample
        meta.failureDomain = String(repeating: "x", count: 129)
        #expect(throws: GossipEncodeError.metadataTooLarge("failureDomain")) { try meta.encoded() }
        meta = Self.sample
        meta.buildVersion = String(repeating: "x", count: 65)
        #expect(throws: GossipEncodeError.metadataTooLarge("buildVersion")) { try meta.encoded() }
    }

    @Test("seeded random metadata decodes or fails with a typed error")
    func random() {
        var generator = SplitMix64(seed: 512)
        for _ in 0..<5_000 {
            var bytes = generator.bytes(Int.random(in: 0...40, using: &generator))
            if bytes.count > 1 { bytes[0] = 0xC7 }
            _ = try? NodeMeta(decoding: bytes)
        }
    }
}
