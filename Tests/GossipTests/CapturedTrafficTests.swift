import CohortTestKit
import Gossip
import NIOCore
import Testing
import Wire

/// Traffic recorded from real memberlist 0.2.2 nodes decodes completely, to the message types Go saw.
@Suite("captured memberlist traffic")
struct CapturedTrafficTests {
    static let captures: [(name: String, traffic: CapturedTraffic)] = [
        ("plain", GoMemberlistVectors.plainCapture),
        ("encrypted", GoMemberlistVectors.encryptedCapture),
    ]

    static func keyring(_ traffic: CapturedTraffic) throws -> Keyring? {
        traffic.key.isEmpty ? nil : try Keyring(primaryKey: [UInt8](hex: traffic.key))
    }

    /// The leaf message types at the end of Go's shape description, e.g. "crc compound 0,3" → [0, 3].
    static func leafTypes(_ shape: String) -> [UInt8] {
        (shape.split(separator: " ").last ?? "").split(separator: ",").compactMap { UInt8($0) }
    }

    @Test("every captured packet decodes to Go's leaf types", arguments: [0, 1])
    func packets(capture: Int) throws {
        let traffic = Self.captures[capture].traffic
        let decoder = PacketDecoder(keyring: try Self.keyring(traffic))
        #expect(traffic.packets.count > 10)
        for frame in traffic.packets {
            let decoded = try decoder.decode(ByteBuffer(bytes: [UInt8](hex: frame.bytes)))
            #expect(decoded.droppedParts.isEmpty, "\(frame.shape)")
            #expect(decoded.messages.map(\.messageType.rawValue) == Self.leafTypes(frame.shape), "\(frame.shape)")
            for case .alive(let alive) in decoded.messages {
                #expect(ProtocolVersions(alive.versions) == ProtocolVersions(protocolMin: 1, protocolMax: 5, protocolCurrent: 2))
                #expect(alive.meta == Array("meta:\(alive.node)".utf8))
                #expect(alive.address == [127, 0, 0, 1])
            }
        }
    }

    @Test("every captured stream decodes to Go's message type and consumes all of its bytes", arguments: [0, 1])
    func streams(capture: Int) throws {
        let traffic = Self.captures[capture].traffic
        let decoder = StreamDecoder(keyring: try Self.keyring(traffic))
        #expect(!traffic.streams.isEmpty)
        for frame in traffic.streams {
            var buffer = ByteBuffer(bytes: [UInt8](hex: frame.bytes))
            let message = try #require(try decoder.decode(&buffer, endOfInput: true))
            #expect([message.messageType.rawValue] == Self.leafTypes(frame.shape), "\(frame.shape)")
            #expect(buffer.readableBytes == 0)
            if case .pushPull(let pushPull) = message {
                #expect(pushPull.userState.starts(with: Array("state:go-".utf8)))
                #expect(!pushPull.nodes.isEmpty && pushPull.nodes.allSatisfy { $0.name.hasPrefix("go-") })
            }
        }
    }

    @Test("the captures cover every message type memberlist sends")
    func coverage() {
        let packetTypes = Set(Self.captures.flatMap { $0.traffic.packets.flatMap { Self.leafTypes($0.shape) } })
        let streamTypes = Set(Self.captures.flatMap { $0.traffic.streams.flatMap { Self.leafTypes($0.shape) } })
        let shapes = Self.captures.flatMap { $0.traffic.packets.map(\.shape) }
        #expect(packetTypes.isSuperset(of: [0, 1, 2, 3, 4, 5, 8, 11]))
        #expect(streamTypes.isSuperset(of: [6, 8]))
        #expect(shapes.contains { $0.contains("compress") } && shapes.contains { $0.contains("crc") })
    }
}
