import CohortCore
import CohortTestKit
import NIOCore
import Testing
@testable import Mesh

/// The handshake state machine, in memory: both roles, keys, resume points and every refusal.
@Suite struct HandshakeTests {
    static let keyA: [UInt8] = Array(repeating: 0xA1, count: 32)
    static let keyB: [UInt8] = Array(repeating: 0xB2, count: 16)

    struct Pair {
        var dialer: MeshHandshake
        var acceptor: MeshHandshake
    }

    func pair(
        dialer: String = "a", acceptor: String = "b", dialerKeys: [[UInt8]] = [], acceptorKeys: [[UInt8]] = [],
        expected: String? = nil
    ) -> Pair {
        Pair(
            dialer: MeshHandshake(
                role: .dialer, localID: NodeID(dialer), localIncarnation: Incarnation(10), keyring: MeshKeyring(dialerKeys),
                nonce: [UInt8](repeating: 1, count: 32), expectedPeer: NodeID(expected ?? acceptor)
            ),
            acceptor: MeshHandshake(
                role: .acceptor, localID: NodeID(acceptor), localIncarnation: Incarnation(20),
                keyring: MeshKeyring(acceptorKeys), nonce: [UInt8](repeating: 2, count: 32)
            )
        )
    }

    /// Runs the whole exchange; returns both sessions.
    func complete(_ pair: inout Pair, dialerResume: UInt64 = 5, acceptorResume: UInt64 = 9) throws -> (EstablishedSession, EstablishedSession) {
        let helloD = pair.dialer.makeHello(streamID: 111)
        let seenByAcceptor = try pair.acceptor.receiveHello(helloD)
        #expect(seenByAcceptor.nodeID == pair.dialer.localID)
        #expect(seenByAcceptor.streamID == 111)
        let helloA = pair.acceptor.makeHello(streamID: 222, resume: acceptorResume)
        let seenByDialer = try pair.dialer.receiveHello(helloA)
        #expect(seenByDialer.streamID == 222)
        let finishD = try pair.dialer.makeFinish(resume: dialerResume)
        try pair.acceptor.receiveFinish(finishD)
        let finishA = try pair.acceptor.makeFinish()
        try pair.dialer.receiveFinish(finishA)
        return (try #require(pair.dialer.established), try #require(pair.acceptor.established))
    }

    @Test func plaintextHandshakeExchangesIdentitiesAndResumePoints() throws {
        var handshake = pair()
        let (dialer, acceptor) = try complete(&handshake)
        #expect(dialer.peer == NodeID("b"))
        #expect(dialer.peerIncarnation == Incarnation(20))
        #expect(dialer.peerStreamID == 222)
        #expect(dialer.resume == 9)
        #expect(dialer.sealer == nil && dialer.opener == nil)
        #expect(acceptor.peer == NodeID("a"))
        #expect(acceptor.peerIncarnation == Incarnation(10))
        #expect(acceptor.peerStreamID == 111)
        #expect(acceptor.resume == 5)
    }

    @Test func keyedHandshakeGivesMatchingCiphersPerDirection() throws {
        var handshake = pair(dialerKeys: [Self.keyA], acceptorKeys: [Self.keyA])
        var (dialer, acceptor) = try complete(&handshake)
        var sealed = ByteBuffer()
        try dialer.sealer!.seal(buffer([1, 2, 3]), into: &sealed)
        #expect(Array(try acceptor.opener!.open(sealed).readableBytesView) == [1, 2, 3])
        var back = ByteBuffer()
        try acceptor.sealer!.seal(buffer([4]), into: &back)
        #expect(Array(try dialer.opener!.open(back).readableBytesView) == [4])
        // Each direction has its own key: a frame cannot be reflected back to its sender.
        var reflected = ByteBuffer()
        try dialer.sealer!.seal(buffer([5]), into: &reflected)
        #expect(throws: FrameError.badTag) { _ = try dialer.opener!.open(reflected) }
    }

    @Test func acceptorPicksTheDialersKeyFromItsRing() throws {
        // Rotation: the dialer already uses the new key B; the acceptor still has A as primary but knows B.
        var handshake = pair(dialerKeys: [Self.keyB, Self.keyA], acceptorKeys: [Self.keyA, Self.keyB])
        _ = try complete(&handshake)
    }

    @Test func unknownKeyIsRefusedAtTheHello() {
        var handshake = pair(dialerKeys: [Self.keyA], acceptorKeys: [Self.keyB])
        let hello = handshake.dialer.makeHello(streamID: 1)
        #expect(throws: HandshakeFailure.unknownKey) { _ = try handshake.acceptor.receiveHello(hello) }
        #expect(HandshakeFailure.unknownKey.reason == "bad_key")
    }

    @Test func wrongKeyWithAMatchingFingerprintFailsTheProof() throws {
        // An attacker who copies a fingerprint but not the key: the acceptor derives different keys.
        var handshake = pair(dialerKeys: [Self.keyB], acceptorKeys: [Self.keyA])
        var hello = try HelloMessage.decode(handshake.dialer.makeHello(streamID: 1))
        hello.fingerprint = MeshKey(Self.keyA).fingerprint
        _ = try handshake.acceptor.receiveHello(hello.encoded())
        let helloA = handshake.acceptor.makeHello(streamID: 2, resume: 0)
        _ = try handshake.dialer.receiveHello(helloA)
        let finish = try handshake.dialer.makeFinish(resume: 0)
        #expect(throws: HandshakeFailure.badProof) { try handshake.acceptor.receiveFinish(finish) }
        #expect(HandshakeFailure.badProof.reason == "bad_key")
    }

    @Test func tamperedHelloFailsTheProof() throws {
        var handshake = pair(dialerKeys: [Self.keyA], acceptorKeys: [Self.keyA])
        var hello = try HelloMessage.decode(handshake.dialer.makeHello(streamID: 1))
        // A man in the middle rewrites the stream ID he forwards: the transcripts no longer match.
        hello.streamID = 999
        _ = try handshake.acceptor.receiveHello(hello.encoded())
        let helloA = handshake.acceptor.makeHello(streamID: 2, resume: 0)
        _ = try handshake.dialer.receiveHello(helloA)
        let finish = try handshake.dialer.makeFinish(resume: 0)
        #expect(throws: HandshakeFailure.badProof) { try handshake.acceptor.receiveFinish(finish) }
    }

    @Test func encryptionMismatchIsRefused() {
        var handshake = pair(dialerKeys: [], acceptorKeys: [Self.keyA])
        let hello = handshake.dialer.makeHello(streamID: 1)
        #expect(throws: HandshakeFailure.encryptionMismatch(localEncrypted: true)) { _ = try handshake.acceptor.receiveHello(hello) }
    }

    @Test func wrongMagicAndVersionAreRefused() throws {
        var handshake = pair()
        var bytes = Array(handshake.dialer.makeHello(streamID: 1).readableBytesView)
        var wrongMagic = bytes
        wrongMagic[0] = UInt8(ascii: "X")
        #expect(throws: HandshakeFailure.badMagic) { _ = try handshake.acceptor.receiveHello(buffer(wrongMagic)) }
        for version in [HelloMessage.version - 1, HelloMessage.version + 1] {
            bytes[4] = version
            #expect(throws: HandshakeFailure.unsupportedVersion(version)) { _ = try handshake.acceptor.receiveHello(buffer(bytes)) }
        }
        #expect(throws: HandshakeFailure.badMagic) { _ = try handshake.acceptor.receiveHello(buffer(Array("GET / HTTP/1.1\r\n".utf8))) }
    }

    @Test func eitherIDMayDial() throws {
        // Connections are made on demand by whichever side needs one; only a crossed pair is settled, by
        // the shell (the smaller ID's connection is kept).
        var handshake = pair(dialer: "z", acceptor: "b")
        let hello = try handshake.acceptor.receiveHello(handshake.dialer.makeHello(streamID: 1))
        #expect(hello.nodeID == NodeID("z"))
    }

    @Test func selfConnectionIsRefused() {
        var handshake = pair(dialer: "b", acceptor: "b")
        let hello = handshake.dialer.makeHello(streamID: 1)
        #expect(throws: HandshakeFailure.selfConnection) { _ = try handshake.acceptor.receiveHello(hello) }
    }

    @Test func dialerRefusesAnUnexpectedAcceptor() throws {
        var wrongPeer = pair(dialer: "a", acceptor: "c", expected: "b")
        _ = try wrongPeer.acceptor.receiveHello(wrongPeer.dialer.makeHello(streamID: 1))
        let hello = wrongPeer.acceptor.makeHello(streamID: 2, resume: 0)
        #expect(throws: HandshakeFailure.wrongPeer(expected: NodeID("b"), actual: NodeID("c"))) {
            _ = try wrongPeer.dialer.receiveHello(hello)
        }
    }

    @Test func helloRoundTripsAndDecodingIsTotal() throws {
        let hello = HelloMessage(
            role: .acceptor, encrypted: true, nodeID: NodeID("node-ü"), incarnation: Incarnation(.max),
            nonce: Array(0..<32), fingerprint: Array(0..<8), streamID: 5, resume: 6
        )
        #expect(try HelloMessage.decode(hello.encoded()) == hello)
        let bytes = Array(hello.encoded().readableBytesView)
        for length in 0..<bytes.count {
            #expect(throws: HandshakeFailure.self) { _ = try HelloMessage.decode(buffer(Array(bytes.prefix(length)))) }
        }
        #expect(throws: HandshakeFailure.self) { _ = try HelloMessage.decode(buffer(bytes + [0])) }
        var generator = SplitMix64(seed: 5)
        for _ in 0..<5_000 {
            var mutated = bytes
            for _ in 0..<3 { mutated[Int(generator.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: generator.next()) }
            _ = try? HelloMessage.decode(buffer(mutated))
            _ = try? FinishMessage.decode(buffer(Array(mutated.prefix(Int(generator.next() % 50)))))
        }
    }

    @Test func finishOutOfOrderIsRefused() {
        var handshake = pair()
        #expect(throws: HandshakeFailure.self) { try handshake.acceptor.receiveFinish(buffer([UInt8](repeating: 0, count: 40))) }
        #expect(throws: HandshakeFailure.self) { _ = try handshake.dialer.makeFinish(resume: 0) }
    }

    @Test func fingerprintsDifferPerKeyAndHideIt() {
        let a = MeshKey(Self.keyA).fingerprint
        #expect(a.count == 8)
        #expect(a != MeshKey(Self.keyB).fingerprint)
        #expect(a != Array(Self.keyA.prefix(8)))
    }
}
