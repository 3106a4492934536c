import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore

/// One direction of an encrypted connection: AES-256-GCM with the message counter as nonce.
///
/// A message is the handshake's finish (counter 0), then each sealed record (``RecordSealer``). The nonce
/// is 4 zero bytes and the big-endian counter; each direction has its own key, so a nonce is never reused
/// under one key. The counter is not sent: a dropped, replayed or reordered message fails to authenticate.
/// Before the counter would wrap, sealing and opening fail and the connection is closed; the next one has
/// fresh keys.
struct SessionCipher: Sendable {
    /// The authentication tag's size.
    static let tagBytes = 16

    private let key: SymmetricKey
    /// The counter of the next message.
    private(set) var counter: UInt64

    /// A cipher with `key`, starting at `counter` (0 for a new connection; tests start near the end).
    init(key: SymmetricKey, counter: UInt64 = 0) {
        self.key = key
        self.counter = counter
    }

    private mutating func nextNonce() throws(FrameError) -> AES.GCM.Nonce {
        // The last value is never used, so "exhausted" needs no extra state.
        guard counter < UInt64.max else { throw .counterExhausted }
        var bytes = [UInt8](repeating: 0, count: 12)
        withUnsafeBytes(of: counter.bigEndian) { bytes.replaceSubrange(4..<12, with: $0) }
        counter += 1
        do { return try AES.GCM.Nonce(data: bytes) } catch { throw .counterExhausted }
    }

    /// Seals `plaintext` and appends ciphertext and tag to `output`.
    mutating func seal(_ plaintext: ByteBuffer, into output: inout ByteBuffer) throws(FrameError) {
        let nonce = try nextNonce()
        do {
            let box = try plaintext.withUnsafeReadableBytes { bytes in
                try AES.GCM.seal(bytes, using: key, nonce: nonce)
            }
            box.ciphertext.withUnsafeBytes { _ = output.writeBytes($0) }
            box.tag.withUnsafeBytes { _ = output.writeBytes($0) }
        } catch {
            // Sealing fails only for malformed keys or nonces, which we never build.
            throw .badTag
        }
    }

    /// Opens a sealed message (ciphertext then tag).
    mutating func open(_ sealed: ByteBuffer) throws(FrameError) -> ByteBuffer {
        guard sealed.readableBytes >= Self.tagBytes else { throw .badTag }
        let nonce = try nextNonce()
        do {
            let plaintext = try sealed.withUnsafeReadableBytes { bytes in
                let split = bytes.count - Self.tagBytes
                let box = try AES.GCM.SealedBox(
                    nonce: nonce, ciphertext: UnsafeRawBufferPointer(rebasing: bytes[..<split]),
                    tag: UnsafeRawBufferPointer(rebasing: bytes[split...])
                )
                return try AES.GCM.open(box, using: key)
            }
            var buffer = ByteBuffer()
            buffer.reserveCapacity(plaintext.count)
            plaintext.withUnsafeBytes { _ = buffer.writeBytes($0) }
            return buffer
        } catch {
            throw .badTag
        }
    }
}
