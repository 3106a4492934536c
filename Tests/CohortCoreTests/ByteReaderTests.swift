import CohortCore
import Testing

@Suite("byte reader and writer")
struct ByteReaderTests {
    @Test("what the writer writes the reader reads back, big-endian")
    func roundTrip() throws {
        var writer = ByteWriter()
        writer.u8(7)
        writer.flag(true)
        writer.u16(0x0102)
        writer.u32(0x0304_0506)
        writer.u64(.max)
        writer.lengthPrefixed(Array("héllo".utf8), lengthWidth: 4)
        writer.bytes([9, 9])
        #expect(writer.buffer.prefix(8) == [7, 1, 1, 2, 3, 4, 5, 6])
        var reader = ByteReader(writer.buffer)
        #expect(try reader.u8() == 7)
        #expect(try reader.flag())
        #expect(try reader.u16() == 0x0102)
        #expect(try reader.u32() == 0x0304_0506)
        #expect(try reader.u64() == .max)
        #expect(try reader.lengthPrefixed(lengthWidth: 4, "text") == Array("héllo".utf8))
        #expect(reader.rest() == [9, 9])
        #expect(reader.isAtEnd)
        try reader.expectEnd()
    }

    @Test("a short read throws, names the field and leaves the position alone")
    func shortReads() throws {
        var reader = ByteReader([1, 2, 3])
        #expect(throws: ByteReaderError.truncated(field: "n", needed: 4, available: 3)) { try reader.u32("n") }
        #expect(throws: ByteReaderError.truncated(field: "bytes", needed: 5, available: 3)) { try reader.bytes(5) }
        #expect(throws: ByteReaderError.truncated(field: "bytes", needed: -1, available: 3)) { try reader.bytes(-1) }
        #expect(reader.remaining == 3)
        #expect(try reader.u16() == 0x0102)
        #expect(throws: ByteReaderError.trailingBytes(1)) { try reader.expectEnd() }
    }

    @Test("a length over the limit or beyond the bytes is refused before anything is read past it")
    func lengths() {
        var huge = ByteReader([0xFF, 0xFF, 0xFF, 0xFF, 1])
        #expect(throws: ByteReaderError.truncated(field: "payload", needed: 4_294_967_295, available: 1)) {
            try huge.lengthPrefixed(lengthWidth: 4, "payload")
        }
        #expect(huge.remaining == 5, "a failed read moves nothing")
        #expect(throws: ByteReaderError.limitExceeded(field: "payload", value: 4_294_967_295, limit: 10)) {
            try huge.lengthPrefixed(lengthWidth: 4, limit: 10, "payload")
        }
        var flag = ByteReader([2])
        #expect(throws: ByteReaderError.invalidFlag(field: "flag", value: 2)) { try flag.flag() }
        #expect(flag.remaining == 1)
        var text = ByteReader([0xC3, 0x28])
        #expect(throws: ByteReaderError.invalidUTF8(field: "name")) { try text.utf8(2, "name") }
    }
}
