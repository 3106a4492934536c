import CohortTestKit
import NIOCore
import Testing
import Wire

/// The msgpack writer must match go-msgpack 0.5.5 byte for byte, and the reader must read it back.
@Suite("msgpack against go-msgpack 0.5.5")
struct MsgPackGoVectorTests {
    static func encode(_ sample: MsgPackSample) -> [UInt8] {
        var writer = MsgPackWriter()
        switch sample {
        case .unsigned(let value): writer.writeInteger(value)
        case .signed(let value): writer.writeInteger(value)
        case .string(let count): writer.writeString(String(repeating: "x", count: count))
        case .bytes(let count): writer.writeBytes([UInt8](repeating: 7, count: count))
        case .bool(let value): writer.writeBool(value)
        }
        return Array(writer.buffer.readableBytesView)
    }

    @Test("encodes every Go vector byte-identically", arguments: GoWireVectors.msgpack.indices)
    func encodesLikeGo(index: Int) {
        let vector = GoWireVectors.msgpack[index]
        let encoded = Self.encode(vector.value)
        #expect(encoded.count == vector.length)
        #expect(Array(encoded.prefix(vector.length > 64 ? 16 : vector.length)) == [UInt8](hex: vector.hex))
        #expect(CRC32.checksum(encoded) == vector.crc)
    }

    @Test("decodes every Go vector to the value it encodes", arguments: GoWireVectors.msgpack.indices)
    func decodesGoOutput(index: Int) throws {
        let vector = GoWireVectors.msgpack[index]
        var reader = MsgPackReader(ByteBuffer(bytes: Self.encode(vector.value)))
        switch vector.value {
        case .unsigned(let value): #expect(try reader.readInteger(as: UInt64.self) == value)
        case .signed(let value): #expect(try reader.readInteger(as: Int64.self) == value)
        case .string(let count): #expect(try reader.readString() == String(repeating: "x", count: count))
        case .bytes(let count): #expect(try reader.readBytes() == [UInt8](repeating: 7, count: count))
        case .bool(let value): #expect(try reader.readBool() == value)
        }
        #expect(reader.isAtEnd)
    }

    @Test("never writes str8 or bin, even for 32…255 bytes")
    func rawFamilyOnly() {
        for count in [32, 100, 255] {
            let encoded = Self.encode(.bytes(count: count))
            #expect(encoded[0] == 0xda, "length \(count) must use str16")
            #expect(Self.encode(.string(count: count))[0] == 0xda)
        }
        #expect(Self.encode(.bytes(count: 31))[0] == 0xbf)
        #expect(Self.encode(.bytes(count: 65_536))[0] == 0xdb)
    }
}
