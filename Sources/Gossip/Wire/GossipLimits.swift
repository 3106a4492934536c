import Wire

/// Bounds on everything a peer can make us decode. The defaults admit anything a memberlist 0.2.2 peer
/// sends in practice and reject the rest before allocating.
public struct GossipLimits: Hashable, Sendable {
    /// Longest datagram accepted, in bytes. Default 65 536 (memberlist's receive buffer).
    public var maxPacketBytes: Int
    /// Most bytes all decompressions of one packet may produce together. Default 1 MiB.
    public var maxDecompressedPacketBytes: Int
    /// Most bytes a stream may carry, before or after decompression. Default 20 MiB, memberlist 0.2.2's
    /// `maxPushStateBytes`.
    public var maxStreamBytes: Int
    /// Deepest nesting of compound/compress inside one packet. Default 4 (Go sends at most 2: a
    /// compressed compound).
    public var maxNesting: Int
    /// Most node states in one push/pull. Default 65 536.
    public var maxPushPullNodes: Int
    /// Longest node metadata, in bytes. Default 512 (memberlist's `MetaMaxSize`).
    public var maxMetaBytes: Int
    /// Longest node name, in bytes. Default 512.
    public var maxNameBytes: Int
    /// Longest `Vsn` version vector. Default 16 (memberlist sends 6).
    public var maxVersionBytes: Int
    /// Longest ack payload or error text, in bytes. Default 65 536.
    public var maxPayloadBytes: Int

    /// Limits with the documented defaults, each overridable.
    public init(
        maxPacketBytes: Int = 65_536,
        maxDecompressedPacketBytes: Int = 1 << 20,
        maxStreamBytes: Int = 20 << 20,
        maxNesting: Int = 4,
        maxPushPullNodes: Int = 65_536,
        maxMetaBytes: Int = 512,
        maxNameBytes: Int = 512,
        maxVersionBytes: Int = 16,
        maxPayloadBytes: Int = 65_536
    ) {
        self.maxPacketBytes = maxPacketBytes
        self.maxDecompressedPacketBytes = maxDecompressedPacketBytes
        self.maxStreamBytes = maxStreamBytes
        self.maxNesting = maxNesting
        self.maxPushPullNodes = maxPushPullNodes
        self.maxMetaBytes = maxMetaBytes
        self.maxNameBytes = maxNameBytes
        self.maxVersionBytes = maxVersionBytes
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// The defaults.
    public static let `default` = GossipLimits()

    /// The msgpack bounds implied by these limits.
    var msgPack: MsgPackLimits {
        MsgPackLimits(maxDepth: 8, maxByteLength: maxStreamBytes, maxContainerCount: 4096)
    }
}
