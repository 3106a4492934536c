import CohortCore
import Wire

/// What a Cohort node tells the cluster about itself in `alive.Meta` (at most 512 bytes).
///
/// Layout, version 1 (integers big-endian):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 1 | magic `0xC7` |
/// | 1 | 1 | format version (1) |
/// | 2 | 2 | internode port |
/// | 4 | 1 | role: 0 server, 1 client |
/// | 5 | 1 | flags: bit 0 = Raft eligible; other bits reserved, ignored |
/// | 6 | 2 | Raft priority (lower is preferred) |
/// | 8 | 1 | bootstrap status: 0 pre, 1 in |
/// | 9 | 2 | `bootstrap_expect` |
/// | 11 | 8 | boot id |
/// | 19 | 1 + n | failure domain, UTF-8, length-prefixed |
/// | … | 1 + n | build version, UTF-8, length-prefixed |
/// | … | 1 + n | cluster id, internode host, Raft group id, bootstrap proposal (hex): appended texts, each
/// |   |       | written only when it or a later one is set |
///
/// Later format versions only append fields, so this decoder reads any version ≥ 1 and ignores what
/// follows the fields it knows. An incompatible layout would take a new magic byte.
public struct NodeMeta: Hashable, Sendable {
    /// Whether the node may hold Raft state.
    public enum Role: UInt8, Hashable, Sendable {
        /// May be a voter or standby.
        case server = 0
        /// Gossip only; never in the Raft configuration.
        case client = 1
    }

    /// Where the node stands with `bootstrap_expect`.
    public enum BootstrapStatus: UInt8, Hashable, Sendable {
        /// "pre": waiting to bootstrap or to be added.
        case pre = 0
        /// "in": part of a bootstrapped cluster.
        case inCluster = 1
    }

    /// The first byte of every encoding.
    public static let magic: UInt8 = 0xC7
    /// The format version this code writes.
    public static let formatVersion: UInt8 = 1
    /// memberlist's `MetaMaxSize`.
    public static let maxEncodedBytes = 512
    /// Longest failure domain accepted when encoding, in UTF-8 bytes.
    public static let maxFailureDomainBytes = 128
    /// Longest build version accepted when encoding, in UTF-8 bytes.
    public static let maxBuildVersionBytes = 64

    /// The port the internode mesh listens on.
    public var internodePort: UInt16
    /// Whether the node may become a voter (`cluster.raft.eligible`).
    public var raftEligible: Bool
    /// Voter preference, lower first (`cluster.raft.priority`).
    public var raftPriority: UInt16
    /// Zone or rack (`cluster.failure_domain`); empty when unset.
    public var failureDomain: String
    /// Server or client (`cluster.raft.role`).
    public var role: Role
    /// Pre- or in-cluster.
    public var bootstrapStatus: BootstrapStatus
    /// `cluster.raft.bootstrap_expect`.
    public var bootstrapExpect: UInt16
    /// The node's boot incarnation: new on every process start (not the SWIM incarnation).
    public var bootID: UInt64
    /// The Cohort version the node runs.
    public var buildVersion: String
    /// `cluster.membership.cluster_id`: Cohort nodes whose ids differ never merge (empty = unlabelled).
    /// Appended after the version-1 fields, so older decoders ignore it.
    public var clusterID: String = ""
    /// The longest cluster id the metadata carries.
    public static let maxClusterIDBytes = 64
    /// The host peers dial for the mesh (`cluster.internode.advertise_addr`); empty means the member's
    /// gossip address. Appended after the cluster id.
    public var internodeHost: String = ""
    /// The longest internode host the metadata carries (an IPv6 literal or a DNS name).
    public static let maxInternodeHostBytes = 255
    /// The id of the Raft group the node belongs to (empty while it has none, or before it learned it).
    /// A leader adds only nodes without Raft state or of its own group, so two groups founded apart never
    /// mix logs. Appended after the internode host.
    public var raftGroup: String = ""
    /// The longest Raft group id the metadata carries.
    public static let maxRaftGroupBytes = 32
    /// The founding set the node proposes while it waits to bootstrap (`BootstrapPlanner.proposal(for:)`),
    /// 0 for none. Appended after the Raft group id, as 16 hex digits (empty for 0).
    public var bootstrapProposal: UInt64 = 0

    /// Creates metadata.
    public init(
        internodePort: UInt16, raftEligible: Bool = true, raftPriority: UInt16 = 100, failureDomain: String = "",
        role: Role = .server, bootstrapStatus: BootstrapStatus = .pre, bootstrapExpect: UInt16 = 1,
        bootID: UInt64, buildVersion: String
    ) {
        self.internodePort = internodePort
        self.raftEligible = raftEligible
        self.raftPriority = raftPriority
        self.failureDomain = failureDomain
        self.role = role
        self.bootstrapStatus = bootstrapStatus
        self.bootstrapExpect = bootstrapExpect
        self.bootID = bootID
        self.buildVersion = buildVersion
    }

    /// Whether `announced` is Cohort metadata of a later boot than `known` (both must decode): the same
    /// node restarted. Anything else, a foreign peer's metadata among it, is no evidence of a restart.
    @Sendable public static func isLaterBoot(_ known: [UInt8], _ announced: [UInt8]) -> Bool {
        guard let known = try? NodeMeta(decoding: known), let announced = try? NodeMeta(decoding: announced) else { return false }
        return announced.bootID > known.bootID
    }

    /// The version-1 encoding.
    public func encoded() throws(GossipEncodeError) -> [UInt8] {
        guard failureDomain.utf8.count <= Self.maxFailureDomainBytes else {
            throw .metadataTooLarge("failureDomain")
        }
        guard buildVersion.utf8.count <= Self.maxBuildVersionBytes else {
            throw .metadataTooLarge("buildVersion")
        }
        guard clusterID.utf8.count <= Self.maxClusterIDBytes else {
            throw .metadataTooLarge("clusterID")
        }
        guard internodeHost.utf8.count <= Self.maxInternodeHostBytes else {
            throw .metadataTooLarge("internodeHost")
        }
        guard raftGroup.utf8.count <= Self.maxRaftGroupBytes else {
            throw .metadataTooLarge("raftGroup")
        }
        var writer = ByteWriter(capacity: 64)
        writer.u8(Self.magic)
        writer.u8(Self.formatVersion)
        writer.u16(internodePort)
        writer.u8(role.rawValue)
        writer.u8(raftEligible ? 1 : 0)
        writer.u16(raftPriority)
        writer.u8(bootstrapStatus.rawValue)
        writer.u16(bootstrapExpect)
        writer.u64(bootID)
        // Appended fields are written only when set (or when a later one is), so unlabelled metadata keeps
        // the exact version-1 layout.
        var texts = [failureDomain, buildVersion]
        let appended = [clusterID, internodeHost, raftGroup, bootstrapProposal == 0 ? "" : String(bootstrapProposal, radix: 16)]
        if let last = appended.lastIndex(where: { !$0.isEmpty }) { texts += appended[...last] }
        for text in texts {
            writer.u8(UInt8(text.utf8.count))
            writer.bytes(text.utf8)
        }
        return writer.buffer
    }

    /// Decodes any format version ≥ 1, ignoring fields a newer version appended.
    ///
    /// - Throws: ``GossipDecodeError/empty`` for empty metadata (a plain memberlist peer),
    ///   ``GossipDecodeError/malformed(field:)`` for foreign or corrupt bytes, ``GossipDecodeError/truncated``
    ///   when a field is cut off, ``GossipDecodeError/oversized(_:)`` past 512 bytes.
    public init(decoding bytes: [UInt8]) throws(GossipDecodeError) {
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= Self.maxEncodedBytes else { throw .oversized("NodeMeta") }
        var reader = FieldReader(reader: ByteReader(bytes))
        guard try reader.integer(UInt8.self) == Self.magic else { throw .malformed(field: "NodeMeta.magic") }
        guard try reader.integer(UInt8.self) >= 1 else { throw .malformed(field: "NodeMeta.version") }
        internodePort = try reader.integer()
        guard let role = Role(rawValue: try reader.integer()) else { throw .malformed(field: "NodeMeta.role") }
        self.role = role
        raftEligible = try reader.integer(UInt8.self) & 1 == 1
        raftPriority = try reader.integer()
        guard let status = BootstrapStatus(rawValue: try reader.integer()) else {
            throw .malformed(field: "NodeMeta.bootstrapStatus")
        }
        bootstrapStatus = status
        bootstrapExpect = try reader.integer()
        bootID = try reader.integer()
        failureDomain = try reader.text("failureDomain")
        buildVersion = try reader.text("buildVersion")
        clusterID = reader.hasMore ? try reader.text("clusterID") : ""
        internodeHost = reader.hasMore ? try reader.text("internodeHost") : ""
        raftGroup = reader.hasMore ? try reader.text("raftGroup") : ""
        let proposal = reader.hasMore ? try reader.text("bootstrapProposal") : ""
        guard proposal.utf8.count <= 16, let value = proposal.isEmpty ? 0 : UInt64(proposal, radix: 16) else {
            throw .malformed(field: "NodeMeta.bootstrapProposal")
        }
        bootstrapProposal = value
    }

    /// Reads fixed-layout fields over CohortCore's ``ByteReader``, mapping a short read to
    /// ``GossipDecodeError/truncated``.
    private struct FieldReader {
        var reader: ByteReader

        var hasMore: Bool { !reader.isAtEnd }

        mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_ type: T.Type = T.self) throws(GossipDecodeError) -> T {
            guard let value = try? reader.integer(width: MemoryLayout<T>.size, "NodeMeta") else { throw .truncated }
            return T(value)
        }

        mutating func text(_ field: String) throws(GossipDecodeError) -> String {
            let length = try integer(UInt8.self)
            guard let bytes = try? reader.bytes(Int(length)) else { throw .truncated }
            guard let text = String(wireUTF8: bytes) else {
                throw .malformed(field: "NodeMeta.\(field)")
            }
            return text
        }
    }
}
