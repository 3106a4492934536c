import Crypto
import NIOCore
import Testing
@testable import Mesh

/// Sealed records (protocol version 2): many frames per seal, split at the limit, and every property of
/// the per-frame design — tampering, a dropped, replayed or reordered record, the counter's end — kept.
@Suite struct SealedRecordTests {
    let key = SymmetricKey(data: [UInt8](repeating: 5, count: 32))

    /// `count` frame bodies of varied sizes, each starting with its number.
    func bodies(_ count: Int, size: (Int) -> Int = { $0 % 97 }) -> [[UInt8]] {
        (0..<count).map { index in numbered(index) + [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size(index)) }
    }

    /// Appends `bodies` to `sealer` and seals what remains; returns the wire bytes.
    func seal(_ bodies: [[UInt8]], with sealer: inout RecordSealer) throws -> ByteBuffer {
        var output = ByteBuffer()
        for body in bodies { try sealer.append(bodyBytes: body.count, into: &output) { $0.writeBytes(body) } }
        try sealer.seal(into: &output)
        return output
    }

    /// Splits wire bytes into sealed records (without their prefixes).
    func records(_ wire: ByteBuffer, limit: Int) throws -> [ByteBuffer] {
        var wire = wire
        var records: [ByteBuffer] = []
        while let record = try LengthPrefixedFrameDecoder.next(from: &wire, limit: limit + SessionCipher.tagBytes) {
            records.append(record)
        }
        #expect(wire.readableBytes == 0)
        return records
    }

    /// The plaintext of a record holding `bodies`, each behind its length prefix.
    func plaintext(_ bodies: [[UInt8]]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for body in bodies {
            buffer.writeInteger(UInt32(body.count))
            buffer.writeBytes(body)
        }
        return buffer
    }

    @Test func aBatchOfManyFramesIsOneRecordAndOpensInOrder() throws {
        var sealer = RecordSealer(cipher: SessionCipher(key: key, counter: 1), limit: 16 << 20)
        var opener = RecordOpener(cipher: SessionCipher(key: key, counter: 1), frameLimit: 16 << 20)
        for round in 0..<3 {
            let sent = bodies(1024).map { [UInt8(round)] + $0 }
            let wire = try seal(sent, with: &sealer)
            let sealed = try records(wire, limit: 16 << 20)
            #expect(sealed.count == 1)
            #expect(wire.readableBytes == sent.reduce(0) { $0 + 4 + $1.count } + RecordSealer.recordOverhead)
            #expect(try opener.open(sealed[0]).map { Array($0.readableBytesView) } == sent)
        }
        #expect(sealer.cipher.counter == 4 && opener.cipher.counter == 4)
        #expect(sealer.isEmpty)
    }

    @Test func recordsAreSplitSoThatNoneExceedsTheLimit() throws {
        let limit = 1000
        var sealer = RecordSealer(cipher: SessionCipher(key: key), limit: limit)
        var opener = RecordOpener(cipher: SessionCipher(key: key), frameLimit: limit)
        // The largest frame that fits alone, then frames of every size up to 400 bytes.
        let sent = [[UInt8](repeating: 9, count: limit - 4)] + bodies(300) { $0 % 397 }
        let sealed = try records(try seal(sent, with: &sealer), limit: limit)
        #expect(sealed.count > 50)
        #expect(sealed.allSatisfy { $0.readableBytes <= limit + SessionCipher.tagBytes })
        let received = try sealed.flatMap { try opener.open($0) }.map { Array($0.readableBytesView) }
        #expect(received == sent)
    }

    @Test func aFlippedBitAnywhereFailsTheRecord() throws {
        var sealer = RecordSealer(cipher: SessionCipher(key: key), limit: 1 << 20)
        let sealed = try records(try seal(bodies(3), with: &sealer), limit: 1 << 20)[0]
        for position in 0..<sealed.readableBytes {
            for bit in [0, 7] {
                var tampered = Array(sealed.readableBytesView)
                tampered[position] ^= 1 << bit
                var opener = RecordOpener(cipher: SessionCipher(key: key), frameLimit: 1 << 20)
                #expect(throws: FrameError.badTag) { _ = try opener.open(ByteBuffer(bytes: tampered)) }
            }
        }
        var opener = RecordOpener(cipher: SessionCipher(key: key), frameLimit: 1 << 20)
        #expect(throws: FrameError.badTag) { _ = try opener.open(ByteBuffer(bytes: Array(sealed.readableBytesView.prefix(15)))) }
    }

    @Test func droppedReplayedOrReorderedRecordsFail() throws {
        var sealer = RecordSealer(cipher: SessionCipher(key: key), limit: 1 << 20)
        let first = try records(try seal(bodies(5), with: &sealer), limit: 1 << 20)[0]
        let second = try records(try seal(bodies(5), with: &sealer), limit: 1 << 20)[0]
        let third = try records(try seal(bodies(5), with: &sealer), limit: 1 << 20)[0]
        func opener() -> RecordOpener { RecordOpener(cipher: SessionCipher(key: key), frameLimit: 1 << 20) }

        var dropped = opener()
        _ = try dropped.open(first)
        #expect(throws: FrameError.badTag) { _ = try dropped.open(third) }

        var replayed = opener()
        _ = try replayed.open(first)
        #expect(throws: FrameError.badTag) { _ = try replayed.open(first) }

        var reordered = opener()
        #expect(throws: FrameError.badTag) { _ = try reordered.open(second) }

        // The other direction's key (a reflected record) fails too.
        var reflected = RecordOpener(cipher: SessionCipher(key: SymmetricKey(data: [UInt8](repeating: 6, count: 32))), frameLimit: 1 << 20)
        #expect(throws: FrameError.badTag) { _ = try reflected.open(first) }

        var inOrder = opener()
        for record in [first, second, third] { #expect(try inOrder.open(record).count == 5) }
    }

    @Test func theCounterNeverWraps() throws {
        var sealer = RecordSealer(cipher: SessionCipher(key: key, counter: UInt64.max - 1), limit: 1 << 20)
        let wire = try seal(bodies(4), with: &sealer)
        var output = ByteBuffer()
        try sealer.append(bodyBytes: 1, into: &output) { $0.writeInteger(UInt8(1)) }
        #expect(throws: FrameError.counterExhausted) { try sealer.seal(into: &output) }
        #expect(sealer.cipher.counter == UInt64.max)

        var opener = RecordOpener(cipher: SessionCipher(key: key, counter: UInt64.max - 1), frameLimit: 1 << 20)
        let sealed = try records(wire, limit: 1 << 20)[0]
        #expect(try opener.open(sealed).count == 4)
        #expect(throws: FrameError.counterExhausted) { _ = try opener.open(sealed) }
    }

    @Test func malformedFramesInsideAnAuthenticRecordAreRefused() throws {
        func open(_ plaintext: ByteBuffer, frameLimit: Int = 1 << 20) throws(FrameError) -> [ByteBuffer] {
            var cipher = SessionCipher(key: key)
            var sealed = ByteBuffer()
            try cipher.seal(plaintext, into: &sealed)
            var opener = RecordOpener(cipher: SessionCipher(key: key), frameLimit: frameLimit)
            return try opener.open(sealed)
        }
        #expect(throws: FrameError.malformed("empty sealed record")) { _ = try open(ByteBuffer()) }
        // A frame longer than what is left of the record.
        var truncated = plaintext([[1, 2, 3]])
        truncated.writeBytes([0, 0, 0, 9, 1])
        #expect(throws: FrameError.malformed("sealed record ends inside a frame (5 bytes left)")) { _ = try open(truncated) }
        // A record shorter than a length prefix.
        #expect(throws: FrameError.malformed("sealed record ends inside a frame (2 bytes left)")) { _ = try open(ByteBuffer(bytes: [0, 0])) }
        // A frame above the limit is refused by its length alone.
        #expect(throws: FrameError.oversized(length: 101, limit: 100)) { _ = try open(plaintext([[UInt8](repeating: 0, count: 101)]), frameLimit: 100) }
        // Empty frames are passed on (the header decoder refuses them).
        #expect(try open(plaintext([[], [1]])).map(\.readableBytes) == [0, 1])
    }
}
