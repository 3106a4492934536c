extension String {
    /// `bytes` as a string, or nil when they are not valid UTF-8. ASCII — node names, addresses, msgpack
    /// field names, nearly everything on the wire — needs no validation and is taken directly: the
    /// standard library's validating initialiser runs as unspecialised generic code, a metadata lookup
    /// per call, on every string of every datagram.
    public init?(wireUTF8 bytes: UnsafeRawBufferPointer) {
        if !bytes.contains(where: { $0 >= 0x80 }) {
            self.init(decoding: bytes, as: UTF8.self)
        } else {
            guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
            self = text
        }
    }

    /// `bytes` as a string, or nil when they are not valid UTF-8 (see ``init(wireUTF8:)-(UnsafeRawBufferPointer)``).
    public init?(wireUTF8 bytes: [UInt8]) {
        guard let text = bytes.withUnsafeBytes({ String(wireUTF8: $0) }) else { return nil }
        self = text
    }
}
