import CohortTestKit
import NIOCore
import Testing
import Wire

/// `readStruct` follows go-msgpack's struct decoding rules.
@Suite("msgpack struct reading")
struct MsgPackStructTests {
    struct Sample: Equatable {
        var seqNo: UInt32 = 0
        var node = ""
    }

    func decode(_ hex: String) throws(MsgPackFieldError) -> Sample {
        var reader = MsgPackReader(ByteBuffer(bytes: [UInt8](hex: hex)))
        var sample = Sample()
        try reader.readStruct(fieldNames: ["SeqNo", "Node"]) { index, r throws(MsgPackError) in
            if index == 0 { sample.seqNo = try r.readInteger() } else { sample.node = try r.readString() }
        }
        return sample
    }

    @Test("matches map keys by name in any order and skips unknown keys")
    func mapByName() throws {
        // {"Node": "a", "Extra": [1, {"x": nil}], "SeqNo": 7}
        #expect(try decode("83a44e6f6465a161a54578747261920181a178c0a55365714e6f07") == Sample(seqNo: 7, node: "a"))
    }

    @Test("a key that is nil, binary, not UTF-8 or only a field name's prefix is skipped like an unknown one")
    func oddKeys() throws {
        // {nil: 1, bin "Node": "x", "\xff": 2, "Nod": "y", "SeqNo": 7}: go-msgpack reads every key as a Go
        // string, and only a key spelling a field name fills it (a binary key does, as in Go).
        #expect(try decode("85c001c4044e6f6465a178a1ff02a34e6f64a179a55365714e6f07") == Sample(seqNo: 7, node: "x"))
        // A key cut short is truncated data.
        #expect(throws: MsgPackFieldError(field: nil, error: .truncated)) { try decode("81a54e6f") }
    }

    @Test("fills fields by position from an array and ignores extra elements")
    func arrayByPosition() throws {
        #expect(try decode("9309a162c3") == Sample(seqNo: 9, node: "b"))
        #expect(try decode("9109") == Sample(seqNo: 9, node: ""))
    }

    @Test("nil leaves every field at its default")
    func nilStruct() throws {
        #expect(try decode("c0") == Sample())
    }

    @Test("names the field that failed")
    func fieldInError() {
        #expect(throws: MsgPackFieldError(field: "SeqNo", error: .integerOverflow)) { try decode("81a55365714e6fcf0000000100000000") }
        #expect(throws: MsgPackFieldError(field: nil, error: .typeMismatch(expected: .map, format: 0x05))) { try decode("05") }
        #expect(throws: MsgPackFieldError(field: "Node", error: .truncated)) { try decode("81a44e6f6465a5") }
    }
}
