import CohortTestKit
import Gossip
import NIOCore
import Testing
import Wire

/// Every message encodes byte-identically to memberlist 0.2.2 and decodes from Go's bytes.
@Suite("memberlist messages against Go")
struct GoMessageVectorTests {
    @Test("encodes byte-identically to Go", arguments: ExpectedMessages.named.map(\.name))
    func encodesLikeGo(name: String) throws {
        let message = try #require(ExpectedMessages.named.first { $0.name == name }?.message)
        #expect(message.encodedMessage().bytes.hex == GoMemberlistVectors.message(name).hex)
    }

    @Test("decodes Go's bytes to the same value", arguments: ExpectedMessages.named.map(\.name))
    func decodesGo(name: String) throws {
        let expected = try #require(ExpectedMessages.named.first { $0.name == name }?.message)
        let decoded = try PacketDecoder().decode(ByteBuffer(bytes: GoMemberlistVectors.message(name)))
        #expect(decoded == DecodedPacket(messages: [expected]))
    }

    @Test("the error reply matches Go")
    func errorReply() throws {
        let reply = ErrorResponseMessage(error: "boom")
        let bytes = GoMemberlistVectors.message("err")
        #expect(reply.encodedMessage().bytes == bytes)
        #expect(try ErrorResponseMessage(body: ByteBuffer(bytes: bytes.dropFirst())) == reply)
    }

    @Test("an empty byte field is written as nil, as memberlist writes a nil slice")
    func emptyBytesAreNil() {
        let body = AckResponseMessage(sequenceNumber: 1).encodedBody().bytes
        #expect(body == [0x82, 0xa7] + Array("Payload".utf8) + [0xc0, 0xa5] + Array("SeqNo".utf8) + [0x01])
    }

    @Test("accepts encodings go-msgpack accepts but never writes", arguments: GoMemberlistVectors.alternateEncodings.map(\.name))
    func alternateEncodings(name: String) throws {
        let vector = try #require(GoMemberlistVectors.alternateEncodings.first { $0.name == name })
        let crafted = ByteBuffer(bytes: [UInt8](hex: vector.crafted))
        let reencoded: ByteBuffer
        switch name.split(separator: "-").first {
        case "ping": reencoded = try PingMessage(body: crafted).encodedBody()
        case "alive": reencoded = try AliveMessage(body: crafted).encodedBody()
        case "push": reencoded = try PushPullHeader(body: crafted).encodedBody()
        case "ack": reencoded = try AckResponseMessage(body: crafted).encodedBody()
        case "suspect": reencoded = try SuspectMessage(body: crafted).encodedBody()
        default: Issue.record("no decoder for \(name)"); return
        }
        #expect(reencoded.bytes.hex == [UInt8](hex: vector.canonical).hex)
    }
}
