import NIOCore

/// Writes msgpack exactly as go-msgpack 0.5.5 does with a default `MsgpackHandle{}` (`WriteExt=false`).
///
/// - Integers take the smallest encoding (positive fixint, uint8…64, negative fixint, int8…64).
/// - Strings and byte strings both use the old raw family only: fixstr (< 32), str16 (< 65 536), str32.
///   str8 and bin are never written.
/// - Structs are maps keyed by Go field name; go-msgpack sorts the keys by name, so callers write fields
///   in byte order of their names.
public struct MsgPackWriter: Sendable {
    /// The encoded bytes so far.
    public var buffer: ByteBuffer

    /// Appends to `buffer` (a new empty buffer by default).
    public init(buffer: ByteBuffer = ByteBuffer()) {
        self.buffer = buffer
    }

    /// Writes `nil`.
    public mutating func writeNil() {
        buffer.writeInteger(MsgPackFormat.nil)
    }

    /// Writes `true` or `false`.
    public mutating func writeBool(_ value: Bool) {
        buffer.writeInteger(value ? MsgPackFormat.true : MsgPackFormat.false)
    }

    /// Writes an integer of any Swift type in its smallest msgpack encoding.
    public mutating func writeInteger<T: BinaryInteger>(_ value: T) {
        if value >= 0 {
            writeUnsigned(UInt64(value))
        } else {
            writeSigned(Int64(value))
        }
    }

    private mutating func writeUnsigned(_ value: UInt64) {
        switch value {
        case 0...UInt64(MsgPackFormat.positiveFixIntMax):
            buffer.writeInteger(UInt8(value))
        case 0...UInt64(UInt8.max):
            buffer.writeInteger(MsgPackFormat.uint8)
            buffer.writeInteger(UInt8(value))
        case 0...UInt64(UInt16.max):
            buffer.writeInteger(MsgPackFormat.uint16)
            buffer.writeInteger(UInt16(value))
        case 0...UInt64(UInt32.max):
            buffer.writeInteger(MsgPackFormat.uint32)
            buffer.writeInteger(UInt32(value))
        default:
            buffer.writeInteger(MsgPackFormat.uint64)
            buffer.writeInteger(value)
        }
    }

    private mutating func writeSigned(_ value: Int64) {
        switch value {
        case -32 ..< 0:
            buffer.writeInteger(Int8(value))
        case Int64(Int8.min)...:
            buffer.writeInteger(MsgPackFormat.int8)
            buffer.writeInteger(Int8(value))
        case Int64(Int16.min)...:
            buffer.writeInteger(MsgPackFormat.int16)
            buffer.writeInteger(Int16(value))
        case Int64(Int32.min)...:
            buffer.writeInteger(MsgPackFormat.int32)
            buffer.writeInteger(Int32(value))
        default:
            buffer.writeInteger(MsgPackFormat.int64)
            buffer.writeInteger(value)
        }
    }

    /// Writes a float64.
    public mutating func writeDouble(_ value: Double) {
        buffer.writeInteger(MsgPackFormat.float64)
        buffer.writeInteger(value.bitPattern)
    }

    /// Writes a string in the raw string family.
    public mutating func writeString(_ value: String) {
        writeRawHeader(value.utf8.count)
        buffer.writeString(value)
    }

    /// Writes bytes in the raw string family, as go-msgpack writes a non-nil `[]byte`.
    public mutating func writeBytes(_ bytes: some Collection<UInt8>) {
        writeRawHeader(bytes.count)
        buffer.writeBytes(bytes)
    }

    /// Writes empty bytes as `nil` (how go-msgpack writes a nil `[]byte`, memberlist's usual "absent"),
    /// anything else as ``writeBytes(_:)``.
    public mutating func writeBytesOrNil(_ bytes: some Collection<UInt8>) {
        if bytes.isEmpty {
            writeNil()
        } else {
            writeBytes(bytes)
        }
    }

    /// Writes an array header for `count` elements.
    public mutating func writeArrayHeader(_ count: Int) {
        writeContainerHeader(count, fixMin: MsgPackFormat.fixArrayMin, format16: MsgPackFormat.array16,
                             format32: MsgPackFormat.array32)
    }

    /// Writes a map header for `count` entries.
    public mutating func writeMapHeader(_ count: Int) {
        writeContainerHeader(count, fixMin: MsgPackFormat.fixMapMin, format16: MsgPackFormat.map16,
                             format32: MsgPackFormat.map32)
    }

    /// Writes any value; binary values are written in the raw string family, as go-msgpack would.
    public mutating func writeValue(_ value: MsgPackValue) {
        switch value {
        case .nil: writeNil()
        case .bool(let flag): writeBool(flag)
        case .unsigned(let number): writeInteger(number)
        case .signed(let number): writeInteger(number)
        case .double(let number): writeDouble(number)
        case .string(let bytes), .binary(let bytes): writeBytes(bytes)
        case .array(let elements):
            writeArrayHeader(elements.count)
            for element in elements { writeValue(element) }
        case .map(let entries):
            writeMapHeader(entries.count)
            for entry in entries {
                writeValue(entry.key)
                writeValue(entry.value)
            }
        case .ext(let type, let data):
            writeExtHeader(type: type, length: data.count)
            buffer.writeBytes(data)
        }
    }

    private mutating func writeExtHeader(type: Int8, length: Int) {
        switch length {
        case 1, 2, 4, 8, 16:
            buffer.writeInteger(MsgPackFormat.fixExt1 + UInt8(length.trailingZeroBitCount))
        case 0..<256:
            buffer.writeInteger(MsgPackFormat.ext8)
            buffer.writeInteger(UInt8(length))
        case 0..<65_536:
            buffer.writeInteger(MsgPackFormat.ext16)
            buffer.writeInteger(UInt16(length))
        default:
            buffer.writeInteger(MsgPackFormat.ext32)
            buffer.writeInteger(UInt32(truncatingIfNeeded: length))
        }
        buffer.writeInteger(type)
    }

    private mutating func writeRawHeader(_ length: Int) {
        switch length {
        case 0..<32:
            buffer.writeInteger(MsgPackFormat.fixStrMin | UInt8(length))
        case 0..<65_536:
            buffer.writeInteger(MsgPackFormat.str16)
            buffer.writeInteger(UInt16(length))
        default:
            buffer.writeInteger(MsgPackFormat.str32)
            buffer.writeInteger(UInt32(truncatingIfNeeded: length))
        }
    }

    private mutating func writeContainerHeader(_ count: Int, fixMin: UInt8, format16: UInt8, format32: UInt8) {
        switch count {
        case 0..<16:
            buffer.writeInteger(fixMin | UInt8(count))
        case 0..<65_536:
            buffer.writeInteger(format16)
            buffer.writeInteger(UInt16(count))
        default:
            buffer.writeInteger(format32)
            buffer.writeInteger(UInt32(truncatingIfNeeded: count))
        }
    }
}
