import NIOCore
import Wire

/// What one datagram held.
public struct DecodedPacket: Hashable, Sendable {
    /// The messages, in wire order, with compound and compress wrappers removed.
    public var messages: [GossipMessage]
    /// Why parts of a compound message were dropped. memberlist handles each part on its own, so one bad
    /// part (or parts cut off by a lying length) does not cost the others.
    public var droppedParts: [GossipDecodeError]

    /// Creates a result.
    public init(messages: [GossipMessage] = [], droppedParts: [GossipDecodeError] = []) {
        self.messages = messages
        self.droppedParts = droppedParts
    }
}

/// The receive pipeline for datagrams, memberlist 0.2.2's `ingestPacket` and `handleCommand`:
/// decrypt (trying every key) → verify and strip an optional CRC header → dispatch, recursing into compound
/// and compress messages up to ``GossipLimits/maxNesting`` deep.
public struct PacketDecoder: Sendable {
    /// Keys to decrypt with; nil when the cluster is not encrypted.
    public var keyring: Keyring?
    /// With a keyring: false treats undecryptable packets as plaintext (memberlist's
    /// `GossipVerifyIncoming`, only for migrating a live cluster to encryption).
    public var verifyIncoming: Bool
    /// Bounds on sizes and nesting.
    public var limits: GossipLimits

    /// Creates a decoder.
    public init(keyring: Keyring? = nil, verifyIncoming: Bool = true, limits: GossipLimits = .default) {
        self.keyring = keyring
        self.verifyIncoming = verifyIncoming
        self.limits = limits
    }

    /// Decodes one datagram. Throws when the packet as a whole is unusable; failures confined to compound
    /// parts are reported in ``DecodedPacket/droppedParts`` instead.
    public func decode(_ packet: ByteBuffer) throws(GossipDecodeError) -> DecodedPacket {
        guard packet.readableBytes <= limits.maxPacketBytes else { throw .oversized("packet") }
        var buffer = packet
        if let keyring {
            do {
                buffer = ByteBuffer(bytes: try PayloadEncryption.open(packet, keyring: keyring))
            } catch {
                if verifyIncoming { throw error }
            }
        }
        if buffer.readableBytes >= 5, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == MessageType.hasCRC.rawValue {
            buffer.moveReaderIndex(forwardBy: 1)
            guard let expected = buffer.readInteger(as: UInt32.self) else { throw .truncated }
            let actual = CRC32.checksum(buffer)
            guard actual == expected else { throw .badCRC(expected: expected, actual: actual) }
        }
        var walker = Walker(limits: limits)
        try walker.dispatch(buffer, depth: 0)
        return walker.result
    }

    /// Walks nested compound/compress messages, sharing one decompression budget.
    private struct Walker {
        let limits: GossipLimits
        var result = DecodedPacket()
        var decompressionBudget: Int

        init(limits: GossipLimits) {
            self.limits = limits
            self.decompressionBudget = limits.maxDecompressedPacketBytes
        }

        mutating func dispatch(_ message: ByteBuffer, depth: Int) throws(GossipDecodeError) {
            var body = message
            guard let typeByte = body.readInteger(as: UInt8.self) else { throw .empty }
            guard let type = MessageType(rawValue: typeByte) else { throw .unknownMessageType(typeByte) }
            switch type {
            case .compound:
                guard depth < limits.maxNesting else { throw .nestingTooDeep }
                let (parts, truncated) = try CompoundMessage.split(body)
                for part in parts {
                    do {
                        try dispatch(part, depth: depth + 1)
                    } catch {
                        result.droppedParts.append(error)
                    }
                }
                if truncated > 0 { result.droppedParts.append(.truncated) }
            case .compress:
                guard depth < limits.maxNesting else { throw .nestingTooDeep }
                let compressed = try CompressMessage(body: body, limits: limits)
                let plain: [UInt8]
                do {
                    plain = try compressed.decompressed(maxOutputBytes: decompressionBudget)
                } catch .decompressionFailed(.outputLimitExceeded) {
                    throw .oversized("decompressed")
                }
                decompressionBudget -= plain.count
                try dispatch(ByteBuffer(bytes: plain), depth: depth + 1)
            default:
                result.messages.append(try GossipMessage(type: type, body: body, limits: limits))
            }
        }
    }
}
