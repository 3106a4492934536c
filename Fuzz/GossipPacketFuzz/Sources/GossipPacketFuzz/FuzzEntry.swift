import Gossip
import NIOCore
import Wire

/// One keyring for every run: the key is fixed so that the fuzzer can, in principle, learn valid
/// ciphertexts from the corpus; mostly it exercises the rejection paths.
let keyring: Keyring? = try? Keyring(primaryKey: [UInt8](repeating: 0x42, count: 16))
let plainDecoder = PacketDecoder()
let encryptedDecoder = PacketDecoder(keyring: keyring)
let migratingDecoder = PacketDecoder(keyring: keyring, verifyIncoming: false)
let roomyDecoder = PacketDecoder(limits: GossipLimits(maxPacketBytes: 1 << 24, maxDecompressedPacketBytes: 1 << 24))

/// Feeds one input to every decoder. Decoders must return or throw their typed error; a crash, a hang or
/// a failed invariant below is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let buffer = ByteBuffer(bytes: bytes)

    if let packet = try? plainDecoder.decode(buffer) {
        checkReencoding(packet)
    }
    _ = try? encryptedDecoder.decode(buffer)
    _ = try? migratingDecoder.decode(buffer)

    var stream = buffer
    if let message = try? StreamDecoder().decode(&stream, endOfInput: true) {
        var again = (try? StreamEncoder(compression: false).encode(message)) ?? ByteBuffer()
        guard (try? StreamDecoder().decode(&again, endOfInput: true)) == message else {
            fatalError("stream message does not survive re-encoding: \(message)")
        }
    }

    _ = try? NodeMeta(decoding: bytes)
    _ = try? LZWDecoder.decompress(bytes, maxOutputBytes: 1 << 20)
    var reader = MsgPackReader(buffer)
    _ = try? reader.readValue()
    return 0
}

/// Whatever decodes must encode and decode back to the same messages.
func checkReencoding(_ packet: DecodedPacket) {
    for message in packet.messages {
        guard (try? roomyDecoder.decode(message.encodedMessage()))?.messages == [message] else {
            fatalError("message does not survive re-encoding: \(message)")
        }
    }
}
