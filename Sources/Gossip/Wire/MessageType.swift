/// The first byte of every memberlist packet, stream and compound part.
///
/// The values are part of the protocol (memberlist 0.2.2 `net.go`); new types are only ever appended.
public enum MessageType: UInt8, CaseIterable, Hashable, Sendable {
    /// Direct probe (`ping`).
    case ping = 0
    /// Ask a helper to probe a target for us (`indirectPingReq`).
    case indirectPing = 1
    /// Answer to a ping (`ackResp`).
    case ackResponse = 2
    /// Suspicion broadcast.
    case suspect = 3
    /// Alive broadcast, also used to join and to refute.
    case alive = 4
    /// Dead broadcast; `From == Node` means a graceful leave.
    case dead = 5
    /// Full-state exchange over a stream.
    case pushPull = 6
    /// Several messages in one packet.
    case compound = 7
    /// Opaque delegate payload.
    case user = 8
    /// A compressed message.
    case compress = 9
    /// An encrypted stream (packets carry no type byte for encryption).
    case encrypt = 10
    /// An indirect helper heard nothing back (`nackResp`, protocol version 4).
    case nackResponse = 11
    /// A CRC32 header in front of a packet (protocol version 5).
    case hasCRC = 12
    /// A stream reply describing a failure on the remote side (`errResp`).
    case error = 13
}
