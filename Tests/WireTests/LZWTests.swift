import CohortTestKit
import Testing
import Wire

@Suite("LZW compatible with Go compress/lzw (LSB, 8)")
struct LZWTests {
    @Test("compresses byte-identically to Go", arguments: GoWireVectors.lzw.indices)
    func encodesLikeGo(index: Int) {
        let vector = GoWireVectors.lzw[index]
        #expect(LZWEncoder.compress(vector.input) == [UInt8](hex: vector.output))
    }

    @Test("decompresses Go's output", arguments: GoWireVectors.lzw.indices)
    func decodesGo(index: Int) throws {
        let vector = GoWireVectors.lzw[index]
        #expect(try LZWDecoder.decompress([UInt8](hex: vector.output), maxOutputBytes: 1 << 20) == vector.input)
    }

    @Test("round-trips seeded random inputs that cross table resets")
    func roundTrip() throws {
        var generator = SplitMix64(seed: 42)
        for size in [1, 2, 255, 4_096, 9_000, 40_000] {
            let alphabet = UInt8.random(in: 1...255, using: &generator)
            let input = (0..<size).map { _ in UInt8.random(in: 0...alphabet, using: &generator) }
            let compressed = LZWEncoder.compress(input)
            #expect(try LZWDecoder.decompress(compressed, maxOutputBytes: size) == input)
        }
    }

    @Test("every input length round-trips through tables sized by that length")
    func tablesSizedByTheInput() throws {
        // Both sides size their tables by the input (the encoder by the bytes it reads, the decoder by the
        // bytes of codes it reads): a stream that grows the table as fast as possible — one new entry per
        // code, every code a literal (random bytes) or the entry being defined (a run of one byte) — must
        // fit at every length, and the output must not depend on the table's size.
        var generator = SplitMix64(seed: 11)
        for size in 0..<1_200 {
            let random = generator.bytes(size)
            let run = [UInt8](repeating: UInt8(size % 256), count: size)
            for input in [random, run] {
                let compressed = LZWEncoder.compress(input)
                #expect(try LZWDecoder.decompress(compressed, maxOutputBytes: size) == input)
                // The same bytes through the generic entry points as a non-contiguous collection.
                #expect(LZWEncoder.compress(input.lazy.map { $0 }) == compressed)
                #expect(try LZWDecoder.decompress(compressed.lazy.map { $0 }, maxOutputBytes: size) == input)
            }
        }
    }

    @Test("mutated compressed data gives output or a typed error, never a read or write past the tables")
    func mutatedInput() {
        // Valid streams with a few bytes changed reach deep table states before the damage: the decoder's
        // buffers are unchecked in release builds, so every index must be checked by the decoder itself
        // (in a debug build, as here, an access past them traps).
        var generator = SplitMix64(seed: 23)
        for _ in 0..<3_000 {
            let size = Int.random(in: 0...1_500, using: &generator)
            let alphabet = UInt8.random(in: 1...255, using: &generator)
            let input = (0..<size).map { _ in UInt8.random(in: 0...alphabet, using: &generator) }
            var compressed = LZWEncoder.compress(input)
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let at = Int.random(in: 0..<compressed.count, using: &generator)
                compressed[at] = UInt8.random(in: 0...255, using: &generator)
            }
            if let output = try? LZWDecoder.decompress(compressed, maxOutputBytes: 1 << 16) {
                #expect(output.count <= 1 << 16)
            }
        }
    }

    @Test("data without the end code is rejected, at every cut")
    func truncated() {
        let compressed = LZWEncoder.compress(Array("TOBEORNOTTOBEORTOBEORNOT#".utf8))
        for cut in 0..<compressed.count - 1 {
            #expect(throws: LZWError.missingEndCode) {
                try LZWDecoder.decompress(compressed.prefix(cut), maxOutputBytes: 1_000)
            }
        }
    }

    @Test("a code beyond the table is rejected")
    func invalidCode() {
        // Clear (256), then code 300 at 9 bits: the table only reaches 257.
        let bits: UInt32 = 256 | 300 << 9
        let bytes: [UInt8] = [UInt8(bits & 0xff), UInt8(bits >> 8 & 0xff), UInt8(bits >> 16 & 0xff)]
        #expect(throws: LZWError.invalidCode(300)) { try LZWDecoder.decompress(bytes, maxOutputBytes: 100) }
    }

    @Test("a decompression bomb stops at the output limit")
    func bomb() throws {
        let bomb = LZWEncoder.compress([UInt8](repeating: 0, count: 1 << 22))
        #expect(bomb.count < 16_000)
        #expect(throws: LZWError.outputLimitExceeded(limit: 65_536)) {
            try LZWDecoder.decompress(bomb, maxOutputBytes: 65_536)
        }
        #expect(try LZWDecoder.decompress(bomb, maxOutputBytes: 1 << 22).count == 1 << 22)
    }

    @Test("bytes after the end code are ignored, as in Go")
    func trailingBytes() throws {
        let compressed = LZWEncoder.compress(Array("abc".utf8)) + [0xff, 0xff]
        #expect(try LZWDecoder.decompress(compressed, maxOutputBytes: 10) == Array("abc".utf8))
    }

    @Test("arbitrary bytes give output or a typed error")
    func randomInput() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<3_000 {
            let bytes = generator.bytes(Int.random(in: 0...200, using: &generator))
            do {
                let output = try LZWDecoder.decompress(bytes, maxOutputBytes: 10_000)
                #expect(output.count <= 10_000)
            } catch {
                // Typed by construction; reaching here without a crash is the point.
            }
        }
    }
}
