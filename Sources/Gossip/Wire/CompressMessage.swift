import Wire

/// A compressed message (`compress`, type 9): `buffer` decompresses to another typed message.
public struct CompressMessage: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.compress
    /// The Go struct's name in memberlist.
    public static let goName = "compress"
    /// The algorithm; 0 is LZW, the only one memberlist defines (`Algo`).
    public var algorithm: UInt8
    /// The compressed bytes (`Buf`).
    public var buffer: [UInt8]

    /// LZW, the only algorithm.
    public static let lzw: UInt8 = 0

    /// Wraps compressed bytes.
    public init(algorithm: UInt8 = CompressMessage.lzw, buffer: [UInt8]) {
        self.algorithm = algorithm
        self.buffer = buffer
    }

    /// Compresses `payload` (a typed message) with LZW, as memberlist's `compressPayload`.
    public init(compressing payload: some Collection<UInt8>) {
        self.init(buffer: LZWEncoder.compress(payload))
    }

    /// Decompresses ``buffer``, refusing to produce more than `maxOutputBytes`.
    public func decompressed(maxOutputBytes: Int) throws(GossipDecodeError) -> [UInt8] {
        guard algorithm == Self.lzw else { throw .unknownCompression(algorithm) }
        do {
            return try LZWDecoder.decompress(buffer, maxOutputBytes: maxOutputBytes)
        } catch {
            throw .decompressionFailed(error)
        }
    }

    /// Writes the body as go-msgpack does: a map with the keys in sorted order.
    public func encode(into writer: inout MsgPackWriter) {
        writer.writeMapHeader(2)
        writer.writeString("Algo"); writer.writeInteger(algorithm)
        writer.writeString("Buf"); writer.writeBytesOrNil(buffer)
    }

    /// Reads the body as go-msgpack does, then checks it against `limits`.
    public init(from reader: inout MsgPackReader, limits: GossipLimits) throws(GossipDecodeError) {
        self.init(buffer: [])
        try Self.readFields(&reader, ["Algo", "Buf"]) { field, r throws(MsgPackError) in
            if field == 0 { algorithm = try r.readInteger() } else { buffer = try r.readBytes() }
        }
    }
}
