/// Decompresses LZW data exactly as Go's `compress/lzw` reader does (`LSB`, literal width 8).
///
/// Codes start at 9 bits and widen to 12; 256 resets the table and 257 ends the data. Bytes after the end
/// code are ignored and data without one is an error, both as in Go. Unlike Go, output is capped.
public enum LZWDecoder {
    /// Decompresses `input`, failing once the output would exceed `maxOutputBytes`.
    public static func decompress(
        _ input: some Collection<UInt8>,
        maxOutputBytes: Int
    ) throws(LZWError) -> [UInt8] {
        // Generic code called across a module boundary runs unspecialised, a witness call per byte: the
        // work is done on a buffer pointer.
        let decompress = { (bytes: UnsafeBufferPointer<UInt8>) in
            Result { () throws(LZWError) in try Self.decompress(bytes: bytes, maxOutputBytes: maxOutputBytes) }
        }
        let result = input.withContiguousStorageIfAvailable(decompress) ?? Array(input).withUnsafeBufferPointer(decompress)
        return try result.get()
    }

    /// Decompresses the bytes of `input`, failing once the output would exceed `maxOutputBytes`.
    public static func decompress(bytes input: UnsafeBufferPointer<UInt8>, maxOutputBytes: Int) throws(LZWError) -> [UInt8] {
        var table = Table(inputBytes: input.count)
        defer { table.deallocate() }
        var output: [UInt8] = []
        output.reserveCapacity(min(maxOutputBytes, input.count * 3))
        var bits: UInt32 = 0
        var bitCount = 0
        var position = 0
        while true {
            while bitCount < table.width {
                guard position < input.count else { throw .missingEndCode }
                bits |= UInt32(input[position]) << UInt32(bitCount)
                position += 1
                bitCount += 8
            }
            let code = UInt16(bits & ((1 << UInt32(table.width)) - 1))
            bits >>= UInt32(table.width)
            bitCount -= table.width
            if code == LZWCode.end { return output }
            try table.apply(code, to: &output, limit: maxOutputBytes)
        }
    }

    /// The decoder's table and position, following Go's reader field for field. Its arrays are buffers the
    /// caller frees: Swift arrays in the per-code loop cost a retain, a release and a uniqueness check per
    /// access. Every index is checked against the buffers' size (an input that would go past it is an
    /// invalid code), so the unchecked buffer subscripts are never reached out of bounds.
    private struct Table {
        var width = LZWCode.literalWidth + 1
        /// The next code to assign.
        var hi: UInt16 = LZWCode.end
        var overflow: UInt16 = 1 << (LZWCode.literalWidth + 1)
        /// The previous code, or nil right after a reset (or when the table is full).
        var last: UInt16?
        /// Slots per buffer: each code read takes at most one slot, and codes are at least 9 bits, so slots
        /// up to 257 + the input's length can be used (and a string is never longer): a small input gets
        /// small buffers.
        let size: Int
        let suffix: UnsafeMutableBufferPointer<UInt8>
        let prefix: UnsafeMutableBufferPointer<UInt16>
        let scratch: UnsafeMutableBufferPointer<UInt8>

        init(inputBytes: Int) {
            size = min(1 << LZWCode.maxWidth, Int(LZWCode.end) + 1 + inputBytes)
            suffix = .allocate(capacity: size)
            suffix.initialize(repeating: 0)
            prefix = .allocate(capacity: size)
            prefix.initialize(repeating: 0)
            scratch = .allocate(capacity: size)
            scratch.initialize(repeating: 0)
        }

        func deallocate() {
            suffix.deallocate()
            prefix.deallocate()
            scratch.deallocate()
        }

        mutating func apply(_ code: UInt16, to output: inout [UInt8], limit: Int) throws(LZWError) {
            switch code {
            case ..<LZWCode.clear:
                guard output.count < limit else { throw .outputLimitExceeded(limit: limit) }
                output.append(UInt8(code))
                if let last { try addEntry(prefix: last, suffix: UInt8(code)) }
            case LZWCode.clear:
                width = LZWCode.literalWidth + 1
                hi = LZWCode.end
                overflow = 1 << UInt16(width)
                last = nil
                return
            case ...hi:
                let first = try emitString(for: code, to: &output, limit: limit)
                if let last { try addEntry(prefix: last, suffix: first) }
            default:
                throw .invalidCode(code)
            }
            last = code
            hi += 1
            if hi >= overflow {
                if width == LZWCode.maxWidth {
                    // The table is full: stop adding entries until the encoder sends a reset.
                    last = nil
                    hi -= 1
                } else {
                    width += 1
                    overflow <<= 1
                }
            }
        }

        private func addEntry(prefix previous: UInt16, suffix byte: UInt8) throws(LZWError) {
            guard Int(hi) < size else { throw .invalidCode(hi) }
            suffix[Int(hi)] = byte
            prefix[Int(hi)] = previous
        }

        /// Appends the string `code` stands for and returns its first byte. `code == hi` is the "KwKwK"
        /// case: the previous string followed by its own first byte.
        private func emitString(for code: UInt16, to output: inout [UInt8], limit: Int) throws(LZWError) -> UInt8 {
            var index = size
            var current = code
            if code == hi, let last {
                var head = last
                while head >= LZWCode.clear {
                    guard Int(head) < size else { throw .invalidCode(code) }
                    head = prefix[Int(head)]
                }
                index -= 1
                scratch[index] = UInt8(head)
                current = last
            }
            while current >= LZWCode.clear {
                guard Int(current) < size, index > 1 else { throw .invalidCode(code) }
                index -= 1
                scratch[index] = suffix[Int(current)]
                current = prefix[Int(current)]
            }
            index -= 1
            scratch[index] = UInt8(current)
            let length = size - index
            guard output.count + length <= limit else { throw .outputLimitExceeded(limit: limit) }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[index...]))
            return UInt8(current)
        }
    }
}
