import NIOCore
import Testing
import Wire

@Suite("CRC32-IEEE")
struct CRC32Tests {
    @Test("matches Go's crc32.ChecksumIEEE", arguments: GoWireVectors.crc.indices)
    func matchesGo(index: Int) {
        let vector = GoWireVectors.crc[index]
        #expect(CRC32.checksum(vector.input) == vector.crc)
        #expect(CRC32.checksum(ByteBuffer(bytes: vector.input)) == vector.crc)
    }

    @Test("has the published check value for \"123456789\"")
    func checkValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test("update continues a checksum across chunks")
    func incremental() {
        let data = GoWireVectors.lcgBytes(seed: 3, count: 777)
        let whole = CRC32.checksum(data)
        for split in [0, 1, 100, 776, 777] {
            #expect(CRC32.update(CRC32.checksum(data.prefix(split)), with: data.dropFirst(split)) == whole)
        }
    }
}
