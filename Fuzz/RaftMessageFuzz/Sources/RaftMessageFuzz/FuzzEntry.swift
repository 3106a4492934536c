import RaftCore

let codec = MessageCodec()
/// Small limits too, so the fuzzer reaches every limit check with short inputs.
let tightCodec = MessageCodec(limits: MessageCodec.Limits(maxMessageBytes: 512, maxEntries: 4, maxCommandBytes: 64, maxMembers: 4))

/// Feeds one input to the Raft message decoder. It must return a message or throw its typed error; a
/// decoded message must encode to exactly the input (the encoding is canonical) and decode again to the
/// same value. A crash, a hang or a failed check is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for codec in [codec, tightCodec] {
        guard let message = try? codec.decode(bytes) else { continue }
        let again = codec.encode(message)
        guard again == bytes else { fatalError("decoded message does not re-encode to its input: \(message)") }
        guard (try? codec.decode(again)) == message else { fatalError("re-encoded message decodes differently: \(message)") }
    }
    return 0
}
