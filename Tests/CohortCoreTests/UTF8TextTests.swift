import CohortCore
import Testing

@Suite("text from wire bytes")
struct UTF8TextTests {
    @Test("accepts exactly what the standard library's validating initialiser accepts, with the same text")
    func agreesWithValidation() {
        var cases: [[UInt8]] = [
            [], Array("node-1".utf8), Array("127.0.0.1:7946".utf8), Array("zürich-é-日本-🙂".utf8),
            [0xFF], [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF0, 0x9F, 0x98], [0xF4, 0x90, 0x80, 0x80],
            Array("abc".utf8) + [0x80], [0x7F], [0x00, 0x41],
        ]
        // Seeded random bytes, mostly ASCII with some high bytes, and random valid text.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        for _ in 0..<2_000 {
            let length = Int(next() % 24)
            cases.append((0..<length).map { _ in next() % 4 == 0 ? UInt8(truncatingIfNeeded: next()) : UInt8(next() % 128) })
            let scalars = (0..<length).compactMap { _ in Unicode.Scalar(UInt32(next() % 0x11_0000)) }
            cases.append(Array(String(String.UnicodeScalarView(scalars)).utf8))
        }
        for bytes in cases {
            let expected = String(validating: bytes, as: UTF8.self)
            #expect(String(wireUTF8: bytes) == expected, "\(bytes)")
            #expect(bytes.withUnsafeBytes { String(wireUTF8: $0) } == expected, "\(bytes)")
        }
    }
}
