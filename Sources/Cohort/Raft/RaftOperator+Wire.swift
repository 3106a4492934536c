import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The requests a node passes on to its Raft leader (`.raftOperator` mesh requests, raft class) and the
// leader's answers. Decoders are total: bad bytes give nil, never a crash.

// MARK: Wire

extension RaftOperator {
    /// `u8 version = 1 | u8 hops left | u8 kind | kind's fields`: kind 1 peers; 2 remove-peer with
    /// `u8 length | name`; 3 transfer with `u32 timeout ms | u8 length | name` (length 0: any voter).
    static func encode(_ request: Request, hopsLeft: UInt8) -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(1)
        writer.u8(hopsLeft)
        switch request {
        case .peers:
            writer.u8(1)
        case .removePeer(let name):
            writer.u8(2)
            writer.name(name)
        case .transfer(let target, let timeout):
            writer.u8(3)
            writer.u32(UInt32(clamping: milliseconds(timeout)))
            writer.name(target)
        }
        return writer.buffer
    }

    static func decodeRequest(_ bytes: [UInt8]) -> (Request, UInt8)? {
        var reader = ByteReader(bytes)
        guard (try? reader.u8()) == 1, let hops = try? reader.u8(), hops <= maxHops, let kind = try? reader.u8() else { return nil }
        let request: Request
        switch kind {
        case 1:
            request = .peers
        case 2:
            guard let name = reader.name(), let name else { return nil }
            request = .removePeer(name)
        case 3:
            guard let millis = try? reader.u32(), Duration.milliseconds(Int64(millis)) <= maxTransferTimeout, let name = reader.name() else {
                return nil
            }
            request = .transfer(name, timeout: .milliseconds(Int64(millis)))
        default:
            return nil
        }
        guard reader.isAtEnd else { return nil }
        return (request, hops)
    }

    /// `u8 0 | answer` (see ``OperatorAnswer``), or `u8 error code | UTF-8 message`.
    static func encodeReply(_ outcome: Result<[UInt8], RaftOperatorError>) -> [UInt8] {
        switch outcome {
        case .success(let answer): return [0] + answer
        case .failure(let error): return [error.wireCode] + Array(error.description.utf8.prefix(2048))
        }
    }

    static func decodeReply(_ bytes: [UInt8], from peer: NodeID) throws(RaftOperatorError) -> [UInt8] {
        guard let code = bytes.first else { throw .noLeader("\(peer) sent an empty answer") }
        let rest = Array(bytes.dropFirst())
        if code == 0 { return rest }
        throw RaftOperatorError(wireCode: code, text: String(decoding: rest, as: UTF8.self))
            ?? .noLeader("\(peer) answered with an unknown error code \(code)")
    }
}

/// An answer the leader sends back over the mesh: binary, versioned by the request's version, with a total
/// decoder (any bytes give a value or nil).
protocol OperatorAnswer {
    var wire: [UInt8] { get }
    init?(wire: [UInt8])
}

/// The gossip states on the wire.
private let gossipStates = ["alive", "suspect", "dead", "left"]

extension ByteWriter {
    fileprivate mutating func gossip(_ state: String) {
        u8(gossipStates.firstIndex(of: state).map(UInt8.init) ?? 255)
    }

    /// `u16 length | UTF-8`, at most 4096 bytes.
    fileprivate mutating func note(_ text: String) {
        let utf8 = Array(text.utf8.prefix(4096))
        u16(UInt16(utf8.count))
        bytes(utf8)
    }
}

extension ByteReader {
    fileprivate mutating func gossip() -> String? {
        guard let code = try? u8() else { return nil }
        return code == 255 ? "unknown" : Int(code) < gossipStates.count ? gossipStates[Int(code)] : nil
    }

    fileprivate mutating func note() -> String? {
        guard let length = try? u16(), length <= 4096 else { return nil }
        return try? utf8(Int(length), "note")
    }

    /// A name that must be there.
    fileprivate mutating func requiredName() -> String? {
        guard let name = name(), let name else { return nil }
        return name.rawValue
    }
}

/// `u64 term | u64 commit index | u64 last log index | name leader | u16 count (≤ 1024) | per peer: name |
/// u8 flags (1 voter, 2 leader, 4 caught up) | u64 match index | u64 last contact ms | u8 gossip`.
extension RaftPeers: OperatorAnswer {
    var wire: [UInt8] {
        var writer = ByteWriter()
        writer.u64(term)
        writer.u64(commitIndex)
        writer.u64(lastLogIndex)
        writer.name(NodeID(leader))
        let peers = peers.prefix(1024)
        writer.u16(UInt16(peers.count))
        for peer in peers {
            writer.name(NodeID(peer.name))
            writer.u8((peer.suffrage == "voter" ? 1 : 0) | (peer.leader ? 2 : 0) | (peer.caughtUp ? 4 : 0))
            writer.u64(peer.matchIndex)
            writer.u64(peer.lastContactMs)
            writer.gossip(peer.gossip)
        }
        return writer.buffer
    }

    init?(wire: [UInt8]) {
        var reader = ByteReader(wire)
        guard let term = try? reader.u64(), let commit = try? reader.u64(), let last = try? reader.u64(),
              let leader = reader.requiredName(), let count = try? reader.u16(), count <= 1024
        else { return nil }
        var peers: [RaftPeerInfo] = []
        for _ in 0..<count {
            guard let name = reader.requiredName(), let flags = try? reader.u8(), flags < 8, let match = try? reader.u64(),
                  let contact = try? reader.u64(), let gossip = reader.gossip()
            else { return nil }
            peers.append(RaftPeerInfo(
                name: name, suffrage: flags & 1 != 0 ? "voter" : "standby", leader: flags & 2 != 0, matchIndex: match,
                lastContactMs: contact, caughtUp: flags & 4 != 0, gossip: gossip
            ))
        }
        guard reader.isAtEnd else { return nil }
        self.init(leader: leader, term: term, commitIndex: commit, lastLogIndex: last, peers: peers)
    }
}

/// `name removed | u8 voter (0/1) | u64 index | u8 gossip | u16 length | note`.
extension RaftPeerRemoval: OperatorAnswer {
    var wire: [UInt8] {
        var writer = ByteWriter()
        writer.name(NodeID(removed))
        writer.flag(suffrage == "voter")
        writer.u64(index)
        writer.gossip(gossip)
        writer.note(note)
        return writer.buffer
    }

    init?(wire: [UInt8]) {
        var reader = ByteReader(wire)
        guard let removed = reader.requiredName(), let voter = try? reader.flag(), let index = try? reader.u64(),
              let gossip = reader.gossip(), let note = reader.note(), reader.isAtEnd
        else { return nil }
        self.init(removed: removed, suffrage: voter ? "voter" : "standby", index: index, gossip: gossip, note: note)
    }
}

/// `name previous | name target | name leader`.
extension RaftLeaderTransfer: OperatorAnswer {
    var wire: [UInt8] {
        var writer = ByteWriter()
        writer.name(NodeID(previous))
        writer.name(NodeID(target))
        writer.name(NodeID(leader))
        return writer.buffer
    }

    init?(wire: [UInt8]) {
        var reader = ByteReader(wire)
        guard let previous = reader.requiredName(), let target = reader.requiredName(), let leader = reader.requiredName(),
              reader.isAtEnd
        else { return nil }
        self.init(previous: previous, target: target, leader: leader)
    }
}

extension ByteWriter {
    /// `u8 length | UTF-8` (length 0 for none).
    fileprivate mutating func name(_ node: NodeID?) {
        let utf8 = Array((node?.rawValue ?? "").utf8.prefix(255))
        u8(UInt8(utf8.count))
        bytes(utf8)
    }
}

extension ByteReader {
    /// What ``ByteWriter/name(_:)`` wrote: `.some(nil)` for length 0, nil when cut short.
    fileprivate mutating func name() -> NodeID?? {
        guard let length = try? u8(), let raw = try? utf8(Int(length), "node") else { return nil }
        return .some(length == 0 ? nil : NodeID(raw))
    }
}
