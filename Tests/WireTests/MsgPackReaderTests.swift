import CohortTestKit
import NIOCore
import Testing
import Wire

@Suite("msgpack reader")
struct MsgPackReaderTests {
    func reader(_ hex: String, limits: MsgPackLimits = .default) -> MsgPackReader {
        MsgPackReader(ByteBuffer(bytes: [UInt8](hex: hex)), limits: limits)
    }

    @Test("accepts every integer width for unsigned and signed fields")
    func everyIntegerWidth() throws {
        for hex in ["05", "cc05", "cd0005", "ce00000005", "cf0000000000000005", "d005", "d10005", "d200000005", "d30000000000000005"] {
            var r = reader(hex)
            #expect(try r.readInteger(as: UInt16.self) == 5, "\(hex)")
            var s = reader(hex)
            #expect(try s.readInteger(as: Int.self) == 5, "\(hex)")
        }
        for hex in ["ff", "d0ff", "d1ffff", "d2ffffffff", "d3ffffffffffffffff"] {
            var r = reader(hex)
            #expect(try r.readInteger(as: Int8.self) == -1, "\(hex)")
        }
    }

    @Test("rejects integers that do not fit, including negatives for unsigned fields")
    func integerOverflow() {
        for (hex, expectation) in [("cd0100", "UInt8"), ("ff", "UInt32"), ("d0ff", "UInt64"), ("cf8000000000000000", "Int64")] {
            var r = reader(hex)
            #expect(throws: MsgPackError.integerOverflow, "\(expectation)") {
                switch expectation {
                case "UInt8": _ = try r.readInteger(as: UInt8.self)
                case "UInt32": _ = try r.readInteger(as: UInt32.self)
                case "UInt64": _ = try r.readInteger(as: UInt64.self)
                default: _ = try r.readInteger(as: Int64.self)
                }
            }
        }
    }

    @Test("reads strings and bytes from str8, str16, str32 and bin8/16/32")
    func everyStringFamily() throws {
        for hex in ["a26869", "d9026869", "da00026869", "db000000026869", "c4026869", "c500026869", "c6000000026869"] {
            var r = reader(hex)
            #expect(try r.readString() == "hi", "\(hex)")
            var b = reader(hex)
            #expect(try b.readBytes() == Array("hi".utf8), "\(hex)")
        }
    }

    @Test("reads nil as the zero value, as go-msgpack does")
    func nilIsZero() throws {
        var r = reader("c0c0c0c0c0c0")
        #expect(try r.readInteger(as: UInt32.self) == 0)
        #expect(try r.readString() == "")
        #expect(try r.readBytes() == [])
        #expect(try r.readBool() == false)
        #expect(try r.readArrayHeader() == 0)
        #expect(try r.readMapHeader() == 0)
    }

    @Test("reads booleans from true/false and the integers 0 and 1")
    func booleans() throws {
        var r = reader("c3c20100")
        #expect(try r.readBool() && !(try r.readBool()) && (try r.readBool()) && !(try r.readBool()))
        var bad = reader("02")
        #expect(throws: MsgPackError.typeMismatch(expected: .bool, format: 0x02)) { try bad.readBool() }
    }

    @Test("rejects invalid UTF-8 in strings and the reserved byte 0xc1")
    func invalidInput() {
        var r = reader("a2fffe")
        #expect(throws: MsgPackError.invalidUTF8) { try r.readString() }
        var reserved = reader("c1")
        #expect(throws: MsgPackError.reservedFormat) { try reserved.skipValue() }
    }

    @Test("checks a declared length against the limit before waiting for the bytes")
    func lengthLimit() {
        let limits = MsgPackLimits(maxByteLength: 100, maxContainerCount: 10)
        var text = reader("db7fffffff", limits: limits)
        #expect(throws: MsgPackError.lengthLimitExceeded(length: 0x7fff_ffff, limit: 100)) { try text.readBytes() }
        var array = reader("dd0000ffff", limits: limits)
        #expect(throws: MsgPackError.lengthLimitExceeded(length: 0xffff, limit: 10)) { try array.skipValue() }
        var withinLimit = reader("da0050", limits: limits)
        #expect(throws: MsgPackError.truncated) { try withinLimit.readBytes() }
    }

    @Test("stops at the depth limit instead of recursing")
    func depthLimit() {
        let deep = [UInt8](repeating: 0x91, count: 10_000) + [0x00]
        var r = MsgPackReader(ByteBuffer(bytes: deep), limits: MsgPackLimits(maxDepth: 16))
        #expect(throws: MsgPackError.depthLimitExceeded(limit: 16)) { try r.skipValue() }
        var v = MsgPackReader(ByteBuffer(bytes: deep), limits: MsgPackLimits(maxDepth: 16))
        #expect(throws: MsgPackError.depthLimitExceeded(limit: 16)) { try v.readValue() }
        var shallow = MsgPackReader(ByteBuffer(bytes: [UInt8](repeating: 0x91, count: 16) + [0x00]))
        #expect(throws: Never.self) { try shallow.skipValue() }
    }

    @Test("measureValue tells complete from incomplete from malformed")
    func measure() throws {
        let value: [UInt8] = [UInt8](hex: "83a14101a142a3616263a14392c0c3") + [0x99]
        for cut in 0..<(value.count - 1) {
            #expect(try MsgPackReader.measureValue(in: ByteBuffer(bytes: value.prefix(cut))) == nil, "cut \(cut)")
        }
        #expect(try MsgPackReader.measureValue(in: ByteBuffer(bytes: value)) == value.count - 1)
        #expect(throws: MsgPackError.reservedFormat) { try MsgPackReader.measureValue(in: ByteBuffer(bytes: [0x91, 0xc1])) }
    }

    @Test("every truncation of a valid value is .truncated, never a crash or a wrong value")
    func truncationsAreTruncated() throws {
        var writer = MsgPackWriter()
        writer.writeValue(.map([
            .init(key: .string(Array("a".utf8)), value: .array([.unsigned(1), .signed(-300), .double(1.5), .nil])),
            .init(key: .string(Array("b".utf8)), value: .string([UInt8](repeating: 1, count: 40))),
            .init(key: .string(Array("c".utf8)), value: .ext(type: 3, data: [1, 2, 3])),
        ]))
        let bytes = Array(writer.buffer.readableBytesView)
        for cut in 0..<bytes.count {
            var r = MsgPackReader(ByteBuffer(bytes: bytes.prefix(cut)))
            #expect(throws: MsgPackError.truncated) { try r.readValue() }
            var s = MsgPackReader(ByteBuffer(bytes: bytes.prefix(cut)))
            #expect(throws: MsgPackError.truncated) { try s.skipValue() }
        }
    }

    @Test("arbitrary bytes give a value or a typed error, and skip agrees with read")
    func randomBytesAreTotal() {
        var generator = SplitMix64(seed: 0xC0_4047)
        for _ in 0..<5_000 {
            let bytes = generator.bytes(Int.random(in: 0...64, using: &generator))
            var read = MsgPackReader(ByteBuffer(bytes: bytes), limits: MsgPackLimits(maxDepth: 8))
            var skip = read
            let readResult = Result { () throws(MsgPackError) in try read.readValue() }
            let skipResult = Result { () throws(MsgPackError) in try skip.skipValue() }
            switch (readResult, skipResult) {
            case (.success, .success):
                #expect(read.buffer.readableBytes == skip.buffer.readableBytes)
            case (.failure(let a), .failure(let b)):
                #expect(a == b)
            default:
                Issue.record("read and skip disagree on \(bytes.hex)")
            }
        }
    }

    @Test("values round-trip through the writer")
    func valueRoundTrip() throws {
        let values: [MsgPackValue] = [
            .nil, .bool(true), .unsigned(0), .unsigned(UInt64.max), .signed(-1), .signed(Int64.min), .double(-2.25),
            .string(Array("héllo".utf8)), .array((0..<20).map { .unsigned($0) }),
            .map((0..<17).map { .init(key: .unsigned(UInt64($0)), value: .string([UInt8($0), UInt8($0 + 1)])) }),
            .ext(type: -1, data: [1]), .ext(type: 5, data: [UInt8](repeating: 0, count: 300)),
        ]
        for value in values {
            var writer = MsgPackWriter()
            writer.writeValue(value)
            var reader = MsgPackReader(writer.buffer)
            #expect(try reader.readValue() == value)
            #expect(reader.isAtEnd)
        }
    }
}
