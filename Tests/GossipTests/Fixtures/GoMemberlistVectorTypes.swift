/// memberlist's `encryptPayload` output for the "ping" vector.
struct EncryptedVector: Sendable {
    /// The key, hex.
    let key: String
    /// The encryption version byte.
    let version: UInt8
    /// Version byte, nonce, ciphertext and tag, hex.
    let payload: String
}

/// A message encoding go-msgpack accepts but never writes, with the canonical re-encoding of Go's result.
struct AlternateEncodingVector: Sendable {
    let name: String
    let crafted: String
    let canonical: String
}

/// One datagram or one direction of a stream recorded from real memberlist nodes.
struct CapturedFrame: Sendable {
    /// Go's description: wrappers ("encrypt", "crc", "compress", "compound") then the leaf message types.
    let shape: String
    /// The bytes on the wire, hex.
    let bytes: String
}

/// A recording of three memberlist 0.2.2 nodes.
struct CapturedTraffic: Sendable {
    /// The cluster key, hex; empty when unencrypted.
    let key: String
    let packets: [CapturedFrame]
    let streams: [CapturedFrame]
}
