import CohortCore
import Crypto
import NIOCore

/// The result of a finished handshake: who the peer is, where each reliable stream resumes, and the
/// ciphers of both directions (nil for plaintext).
struct EstablishedSession: Sendable {
    /// The peer's node ID.
    var peer: NodeID
    /// The peer's incarnation.
    var peerIncarnation: Incarnation
    /// The peer's relay stream towards us.
    var peerStreamID: UInt64
    /// The last sequence of *our* relay stream the peer has delivered: we resend after it.
    var resume: UInt64
    /// Seals what we send.
    var sealer: SessionCipher?
    /// Opens what we receive.
    var opener: SessionCipher?
}

/// The mesh handshake as a pure state machine: bytes in, bytes out, no I/O, randomness passed in.
///
/// ```
/// dialer                                   acceptor
///   makeHello ──── Hello(D) ─────────────▶ receiveHello
///   receiveHello ◀──────────── Hello(A) ── makeHello(resume for D's stream)
///   makeFinish(resume) ─ Finish(D) ──────▶ receiveFinish
///   receiveFinish ◀─────────── Finish(A) ─ makeFinish
/// ```
/// The acceptor answers instead of speaking first because its hello states the resume point of the
/// dialer's relay stream, which it can only look up once it knows who dialled. With a key, each finish
/// is the first frame sealed with its direction's session key and carries an HMAC over the transcript
/// (both hellos as sent, which include the nonces and resume points), proving the key and binding the
/// resume points.
struct MeshHandshake: Sendable {
    /// Frames either side receives during the handshake (a hello and a finish); every later frame
    /// belongs to the session (see ``SessionFrameHandler``).
    static let framesReceived = 2

    private enum Step: Equatable {
        case start, helloSent, helloReceived, bothHellos, finishSent, finishReceived, done
    }

    let role: HandshakeRole
    let localID: NodeID
    let localIncarnation: Incarnation
    /// The node the dialer means to reach.
    let expectedPeer: NodeID?
    private let keyring: MeshKeyring?
    private let nonce: [UInt8]
    private var step = Step.start
    private var chosenKey: MeshKey?
    private var localHello: ByteBuffer?
    private var remoteHelloBytes: ByteBuffer?
    private var remote: HelloMessage?
    private var keys: SessionKeys?
    private var transcript: [UInt8] = []
    private var sealer: SessionCipher?
    private var opener: SessionCipher?
    private var resumeForUs: UInt64 = 0
    private var finishSent = false
    private var finishReceived = false

    /// A handshake in `role`; `nonce` must be 32 fresh random bytes.
    init(
        role: HandshakeRole, localID: NodeID, localIncarnation: Incarnation, keyring: MeshKeyring?,
        nonce: [UInt8], expectedPeer: NodeID? = nil
    ) {
        precondition(nonce.count == HelloMessage.nonceBytes, "a handshake nonce is 32 bytes")
        self.role = role
        self.localID = localID
        self.localIncarnation = localIncarnation
        self.keyring = keyring
        self.nonce = nonce
        self.expectedPeer = expectedPeer
        chosenKey = role == .dialer ? keyring?.primary : nil
    }

    /// Our hello: `streamID` names our relay stream to the peer; the acceptor also states `resume`, the
    /// last sequence of the dialer's stream it delivered.
    mutating func makeHello(streamID: UInt64, resume: UInt64 = 0) -> ByteBuffer {
        precondition(role == .dialer ? step == .start : step == .helloReceived, "hello out of order")
        let hello = HelloMessage(
            role: role, encrypted: keyring != nil, nodeID: localID, incarnation: localIncarnation, nonce: nonce,
            fingerprint: chosenKey?.fingerprint ?? keyring?.primary.fingerprint ?? [UInt8](repeating: 0, count: HelloMessage.fingerprintBytes),
            streamID: streamID, resume: role == .acceptor ? resume : 0
        )
        let bytes = hello.encoded()
        localHello = bytes
        step = role == .dialer ? .helloSent : .bothHellos
        if step == .bothHellos { deriveKeys() }
        return bytes
    }

    /// Reads the peer's hello and checks who it is. The acceptor calls this first.
    mutating func receiveHello(_ frame: ByteBuffer) throws(HandshakeFailure) -> HelloMessage {
        guard role == .dialer ? step == .helloSent : step == .start else { throw .malformed("unexpected hello") }
        let hello = try HelloMessage.decode(frame)
        guard hello.role != role else { throw .malformed("both sides claim to be the \(role)") }
        guard hello.encrypted == (keyring != nil) else { throw .encryptionMismatch(localEncrypted: keyring != nil) }
        guard hello.nodeID != localID else { throw .selfConnection }
        switch role {
        case .acceptor:
            if let keyring {
                guard let key = keyring.key(fingerprint: hello.fingerprint) else { throw .unknownKey }
                chosenKey = key
            }
        case .dialer:
            if let expectedPeer, hello.nodeID != expectedPeer { throw .wrongPeer(expected: expectedPeer, actual: hello.nodeID) }
            resumeForUs = hello.resume
        }
        remote = hello
        remoteHelloBytes = frame
        step = role == .dialer ? .bothHellos : .helloReceived
        if step == .bothHellos { deriveKeys() }
        return hello
    }

    private mutating func deriveKeys() {
        guard let localHello, let remoteHelloBytes, let remote else { return }
        let (dialerHello, acceptorHello) = role == .dialer ? (localHello, remoteHelloBytes) : (remoteHelloBytes, localHello)
        var hash = SHA256()
        dialerHello.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
        acceptorHello.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
        transcript = Array(hash.finalize())
        guard let chosenKey else { return }
        let (dialerNonce, acceptorNonce) = role == .dialer ? (nonce, remote.nonce) : (remote.nonce, nonce)
        let (dialer, acceptor) = role == .dialer ? (localID, remote.nodeID) : (remote.nodeID, localID)
        let keys = SessionKeys.derive(
            clusterKey: chosenKey.key, dialerNonce: dialerNonce, acceptorNonce: acceptorNonce,
            dialer: dialer.rawValue, acceptor: acceptor.rawValue
        )
        self.keys = keys
        sealer = SessionCipher(key: role == .dialer ? keys.dialerToAcceptor : keys.acceptorToDialer)
        opener = SessionCipher(key: role == .dialer ? keys.acceptorToDialer : keys.dialerToAcceptor)
    }

    /// Our finish. The dialer states `resume` for the acceptor's stream; the acceptor's is in its hello.
    mutating func makeFinish(resume: UInt64 = 0) throws(HandshakeFailure) -> ByteBuffer {
        let ready = role == .dialer ? (step == .bothHellos) : (step == .finishReceived)
        guard ready, !finishSent else { throw .malformed("finish out of order") }
        let stated = role == .dialer ? resume : 0
        var finish = FinishMessage(proof: [], resume: stated)
        if let keys {
            let proofKey = role == .dialer ? keys.dialerProof : keys.acceptorProof
            finish.proof = SessionKeys.proof(key: proofKey, role: role, transcript: transcript, resume: stated)
        }
        finishSent = true
        step = role == .dialer ? .finishSent : .done
        guard var sealer else { return finish.encoded() }
        var sealed = ByteBuffer()
        do { try sealer.seal(finish.encoded(), into: &sealed) } catch { throw .badProof }
        self.sealer = sealer
        return sealed
    }

    /// Reads and verifies the peer's finish.
    mutating func receiveFinish(_ frame: ByteBuffer) throws(HandshakeFailure) {
        let ready = role == .dialer ? (step == .finishSent) : (step == .bothHellos)
        guard ready else { throw .malformed("unexpected finish") }
        var plaintext = frame
        if var opener {
            // A frame that does not open was sealed with another key: the peer does not hold ours.
            do { plaintext = try opener.open(frame) } catch { throw .badProof }
            self.opener = opener
        }
        let finish = try FinishMessage.decode(plaintext)
        if let keys {
            let peerRole: HandshakeRole = role == .dialer ? .acceptor : .dialer
            let proofKey = role == .dialer ? keys.acceptorProof : keys.dialerProof
            var message = [peerRole.rawValue] + transcript
            withUnsafeBytes(of: finish.resume.bigEndian) { message += $0 }
            guard HMAC<SHA256>.isValidAuthenticationCode(finish.proof, authenticating: message, using: proofKey) else {
                throw .badProof
            }
        }
        if role == .acceptor { resumeForUs = finish.resume }
        finishReceived = true
        step = role == .dialer ? .done : .finishReceived
    }

    /// The session, once both finishes have been exchanged; nil before.
    var established: EstablishedSession? {
        guard step == .done, let remote else { return nil }
        return EstablishedSession(
            peer: remote.nodeID, peerIncarnation: remote.incarnation, peerStreamID: remote.streamID,
            resume: resumeForUs, sealer: sealer, opener: opener
        )
    }
}
