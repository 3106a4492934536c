/// Compresses bytes to LZW exactly as Go's `compress/lzw` writer does (`LSB`, literal width 8), so the
/// output is byte-identical to what a Go memberlist peer would send for the same input.
///
/// The encoder starts with a reset code, greedily extends the longest known string, widens codes from 9
/// to 12 bits as the table grows, resets the table when the last code (4095) is taken, and ends with the
/// end-of-data code and a final partial byte.
public enum LZWEncoder {
    /// Compresses `input`.
    public static func compress(_ input: some Collection<UInt8>) -> [UInt8] {
        // Generic code called across a module boundary runs unspecialised, a witness call per byte: the
        // work is done on a buffer pointer.
        if let compressed = input.withContiguousStorageIfAvailable(compress(bytes:)) { return compressed }
        return Array(input).withUnsafeBufferPointer(compress(bytes:))
    }

    /// Compresses the bytes of `input`.
    public static func compress(bytes input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var writer = BitWriter()
        writer.output.reserveCapacity(input.count / 2 + 8)
        var width = LZWCode.literalWidth + 1
        writer.write(LZWCode.clear, width: width)
        guard let first = input.first else {
            writer.write(LZWCode.end, width: width)
            return writer.finish()
        }
        var table = StringTable(inputBytes: input.count)
        var hi = LZWCode.end
        var overflow: UInt16 = 1 << UInt16(width)

        /// Takes the next table slot; returns false when the table was full and has just been reset.
        func takeCode() -> Bool {
            hi += 1
            if hi == overflow {
                width += 1
                overflow <<= 1
            }
            guard hi == LZWCode.maxCode else { return true }
            writer.write(LZWCode.clear, width: width)
            width = LZWCode.literalWidth + 1
            hi = LZWCode.end
            overflow = 1 << UInt16(width)
            table.removeAll()
            return false
        }

        var code = UInt16(first)
        for byte in input.dropFirst() {
            if let known = table.code(prefix: code, suffix: byte) {
                code = known
                continue
            }
            writer.write(code, width: width)
            let prefix = code
            code = UInt16(byte)
            if takeCode() {
                table.insert(prefix: prefix, suffix: byte, code: hi)
            }
        }
        writer.write(code, width: width)
        _ = takeCode()
        writer.write(LZWCode.end, width: width)
        return writer.finish()
    }

    /// Packs codes least-significant bit first.
    private struct BitWriter {
        var output: [UInt8] = []
        var bits: UInt32 = 0
        var count = 0

        mutating func write(_ code: UInt16, width: Int) {
            bits |= UInt32(code) << UInt32(count)
            count += width
            while count >= 8 {
                output.append(UInt8(truncatingIfNeeded: bits))
                bits >>= 8
                count -= 8
            }
        }

        mutating func finish() -> [UInt8] {
            if count > 0 { output.append(UInt8(truncatingIfNeeded: bits)) }
            return output
        }
    }

    /// (prefix code, next byte) → code, with open addressing in a table at least four times the codes it
    /// can come to hold: the input's length (one code per byte at most) up to the code space. A small
    /// input gets a small table, so a ping does not clear 64 KiB; the table only finds codes, so its size
    /// never changes the output.
    private struct StringTable {
        private static let maxSize = 4 << LZWCode.maxWidth
        private static let empty: UInt32 = 0
        /// Each slot holds `key << 12 | code`; a key is `prefix << 8 | byte`, never 0 once shifted with a code ≥ 258.
        private var slots: [UInt32]
        private let mask: Int

        init(inputBytes: Int) {
            let size = min(Self.maxSize, max(256, (4 * inputBytes).nextPowerOfTwo))
            slots = [UInt32](repeating: Self.empty, count: size)
            mask = size - 1
        }

        func code(prefix: UInt16, suffix: UInt8) -> UInt16? {
            let key = UInt32(prefix) << 8 | UInt32(suffix)
            var slot = slot(for: key)
            while slots[slot] != Self.empty {
                if slots[slot] >> 12 == key { return UInt16(slots[slot] & UInt32(LZWCode.maxCode)) }
                slot = (slot + 1) & mask
            }
            return nil
        }

        mutating func insert(prefix: UInt16, suffix: UInt8, code: UInt16) {
            let key = UInt32(prefix) << 8 | UInt32(suffix)
            var slot = slot(for: key)
            while slots[slot] != Self.empty { slot = (slot + 1) & mask }
            slots[slot] = key << 12 | UInt32(code)
        }

        mutating func removeAll() {
            for index in slots.indices { slots[index] = Self.empty }
        }

        private func slot(for key: UInt32) -> Int {
            Int(key >> 12 ^ key) & mask
        }
    }
}

extension Int {
    /// The smallest power of two not below `self` (1 for 0 and below).
    fileprivate var nextPowerOfTwo: Int {
        self <= 1 ? 1 : 1 << (Int.bitWidth - (self - 1).leadingZeroBitCount)
    }
}
