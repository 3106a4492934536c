import Wire

/// Why received gossip bytes were dropped. Every decoder in this module throws only this type, so the
/// service can count drops by ``reason``.
public enum GossipDecodeError: Error, Hashable, Sendable {
    /// Nothing to decode.
    case empty
    /// The bytes end inside a message, a length field promises more than is there, or a compound's parts
    /// run past the end of the packet.
    case truncated
    /// The type byte is not a memberlist 0.2.2 message type (244, a v0.3 label, lands here).
    case unknownMessageType(UInt8)
    /// A known type in a place it may not appear (e.g. push/pull in a datagram, a second CRC header).
    case unexpectedMessageType(MessageType)
    /// The CRC32 header does not match the payload.
    case badCRC(expected: UInt32, actual: UInt32)
    /// No key in the keyring opens the payload (wrong key, corruption, or plaintext sent to an encrypted
    /// cluster).
    case decryptFailed
    /// The encryption version byte is neither 0 nor 1.
    case unsupportedEncryptionVersion(UInt8)
    /// An encrypted stream arrived but no keyring is configured.
    case encryptionNotConfigured
    /// A plaintext stream arrived but a keyring is configured and incoming encryption is enforced.
    case encryptionRequired
    /// More compound parts than one count byte can say (encoding only).
    case tooManyParts(Int)
    /// Something exceeds a ``GossipLimits`` bound; the associated value names the limit.
    case oversized(String)
    /// The compression algorithm is not LZW (0).
    case unknownCompression(UInt8)
    /// The LZW data is corrupt.
    case decompressionFailed(LZWError)
    /// Compound and compress messages are nested deeper than ``GossipLimits/maxNesting``.
    case nestingTooDeep
    /// A field could not be decoded; `field` is `Message.Field` with the Go names (e.g. `alive.Vsn`).
    case malformed(field: String)

    /// A short, stable label for a `reason` metric dimension.
    public var reason: String {
        switch self {
        case .empty: "empty"
        case .truncated: "truncated"
        case .unknownMessageType: "unknown_type"
        case .unexpectedMessageType: "unexpected_type"
        case .badCRC: "bad_crc"
        case .decryptFailed: "decrypt_failed"
        case .unsupportedEncryptionVersion: "encryption_version"
        case .encryptionNotConfigured: "encryption_not_configured"
        case .encryptionRequired: "encryption_required"
        case .tooManyParts: "too_many_parts"
        case .oversized: "oversized"
        case .unknownCompression: "unknown_compression"
        case .decompressionFailed: "decompression_failed"
        case .nestingTooDeep: "nesting_too_deep"
        case .malformed: "malformed"
        }
    }

    /// Maps a msgpack failure inside `message` to this type: running out of bytes stays ``truncated``.
    init(_ error: MsgPackFieldError, in message: String) {
        if error.error == .truncated {
            self = .truncated
        } else {
            self = .malformed(field: "\(message).\(error.field ?? "<header>")")
        }
    }
}

/// Why a message could not be encoded or sealed for sending.
public enum GossipEncodeError: Error, Hashable, Sendable {
    /// More compound parts than allowed: 255 by format, 127 for memberlist 0.2.2 peers (see
    /// ``CompoundMessage/maxPartsForGoPeers``).
    case tooManyParts(Int)
    /// A compound part is longer than its 16-bit length field can say.
    case partTooLarge(Int)
    /// A stream payload is larger than memberlist accepts (20 MiB for encrypted streams).
    case oversized(Int)
    /// Node metadata does not fit its limits; the associated value names the field.
    case metadataTooLarge(String)
    /// AES-GCM refused the key or nonce (a key that is not 16/24/32 bytes, a nonce that is not 12).
    case encryptionFailed
}
