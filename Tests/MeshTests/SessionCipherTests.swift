import Crypto
import NIOCore
import Testing
@testable import Mesh

/// AES-GCM with counter nonces: round trips, tampering, replay and the end of the counter.
@Suite struct SessionCipherTests {
    let key = SymmetricKey(data: [UInt8](repeating: 3, count: 32))

    @Test func sealedFramesOpenInOrder() throws {
        var sealer = SessionCipher(key: key)
        var opener = SessionCipher(key: key)
        for index in 0..<100 {
            var sealed = ByteBuffer()
            let plaintext = [UInt8](repeating: UInt8(index), count: index)
            try sealer.seal(buffer(plaintext), into: &sealed)
            #expect(sealed.readableBytes == plaintext.count + SessionCipher.tagBytes)
            #expect(Array(try opener.open(sealed).readableBytesView) == plaintext)
        }
        #expect(sealer.counter == 100 && opener.counter == 100)
    }

    @Test func tamperingIsDetected() throws {
        var sealer = SessionCipher(key: key)
        var sealed = ByteBuffer()
        try sealer.seal(buffer([1, 2, 3, 4]), into: &sealed)
        for position in 0..<sealed.readableBytes {
            var tampered = Array(sealed.readableBytesView)
            tampered[position] ^= 0x01
            var opener = SessionCipher(key: key)
            #expect(throws: FrameError.badTag) { _ = try opener.open(buffer(tampered)) }
        }
        var opener = SessionCipher(key: key)
        #expect(throws: FrameError.badTag) { _ = try opener.open(buffer([1, 2, 3])) }
    }

    @Test func replayedOrReorderedFramesFail() throws {
        var sealer = SessionCipher(key: key)
        var first = ByteBuffer()
        var second = ByteBuffer()
        try sealer.seal(buffer([1]), into: &first)
        try sealer.seal(buffer([2]), into: &second)
        var opener = SessionCipher(key: key)
        #expect(throws: FrameError.badTag) { _ = try opener.open(second) }
        var inOrder = SessionCipher(key: key)
        _ = try inOrder.open(first)
        #expect(throws: FrameError.badTag) { _ = try inOrder.open(first) }
    }

    @Test func counterNeverWraps() throws {
        var sealer = SessionCipher(key: key, counter: UInt64.max - 1)
        var sealed = ByteBuffer()
        try sealer.seal(buffer([1]), into: &sealed)
        #expect(throws: FrameError.counterExhausted) { try sealer.seal(buffer([2]), into: &sealed) }
        var opener = SessionCipher(key: key, counter: UInt64.max - 1)
        #expect(Array(try opener.open(sealed).readableBytesView) == [1])
        #expect(throws: FrameError.counterExhausted) { _ = try opener.open(sealed) }
    }

    @Test func sessionKeysDependOnNoncesAndNames() {
        let cluster = SymmetricKey(data: [UInt8](repeating: 9, count: 16))
        func derive(_ nonce: UInt8, _ dialer: String) -> [UInt8] {
            SessionKeys.derive(
                clusterKey: cluster, dialerNonce: [UInt8](repeating: nonce, count: 32),
                acceptorNonce: [UInt8](repeating: 0, count: 32), dialer: dialer, acceptor: "b"
            ).dialerToAcceptor.withUnsafeBytes { Array($0) }
        }
        #expect(derive(1, "a") == derive(1, "a"))
        #expect(derive(1, "a") != derive(2, "a"))
        #expect(derive(1, "a") != derive(1, "c"))
        let keys = SessionKeys.derive(
            clusterKey: cluster, dialerNonce: [UInt8](repeating: 1, count: 32), acceptorNonce: [UInt8](repeating: 0, count: 32),
            dialer: "a", acceptor: "b"
        )
        let all = [keys.dialerToAcceptor, keys.acceptorToDialer, keys.dialerProof, keys.acceptorProof].map { $0.withUnsafeBytes { Array($0) } }
        #expect(Set(all).count == 4)
    }
}
