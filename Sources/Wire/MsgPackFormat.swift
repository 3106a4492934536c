/// The msgpack format bytes this codec reads and writes.
///
/// The "raw" string family (fixstr, str16, str32) is what go-msgpack 0.5.x writes with `WriteExt=false` for
/// both Go strings and `[]byte`; it never writes str8 or the bin family, but reads them.
enum MsgPackFormat {
    static let positiveFixIntMax: UInt8 = 0x7f
    static let fixMapMin: UInt8 = 0x80
    static let fixMapMax: UInt8 = 0x8f
    static let fixArrayMin: UInt8 = 0x90
    static let fixArrayMax: UInt8 = 0x9f
    static let fixStrMin: UInt8 = 0xa0
    static let fixStrMax: UInt8 = 0xbf
    static let `nil`: UInt8 = 0xc0
    static let reserved: UInt8 = 0xc1
    static let `false`: UInt8 = 0xc2
    static let `true`: UInt8 = 0xc3
    static let bin8: UInt8 = 0xc4
    static let bin16: UInt8 = 0xc5
    static let bin32: UInt8 = 0xc6
    static let ext8: UInt8 = 0xc7
    static let ext16: UInt8 = 0xc8
    static let ext32: UInt8 = 0xc9
    static let float32: UInt8 = 0xca
    static let float64: UInt8 = 0xcb
    static let uint8: UInt8 = 0xcc
    static let uint16: UInt8 = 0xcd
    static let uint32: UInt8 = 0xce
    static let uint64: UInt8 = 0xcf
    static let int8: UInt8 = 0xd0
    static let int16: UInt8 = 0xd1
    static let int32: UInt8 = 0xd2
    static let int64: UInt8 = 0xd3
    static let fixExt1: UInt8 = 0xd4
    static let fixExt16: UInt8 = 0xd8
    static let str8: UInt8 = 0xd9
    static let str16: UInt8 = 0xda
    static let str32: UInt8 = 0xdb
    static let array16: UInt8 = 0xdc
    static let array32: UInt8 = 0xdd
    static let map16: UInt8 = 0xde
    static let map32: UInt8 = 0xdf
    static let negativeFixIntMin: UInt8 = 0xe0

    /// The kind of value a format byte starts.
    static func type(of format: UInt8) -> MsgPackType? {
        switch format {
        case 0x00...positiveFixIntMax, negativeFixIntMin...0xff, uint8...int64: .integer
        case fixMapMin...fixMapMax, map16, map32: .map
        case fixArrayMin...fixArrayMax, array16, array32: .array
        case fixStrMin...fixStrMax, str8, str16, str32: .string
        case `nil`: .nil
        case `false`, `true`: .bool
        case bin8, bin16, bin32: .binary
        case float32, float64: .float
        case ext8, ext16, ext32, fixExt1...fixExt16: .ext
        default: nil
        }
    }
}
