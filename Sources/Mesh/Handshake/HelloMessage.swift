import CohortCore
import NIOCore

/// Which side of a connection a hello comes from.
enum HandshakeRole: UInt8, Sendable {
    /// The node with the smaller ID, which connects.
    case dialer = 0
    /// The node with the larger ID, which accepts.
    case acceptor = 1
}

/// The first frame each side sends (the dialer first, the acceptor in answer).
///
/// ```
/// 0   magic        4 bytes "CHMS"
/// 4   version      u8  (2)
/// 5   role         u8  0 dialer, 1 acceptor
/// 6   flags        u8  bit 0: encrypted (the sender has a cluster key)
/// 7   incarnation  u64
/// 15  nonce        32 bytes, random per connection
/// 47  fingerprint  8 bytes: which cluster key (zero when plaintext)
/// 55  streamID     u64: the sender's reliable relay stream towards the receiver
/// 63  resume       u64: acceptor only, the last relay sequence it delivered of the dialer's stream
/// 71  nodeIDLength u8, then the node ID (1…255 bytes of UTF-8)
/// ```
struct HelloMessage: Equatable, Sendable {
    /// "CHMS": Cohort mesh.
    static let magic: [UInt8] = [0x43, 0x48, 0x4D, 0x53]
    /// The protocol version this code speaks (2: connections made on demand by either side, and sealed
    /// records, see ``RecordSealer``).
    static let version: UInt8 = 2
    static let nonceBytes = 32
    static let fingerprintBytes = 8
    /// The fixed part before the node ID.
    static let fixedBytes = 72
    /// Largest hello: the fixed part and a 255-byte node ID.
    static let maxBytes = fixedBytes + 255

    var role: HandshakeRole
    var encrypted: Bool
    var nodeID: NodeID
    var incarnation: Incarnation
    var nonce: [UInt8]
    var fingerprint: [UInt8]
    var streamID: UInt64
    var resume: UInt64

    /// The encoded hello.
    func encoded() -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(Self.maxBytes)
        buffer.writeBytes(Self.magic)
        buffer.writeMultipleIntegers(Self.version, role.rawValue, UInt8(encrypted ? 1 : 0), incarnation.rawValue)
        buffer.writeBytes(nonce)
        buffer.writeBytes(fingerprint)
        buffer.writeMultipleIntegers(streamID, resume)
        let name = Array(nodeID.rawValue.utf8.prefix(255))
        buffer.writeInteger(UInt8(name.count))
        buffer.writeBytes(name)
        return buffer
    }

    /// Decodes a hello. Magic and version are checked first, so a stranger or an older node gets the
    /// precise failure. Total.
    static func decode(_ frame: ByteBuffer) throws(HandshakeFailure) -> HelloMessage {
        var buffer = frame
        guard let magic = buffer.readBytes(length: 4), magic == Self.magic else { throw .badMagic }
        guard let version: UInt8 = buffer.readInteger() else { throw .malformed("hello ends after its magic") }
        guard version == Self.version else { throw .unsupportedVersion(version) }
        guard let (roleByte, flags, incarnation) = buffer.readMultipleIntegers(as: (UInt8, UInt8, UInt64).self),
              let nonce = buffer.readBytes(length: nonceBytes),
              let fingerprint = buffer.readBytes(length: fingerprintBytes),
              let (streamID, resume) = buffer.readMultipleIntegers(as: (UInt64, UInt64).self),
              let nameLength: UInt8 = buffer.readInteger()
        else { throw .malformed("hello of \(frame.readableBytes) bytes is truncated") }
        guard let role = HandshakeRole(rawValue: roleByte) else { throw .malformed("unknown role \(roleByte)") }
        guard flags & ~1 == 0 else { throw .malformed("unknown hello flags \(flags)") }
        guard nameLength > 0, let name = buffer.readString(length: Int(nameLength)) else {
            throw .malformed("hello node ID is empty or truncated")
        }
        guard buffer.readableBytes == 0 else { throw .malformed("\(buffer.readableBytes) bytes after the hello") }
        guard name.utf8.count == Int(nameLength) else { throw .malformed("node ID is not UTF-8") }
        return HelloMessage(
            role: role, encrypted: flags & 1 == 1, nodeID: NodeID(name), incarnation: Incarnation(incarnation),
            nonce: nonce, fingerprint: fingerprint, streamID: streamID, resume: resume
        )
    }
}

/// The second frame of each side: proof of the key and, from the dialer, its resume point.
///
/// ```
/// 0  proof   32 bytes: HMAC-SHA256 over the transcript (zero when plaintext)
/// 32 resume  u64: dialer only, the last relay sequence it delivered of the acceptor's stream
/// ```
/// Sealed with the sender's session key (counter 0) when encrypted.
struct FinishMessage: Equatable, Sendable {
    static let bytes = 40

    var proof: [UInt8]
    var resume: UInt64

    /// The encoded finish (before sealing).
    func encoded() -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(Self.bytes)
        buffer.writeBytes(proof.count == 32 ? proof : [UInt8](repeating: 0, count: 32))
        buffer.writeInteger(resume)
        return buffer
    }

    /// Decodes a finish. Total.
    static func decode(_ frame: ByteBuffer) throws(HandshakeFailure) -> FinishMessage {
        var buffer = frame
        guard buffer.readableBytes == bytes, let proof = buffer.readBytes(length: 32), let resume: UInt64 = buffer.readInteger() else {
            throw .malformed("finish of \(frame.readableBytes) bytes; expected \(bytes)")
        }
        return FinishMessage(proof: proof, resume: resume)
    }
}
