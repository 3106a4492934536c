import NIOCore

/// Any msgpack value, for skipping unknown fields, tests and diagnostics.
///
/// Integers are normalised: values ≥ 0 are always ``unsigned(_:)``, negative values ``signed(_:)``, so a
/// value equals itself after a round trip through the smallest encoding.
public indirect enum MsgPackValue: Hashable, Sendable {
    /// `nil`.
    case `nil`
    /// `true` or `false`.
    case bool(Bool)
    /// A non-negative integer of any width.
    case unsigned(UInt64)
    /// A negative integer of any width.
    case signed(Int64)
    /// float32 (widened) or float64.
    case double(Double)
    /// A string-family value (fixstr/str8/16/32): memberlist's strings *and* byte slices.
    case string([UInt8])
    /// A bin8/16/32 value (read only; the writer emits it as a string-family value, as go-msgpack does).
    case binary([UInt8])
    /// An array.
    case array([MsgPackValue])
    /// A map, in wire order.
    case map([Entry])
    /// An extension value.
    case ext(type: Int8, data: [UInt8])

    /// One key/value pair of a map.
    public struct Entry: Hashable, Sendable {
        /// The key.
        public var key: MsgPackValue
        /// The value.
        public var value: MsgPackValue

        /// Pairs a key with a value.
        public init(key: MsgPackValue, value: MsgPackValue) {
            self.key = key
            self.value = value
        }
    }
}

extension MsgPackReader {
    /// Reads the next value of any kind, bounded by ``MsgPackLimits``.
    public mutating func readValue() throws(MsgPackError) -> MsgPackValue {
        try readValue(depth: 0)
    }

    private mutating func readValue(depth: Int) throws(MsgPackError) -> MsgPackValue {
        let format = try peekFormat()
        guard let type = MsgPackFormat.type(of: format) else { throw .reservedFormat }
        switch type {
        case .nil:
            buffer.moveReaderIndex(forwardBy: 1)
            return .nil
        case .bool:
            return .bool(try readBool())
        case .integer:
            switch try readIntegerValue() {
            case .unsigned(let value): return .unsigned(value)
            case .signed(let value): return .signed(value)
            }
        case .float:
            return .double(try readDouble())
        case .string:
            return .string(try take(try readByteStringHeader(expected: .string)))
        case .binary:
            return .binary(try take(try readByteStringHeader(expected: .binary)))
        case .ext:
            let (extType, length) = try readExtHeader()
            return .ext(type: extType, data: try take(length))
        case .array:
            guard depth < limits.maxDepth else { throw .depthLimitExceeded(limit: limits.maxDepth) }
            let count = try readArrayHeader()
            var elements: [MsgPackValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try readValue(depth: depth + 1)) }
            return .array(elements)
        case .map:
            guard depth < limits.maxDepth else { throw .depthLimitExceeded(limit: limits.maxDepth) }
            let count = try readMapHeader()
            var entries: [MsgPackValue.Entry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let key = try readValue(depth: depth + 1)
                entries.append(MsgPackValue.Entry(key: key, value: try readValue(depth: depth + 1)))
            }
            return .map(entries)
        }
    }

    /// Moves past the next value of any kind without allocating, bounded by ``MsgPackLimits``.
    public mutating func skipValue() throws(MsgPackError) {
        try skipValue(depth: 0)
    }

    private mutating func skipValue(depth: Int) throws(MsgPackError) {
        let format = try peekFormat()
        guard let type = MsgPackFormat.type(of: format) else { throw .reservedFormat }
        switch type {
        case .nil, .bool:
            buffer.moveReaderIndex(forwardBy: 1)
        case .integer:
            _ = try readIntegerValue()
        case .float:
            _ = try readDouble()
        case .string, .binary:
            try skip(try readByteStringHeader(expected: type))
        case .ext:
            try skip(try readExtHeader().length)
        case .array:
            guard depth < limits.maxDepth else { throw .depthLimitExceeded(limit: limits.maxDepth) }
            for _ in 0..<(try readArrayHeader()) { try skipValue(depth: depth + 1) }
        case .map:
            guard depth < limits.maxDepth else { throw .depthLimitExceeded(limit: limits.maxDepth) }
            for _ in 0..<(try readMapHeader()) {
                try skipValue(depth: depth + 1)
                try skipValue(depth: depth + 1)
            }
        }
    }

    private mutating func readExtHeader() throws(MsgPackError) -> (type: Int8, length: Int) {
        let format = try readFormat()
        let length: Int
        switch format {
        case MsgPackFormat.fixExt1...MsgPackFormat.fixExt16: length = 1 << Int(format - MsgPackFormat.fixExt1)
        case MsgPackFormat.ext8: length = Int(try fixed(UInt8.self))
        case MsgPackFormat.ext16: length = Int(try fixed(UInt16.self))
        case MsgPackFormat.ext32: length = Int(try fixed(UInt32.self))
        default: throw .typeMismatch(expected: .ext, format: format)
        }
        guard length <= limits.maxByteLength else {
            throw .lengthLimitExceeded(length: length, limit: limits.maxByteLength)
        }
        return (try fixed(Int8.self), length)
    }
}

extension MsgPackReader {
    /// Whether the next value in `buffer` is complete, without consuming anything.
    ///
    /// This is what a stream framer needs: it returns the value's length in bytes when the whole value is
    /// present, `nil` when more bytes are needed, and throws when the bytes can never form a valid value
    /// (whatever follows).
    public static func measureValue(
        in buffer: ByteBuffer,
        limits: MsgPackLimits = .default
    ) throws(MsgPackError) -> Int? {
        var reader = MsgPackReader(buffer, limits: limits)
        do {
            try reader.skipValue()
        } catch .truncated {
            return nil
        }
        return buffer.readableBytes - reader.buffer.readableBytes
    }
}
