import CohortTestKit
import Gossip
import NIOCore
import Testing
import Wire

/// Hostile datagrams are rejected with a typed error; nothing crashes or allocates without bound.
@Suite("packet decoder against bad input")
struct PacketDecoderRobustnessTests {
    let decoder = PacketDecoder()

    func decode(_ bytes: [UInt8], with decoder: PacketDecoder = PacketDecoder()) throws(GossipDecodeError) -> DecodedPacket {
        try decoder.decode(ByteBuffer(bytes: bytes))
    }

    @Test("every truncation of every structured Go message is .truncated (or .empty at zero)")
    func truncatedMessages() {
        for (name, _) in ExpectedMessages.named where name != "user" {
            let bytes = GoMemberlistVectors.message(name)
            #expect(throws: GossipDecodeError.empty) { try decode([]) }
            for cut in 1..<bytes.count {
                #expect(throws: GossipDecodeError.truncated, "\(name) cut at \(cut)") { try decode(Array(bytes.prefix(cut))) }
            }
        }
    }

    @Test("every truncation of the framed Go packets is rejected or reported, never decoded as the whole")
    func truncatedFrames() throws {
        let keyring = try GoMemberlistVectors.keyring(GoMemberlistVectors.key16)
        let decoder = PacketDecoder(keyring: keyring)
        let sealed = GoMemberlistVectors.frame("encrypt-v1-key16(crc(compress(compound(ping-source,alive,alive,alive,suspect))))")
        for cut in 0..<sealed.count {
            #expect(throws: (cut < 29 ? GossipDecodeError.truncated : .decryptFailed)) {
                try decoder.decode(ByteBuffer(bytes: sealed.prefix(cut)))
            }
        }
        for name in ["compound(ping,suspect,user)", "compress(compound(ping,suspect,user))", "crc(ping)"] {
            let frame = GoMemberlistVectors.frame(name)
            let whole = try decode(frame)
            for cut in 0..<frame.count {
                do {
                    let partial = try decode(Array(frame.prefix(cut)))
                    #expect(partial != whole)
                    #expect(!partial.droppedParts.isEmpty || partial.messages.last?.messageType == .user, "\(name) at \(cut)")
                } catch {
                    #expect(error.reason != "", "\(name) at \(cut)")
                }
            }
        }
    }

    @Test("seeded random datagrams give a result or a typed error")
    func randomDatagrams() {
        var generator = SplitMix64(seed: 2024)
        var decoded = 0
        for round in 0..<20_000 {
            var bytes = generator.bytes(Int.random(in: 0...96, using: &generator))
            if round % 2 == 0, !bytes.isEmpty { bytes[0] = UInt8.random(in: 0...13, using: &generator) }
            if let result = try? decode(bytes) {
                decoded += 1
                #expect(result.messages.count <= bytes.count)
            }
        }
        #expect(decoded > 0)
    }

    @Test("a datagram over the size limit is refused before decoding")
    func oversized() {
        #expect(throws: GossipDecodeError.oversized("packet")) { try decode([8] + [UInt8](repeating: 0, count: 65_536)) }
    }

    @Test("a compound whose lengths lie keeps the parts that fit and reports the rest")
    func lyingCompound() throws {
        let ping = GoMemberlistVectors.message("ping")
        var bytes: [UInt8] = [7, 255, UInt8(ping.count >> 8), UInt8(ping.count & 0xff)]
        bytes += [UInt8](repeating: 0xff, count: 254 * 2) + ping
        let result = try decode(bytes)
        #expect(result.messages == [.ping(ExpectedMessages.ping)])
        #expect(result.droppedParts == [.truncated])
        #expect(throws: GossipDecodeError.truncated) { try decode([7, 255] + [UInt8](repeating: 0, count: 100)) }
        #expect(throws: GossipDecodeError.truncated) { try decode([7]) }
        let empties = try decode([7, 255] + [UInt8](repeating: 0, count: 510))
        #expect(empties.messages.isEmpty && empties.droppedParts.count == 255)
    }

    @Test("one bad part does not cost the others")
    func badPartIsolated() throws {
        let parts = [ByteBuffer(bytes: [244, 1]), ByteBuffer(bytes: [6]), ExpectedMessages.ping.encodedMessage(), ByteBuffer(bytes: [0, 0xc1])]
        let result = try decode(try CompoundMessage.encode(parts).bytes)
        #expect(result.messages == [.ping(ExpectedMessages.ping)])
        #expect(result.droppedParts == [.unknownMessageType(244), .unexpectedMessageType(.pushPull), .malformed(field: "ping.<header>")])
    }

    @Test("a wrong CRC is rejected")
    func badCRC() throws {
        var frame = GoMemberlistVectors.frame("crc(ping)")
        frame[frame.count - 1] ^= 1
        #expect(throws: GossipDecodeError.self) { try decode(frame) }
        do {
            _ = try decode(frame)
        } catch {
            guard case .badCRC = error else { Issue.record("expected badCRC, got \(error)"); return }
        }
        #expect(throws: GossipDecodeError.unexpectedMessageType(.hasCRC)) { try decode([12, 0, 0]) }
        #expect(throws: GossipDecodeError.empty) { try decode([12, 0, 0, 0, 0]) }
    }

    @Test("types that never travel in a datagram are refused", arguments: [6, 10, 13, 14, 244, 255])
    func unexpectedTypes(type: UInt8) {
        let expected: GossipDecodeError = MessageType(rawValue: type).map { .unexpectedMessageType($0) } ?? .unknownMessageType(type)
        #expect(throws: expected) { try decode([type, 0x80]) }
    }

    @Test("a compression bomb stops at the decompression budget")
    func compressionBomb() throws {
        let bomb = CompressMessage(compressing: [8] + [UInt8](repeating: 0, count: 4 << 20)).encodedMessage().bytes
        #expect(bomb.count < 65_536)
        #expect(throws: GossipDecodeError.oversized("decompressed")) { try decode(bomb) }
        let part = CompressMessage(compressing: [8] + [UInt8](repeating: 0, count: 600_000)).encodedMessage()
        let result = try decode(try CompoundMessage.encode([part, part, part]).bytes)
        #expect(result.messages.count == 1)
        #expect(result.droppedParts == [.oversized("decompressed"), .oversized("decompressed")])
    }

    @Test("nesting compress and compound past the limit is refused")
    func deepNesting() throws {
        var compressed = ExpectedMessages.ping.encodedMessage().bytes
        for _ in 0..<6 { compressed = CompressMessage(compressing: compressed).encodedMessage().bytes }
        #expect(throws: GossipDecodeError.nestingTooDeep) { try decode(compressed) }
        var nested = ExpectedMessages.ping.encodedMessage()
        for _ in 0..<10 { nested = try CompoundMessage.encode([nested]) }
        #expect(try decode(nested.bytes) == DecodedPacket(droppedParts: [.nestingTooDeep]))
        var allowed = ExpectedMessages.ping.encodedMessage()
        for _ in 0..<4 { allowed = try CompoundMessage.encode([allowed]) }
        #expect(try decode(allowed.bytes).messages == [.ping(ExpectedMessages.ping)])
    }

    @Test("unknown compression algorithms and corrupt LZW are typed")
    func badCompression() {
        #expect(throws: GossipDecodeError.unknownCompression(1)) {
            try decode(CompressMessage(algorithm: 1, buffer: [1, 2]).encodedMessage().bytes)
        }
        #expect(throws: GossipDecodeError.decompressionFailed(.missingEndCode)) {
            try decode(CompressMessage(buffer: [0x00]).encodedMessage().bytes)
        }
    }
}
