import NIOCore
import Testing
import Wire

@Suite("bounded ByteBuffer reads")
struct ByteBufferBoundedTests {
    @Test("short reads throw and leave the reader index alone")
    func shortReads() throws {
        var buffer = ByteBuffer(bytes: [1, 2, 3])
        #expect(throws: TruncatedInput(needed: 4, available: 3)) { try buffer.readExactInteger(as: UInt32.self) }
        #expect(throws: TruncatedInput(needed: 5, available: 3)) { try buffer.readExactBytes(5) }
        #expect(throws: TruncatedInput(needed: -1, available: 3)) { try buffer.readExactSlice(-1) }
        #expect(buffer.readableBytes == 3)
        #expect(try buffer.readExactInteger(as: UInt16.self) == 0x0102)
        #expect(try buffer.readExactBytes(1) == [3])
        #expect(buffer.readableBytesArray == [])
    }
}
