/// A value go-msgpack encoded, as described by the generator.
enum MsgPackSample: Sendable {
    case unsigned(UInt64)
    case signed(Int64)
    /// A Go string of `count` × "x".
    case string(count: Int)
    /// A Go `[]byte` of `count` × 7.
    case bytes(count: Int)
    case bool(Bool)
}

/// One go-msgpack encoding: the whole of it in `hex` up to 64 bytes, else its first 16 bytes, plus the
/// full length and CRC32.
struct MsgPackVector: Sendable {
    let value: MsgPackSample
    let hex: String
    let length: Int
    let crc: UInt32
}

/// Go `compress/lzw` output for an input.
struct LZWVector: Sendable {
    let input: [UInt8]
    let output: String
}

/// `crc32.ChecksumIEEE` of an input.
struct CRCVector: Sendable {
    let input: [UInt8]
    let crc: UInt32
}

extension GoWireVectors {
    /// The generator's `lcg`: x = x·1103515245 + 12345 (mod 2³²), emitting bits 16…23.
    static func lcgBytes(seed: UInt32, count: Int) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 1_103_515_245 &+ 12_345
            return UInt8(truncatingIfNeeded: state >> 16)
        }
    }
}
