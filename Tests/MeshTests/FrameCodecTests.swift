import CohortTestKit
import NIOCore
import Testing
@testable import Mesh
@testable import MeshCore

/// The frame header and the length-prefix decoder: round trips, limits and robustness.
@Suite struct FrameCodecTests {
    @Test func headerRoundTripsForEveryKind() throws {
        let headers = [
            FrameHeader(trafficClass: .relay, kind: .message, endpoint: .processes, sequence: 42),
            FrameHeader(trafficClass: .raft, kind: .request, endpoint: .raft, requestID: 7, deadlineMilliseconds: 1500),
            FrameHeader(trafficClass: .bulk, kind: .reply, endpoint: .raftSnapshot, requestID: .max),
            FrameHeader(trafficClass: .control, kind: .errorReply, endpoint: .names, requestID: 1),
            FrameHeader(trafficClass: .bulk, kind: .chunk),
            FrameHeader(trafficClass: .control, kind: .ack, sequence: .max),
            FrameHeader(trafficClass: .control, kind: .ping, requestID: 3),
            FrameHeader(trafficClass: .control, kind: .pong, requestID: 3),
        ]
        for header in headers {
            let payload: [UInt8] = [.ack, .ping, .pong].contains(header.kind) ? [] : [1, 2, 3]
            var body = frameBody(header, payload)
            #expect(body.readableBytes == FrameHeader.size + payload.count)
            #expect(try FrameHeader.read(from: &body) == header)
            #expect(Array(body.readableBytesView) == payload)
        }
    }

    @Test func headerRejectsWhatItCannotBe() {
        func read(_ bytes: [UInt8]) -> FrameError? {
            var body = buffer(bytes)
            do {
                _ = try FrameHeader.read(from: &body)
                return nil
            } catch {
                return error
            }
        }
        #expect(read([1, 0, 0]) == .malformed("frame of 3 bytes is shorter than its 24-byte header"))
        var header = Array(frameBody(FrameHeader(trafficClass: .raft, kind: .message)).readableBytesView)
        #expect(read(header) == nil)
        header[0] = 9
        #expect(read(header) == .unknownClass(9))
        header[0] = 1
        header[1] = 200
        #expect(read(header) == .unknownKind(200))
        // A relay message without a sequence, a request without an ID, a ping with a payload, an empty chunk.
        #expect(read(Array(frameBody(FrameHeader(trafficClass: .relay, kind: .message)).readableBytesView)) != nil)
        #expect(read(Array(frameBody(FrameHeader(trafficClass: .raft, kind: .request)).readableBytesView)) != nil)
        #expect(read(Array(frameBody(FrameHeader(trafficClass: .control, kind: .ping), [1]).readableBytesView)) != nil)
        #expect(read(Array(frameBody(FrameHeader(trafficClass: .raft, kind: .ack)).readableBytesView)) != nil)
        #expect(read(Array(frameBody(FrameHeader(trafficClass: .bulk, kind: .chunk)).readableBytesView)) != nil)
    }

    @Test func headerDecoderIsTotalOnRandomBytes() {
        var generator = SplitMix64(seed: 0x6D65_7368)
        var decoded = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...64, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Bias towards plausible headers so the deeper checks are reached too.
            if length >= 2, Bool.random(using: &generator) {
                bytes[0] = UInt8.random(in: 0...4, using: &generator)
                bytes[1] = UInt8.random(in: 0...8, using: &generator)
            }
            var body = buffer(bytes)
            if (try? FrameHeader.read(from: &body)) != nil { decoded += 1 }
        }
        #expect(decoded > 0)
    }

    @Test func lengthPrefixSplitsFramesAcrossArbitraryReads() throws {
        var generator = SplitMix64(seed: 11)
        var stream = ByteBuffer()
        var expected: [[UInt8]] = []
        for index in 0..<200 {
            let body = (0..<Int.random(in: 0...300, using: &generator)).map { UInt8(truncatingIfNeeded: $0 &+ index) }
            expected.append(body)
            stream.writeImmutableBuffer(framed(buffer(body)))
        }
        var received: [[UInt8]] = []
        var pending = ByteBuffer()
        while stream.readableBytes > 0 {
            var piece = stream.readSlice(length: min(stream.readableBytes, Int.random(in: 1...97, using: &generator)))!
            pending.writeBuffer(&piece)
            while let frame = try LengthPrefixedFrameDecoder.next(from: &pending, limit: 1000) {
                received.append(Array(frame.readableBytesView))
            }
        }
        #expect(received == expected)
    }

    @Test func oversizedLengthIsRefusedFromItsFourBytes() {
        var prefix = ByteBuffer()
        prefix.writeInteger(UInt32(1001))
        #expect(throws: FrameError.oversized(length: 1001, limit: 1000)) {
            _ = try LengthPrefixedFrameDecoder.next(from: &prefix, limit: 1000)
        }
        var huge = ByteBuffer()
        huge.writeInteger(UInt32.max)
        #expect(throws: FrameError.self) { _ = try LengthPrefixedFrameDecoder.next(from: &huge, limit: 16 << 20) }
    }

    @Test func partialFrameWaitsForMoreBytes() throws {
        var partial = ByteBuffer()
        partial.writeInteger(UInt32(10))
        partial.writeBytes([1, 2, 3])
        #expect(try LengthPrefixedFrameDecoder.next(from: &partial, limit: 64) == nil)
        #expect(partial.readableBytes == 7)
        partial.writeBytes([4, 5, 6, 7, 8, 9, 10])
        #expect(try LengthPrefixedFrameDecoder.next(from: &partial, limit: 64).map { Array($0.readableBytesView) } == Array(1...10))
    }

    @Test func decoderIsTotalOnRandomStreams() {
        var generator = SplitMix64(seed: 99)
        for _ in 0..<5_000 {
            var bytes = buffer((0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            // Every outcome is a frame, "need more" or a typed error; never a trap or a huge allocation.
            while true {
                do {
                    guard let frame = try LengthPrefixedFrameDecoder.next(from: &bytes, limit: 32) else { break }
                    #expect(frame.readableBytes <= 32)
                } catch {
                    break
                }
            }
        }
    }

    @Test func chunkReassemblyIsBoundedByTheMessageLimit() throws {
        var reassembler = ChunkReassembler(limit: 10)
        try reassembler.append([1, 2, 3, 4])
        #expect(try reassembler.complete(with: [5, 6]) == [1, 2, 3, 4, 5, 6])
        #expect(!reassembler.isCollecting)
        try reassembler.append([UInt8](repeating: 0, count: 8))
        #expect(throws: FrameError.messageTooLarge(bytes: 11, limit: 10)) {
            try reassembler.append([1, 2, 3])
        }
        var fresh = ChunkReassembler(limit: 10)
        let single = try fresh.complete(with: [9])
        #expect(single == [9])
    }

    @Test func remoteFailureDecodingIsTotal() {
        #expect(RemoteFailure.decode(RemoteFailure.handlerFailed("boom").encoded()) == .handlerFailed("boom"))
        #expect(RemoteFailure.decode(RemoteFailure.noHandler.encoded()) == .noHandler)
        #expect(RemoteFailure.decode(RemoteFailure.overloaded.encoded()) == .overloaded)
        #expect(RemoteFailure.decode([]) == .handlerFailed("empty error reply"))
        #expect(RemoteFailure.decode([77]) == .handlerFailed("unknown remote error code 77"))
        #expect(RemoteFailure.decode([0, 0xFF, 0xFE]) != .noHandler)
    }
}
