/// Why LZW data could not be decompressed.
public enum LZWError: Error, Hashable, Sendable {
    /// A code greater than the next free table slot, which Go's `compress/lzw` also rejects.
    case invalidCode(UInt16)
    /// The data ended before the end-of-data code (Go reports `io.ErrUnexpectedEOF`).
    case missingEndCode
    /// The output would exceed the caller's limit: a decompression bomb, or just too much.
    case outputLimitExceeded(limit: Int)
}

/// Parameters shared by the LZW encoder and decoder: Go `compress/lzw` with `LSB` order and a literal width
/// of 8 — the variant memberlist uses (`lzw.NewWriter(w, lzw.LSB, 8)`), also GIF's bit packing.
enum LZWCode {
    /// Codes 0…255 are literals.
    static let literalWidth = 8
    /// Resets the table.
    static let clear: UInt16 = 256
    /// Ends the data.
    static let end: UInt16 = 257
    /// The widest code, in bits.
    static let maxWidth = 12
    /// The largest code (4095).
    static let maxCode: UInt16 = (1 << 12) - 1
}
