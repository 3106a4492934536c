import Crypto
import NIOCore
import Wire

/// memberlist's AES-GCM payload format (`security.go`): `[version][nonce 12][ciphertext][tag 16]`.
///
/// Version 1 (what protocol version ≥ 2 sends) encrypts the plaintext as is; version 0 first pads it with
/// PKCS7 to a 16-byte multiple. Packets carry no additional authenticated data in 0.2.2; streams
/// authenticate their 5-byte `[10][length u32 BE]` header.
public enum PayloadEncryption {
    /// The encryption version byte.
    public enum Version: UInt8, Hashable, Sendable {
        /// PKCS7-padded, sent only by protocol version 1; accepted for decoding.
        case padded = 0
        /// Unpadded, sent by protocol version ≥ 2.
        case unpadded = 1
    }

    /// Length of the random nonce.
    public static let nonceSize = 12
    /// Length of the GCM tag.
    public static let tagSize = 16
    private static let blockSize = 16

    /// The most bytes encryption adds (memberlist's `encryptOverhead`): 29 for v1, 45 for v0.
    public static func overhead(_ version: Version) -> Int {
        switch version {
        case .unpadded: 1 + nonceSize + tagSize
        case .padded: 1 + nonceSize + blockSize + tagSize
        }
    }

    /// The exact encrypted length of `plaintextLength` bytes (memberlist's `encryptedLength`).
    public static func encryptedLength(_ version: Version, plaintextLength: Int) -> Int {
        switch version {
        case .unpadded: 1 + nonceSize + plaintextLength + tagSize
        case .padded: 1 + nonceSize + plaintextLength + (blockSize - plaintextLength % blockSize) + tagSize
        }
    }

    /// Encrypts `plaintext` with `key`.
    ///
    /// - Parameter nonce: 12 bytes for reproducible output in tests; a fresh random nonce when nil. Never
    ///   reuse a nonce with the same key.
    public static func seal(
        _ plaintext: some Collection<UInt8>,
        key: SymmetricKey,
        version: Version = .unpadded,
        additionalData: [UInt8] = [],
        nonce: [UInt8]? = nil
    ) throws(GossipEncodeError) -> [UInt8] {
        var message = Array(plaintext)
        if version == .padded {
            let padding = blockSize - message.count % blockSize
            message.append(contentsOf: repeatElement(UInt8(padding), count: padding))
        }
        do {
            let gcmNonce = try nonce.map { try AES.GCM.Nonce(data: $0) } ?? AES.GCM.Nonce()
            let box = try AES.GCM.seal(message, using: key, nonce: gcmNonce, authenticating: additionalData)
            var output: [UInt8] = [version.rawValue]
            output.reserveCapacity(1 + nonceSize + message.count + tagSize)
            output.append(contentsOf: gcmNonce)
            output.append(contentsOf: box.ciphertext)
            output.append(contentsOf: box.tag)
            return output
        } catch {
            throw .encryptionFailed
        }
    }

    /// Decrypts `payload` with the first key of `keyring` that authenticates it.
    public static func open(
        _ payload: ByteBuffer,
        keyring: Keyring,
        additionalData: [UInt8] = []
    ) throws(GossipDecodeError) -> [UInt8] {
        guard let versionByte = payload.getInteger(at: payload.readerIndex, as: UInt8.self) else {
            throw .truncated
        }
        guard let version = Version(rawValue: versionByte) else {
            throw .unsupportedEncryptionVersion(versionByte)
        }
        guard payload.readableBytes >= encryptedLength(version, plaintextLength: 0) else { throw .truncated }
        let bytes = Array(payload.readableBytesView)
        let nonceStart = bytes.startIndex + 1
        let tagStart = bytes.endIndex - tagSize
        guard let nonce = try? AES.GCM.Nonce(data: bytes[nonceStart..<(nonceStart + nonceSize)]),
              let box = try? AES.GCM.SealedBox(
                  nonce: nonce,
                  ciphertext: bytes[(nonceStart + nonceSize)..<tagStart],
                  tag: bytes[tagStart...]
              )
        else { throw .decryptFailed }
        for key in keyring.keys {
            guard let plain = try? AES.GCM.open(box, using: key, authenticating: additionalData) else { continue }
            return version == .padded ? try unpad(Array(plain)) : Array(plain)
        }
        throw .decryptFailed
    }

    /// Removes PKCS7 padding, checking it (memberlist 0.2.2 trusts the last byte blindly).
    private static func unpad(_ plain: [UInt8]) throws(GossipDecodeError) -> [UInt8] {
        guard let last = plain.last, (1...blockSize).contains(Int(last)), Int(last) <= plain.count,
              plain.suffix(Int(last)).allSatisfy({ $0 == last })
        else { throw .malformed(field: "encryption.padding") }
        return Array(plain.dropLast(Int(last)))
    }
}
