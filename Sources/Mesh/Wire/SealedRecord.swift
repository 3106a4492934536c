import MeshCore
import NIOCore

// With a cluster key, frames travel in sealed records rather than one by one (protocol version 2):
//
//     [u32 length][AES-256-GCM( [u32 length][frame body] [u32 length][frame body] … ) ‖ tag]
//
// One seal and one open per record instead of per frame: the writer seals each write batch as one record
// (more than one only when the batch would exceed the frame limit). The record's nonce is its direction's
// counter, so a dropped, replayed, reordered or reflected record fails to authenticate, and so does any
// frame inside it. The frames inside use the plaintext framing and its limits.

/// The writer's side of sealed records: frames go into the open record, which is sealed behind its length
/// prefix when the batch ends (``seal(into:)``) or when the next frame would take it past `limit`.
struct RecordSealer: Sendable {
    /// A record's own bytes on the wire: its length prefix and tag.
    static let recordOverhead = LengthPrefixedFrameDecoder.prefixBytes + SessionCipher.tagBytes

    private(set) var cipher: SessionCipher
    /// The largest record plaintext (``MeshSettings/maxFrameBytes``), so that every sealed record fits the
    /// reader's limit of `maxFrameBytes` + tag.
    let limit: Int
    private var plaintext = ByteBuffer()

    /// A sealer with `cipher` whose records hold at most `limit` bytes of plaintext.
    init(cipher: SessionCipher, limit: Int) {
        self.cipher = cipher
        self.limit = limit
    }

    /// Whether no frame is waiting in the open record.
    var isEmpty: Bool { plaintext.readableBytes == 0 }

    /// Appends a frame of `bodyBytes` (written by `write`) to the open record, first sealing the record
    /// into `output` if the frame would take it past the limit. Returns whether the frame opened a record.
    /// A single frame always fits (the settings' validation keeps `chunkBytes` well below the limit).
    @discardableResult
    mutating func append(
        bodyBytes: Int, into output: inout ByteBuffer, _ write: (inout ByteBuffer) -> Void
    ) throws(FrameError) -> Bool {
        let framedBytes = LengthPrefixedFrameDecoder.prefixBytes + bodyBytes
        if !isEmpty, plaintext.readableBytes + framedBytes > limit { try seal(into: &output) }
        let opened = isEmpty
        let start = plaintext.writerIndex
        plaintext.writeInteger(UInt32(0))
        write(&plaintext)
        plaintext.setInteger(UInt32(plaintext.writerIndex - start - LengthPrefixedFrameDecoder.prefixBytes), at: start)
        return opened
    }

    /// Seals the open record, if any, behind its length prefix into `output`. Throws
    /// ``FrameError/counterExhausted`` when the direction's counter has reached its last value.
    mutating func seal(into output: inout ByteBuffer) throws(FrameError) {
        guard !isEmpty else { return }
        defer { plaintext.clear() }
        output.writeInteger(UInt32(plaintext.readableBytes + SessionCipher.tagBytes))
        try cipher.seal(plaintext, into: &output)
    }
}

/// The reader's side of sealed records: opens each record with the direction's counter and splits it into
/// its frames.
struct RecordOpener: Sendable {
    private(set) var cipher: SessionCipher
    /// The largest frame inside a record (``MeshSettings/maxFrameBytes``).
    let frameLimit: Int

    /// An opener with `cipher` that accepts frames of up to `frameLimit` bytes.
    init(cipher: SessionCipher, frameLimit: Int) {
        self.cipher = cipher
        self.frameLimit = frameLimit
    }

    /// The frame bodies of one sealed record (ciphertext and tag, without its length prefix), in order.
    /// Throws ``FrameError/badTag`` when it does not authenticate, ``FrameError/counterExhausted`` at the
    /// counter's last value, ``FrameError/oversized(length:limit:)`` for a frame above the limit and
    /// ``FrameError/malformed(_:)`` for an empty record or one that ends inside a frame.
    mutating func open(_ sealed: ByteBuffer) throws(FrameError) -> [ByteBuffer] {
        var plaintext = try cipher.open(sealed)
        guard plaintext.readableBytes > 0 else { throw .malformed("empty sealed record") }
        var frames: [ByteBuffer] = []
        while plaintext.readableBytes > 0 {
            guard let frame = try LengthPrefixedFrameDecoder.next(from: &plaintext, limit: frameLimit) else {
                throw .malformed("sealed record ends inside a frame (\(plaintext.readableBytes) bytes left)")
            }
            frames.append(frame)
        }
        return frames
    }
}
