import Crypto

/// One cluster key and its public fingerprint.
struct MeshKey: Sendable {
    /// The secret.
    let key: SymmetricKey
    /// Names the key on the wire without revealing it: the first 8 bytes of
    /// HMAC-SHA256(key, "cohort-mesh key fingerprint").
    let fingerprint: [UInt8]

    init(_ bytes: [UInt8]) {
        key = SymmetricKey(data: bytes)
        let mac = HMAC<SHA256>.authenticationCode(for: Array("cohort-mesh key fingerprint".utf8), using: key)
        fingerprint = Array(Array(mac).prefix(HelloMessage.fingerprintBytes))
    }
}

/// The cluster keys, primary first. The dialer uses its primary; the acceptor picks whichever of its keys
/// has the dialer's fingerprint. That is key rotation: add the new key everywhere, make it primary
/// everywhere, remove the old one.
struct MeshKeyring: Sendable {
    let keys: [MeshKey]

    /// A keyring of `keys` (16, 24 or 32 bytes each, checked by ``MeshSettings/validate()``); nil when
    /// empty (plaintext).
    init?(_ keys: [[UInt8]]) {
        guard !keys.isEmpty else { return nil }
        self.keys = keys.map(MeshKey.init)
    }

    /// The key we dial with.
    var primary: MeshKey { keys[0] }

    /// The key named by `fingerprint`, if we have it.
    func key(fingerprint: [UInt8]) -> MeshKey? {
        keys.first { $0.fingerprint == fingerprint }
    }
}

/// The keys of one connection, derived from the cluster key and both hellos.
struct SessionKeys: Sendable {
    /// Seals frames from the dialer to the acceptor.
    var dialerToAcceptor: SymmetricKey
    /// Seals frames from the acceptor to the dialer.
    var acceptorToDialer: SymmetricKey
    /// The dialer's proof key.
    var dialerProof: SymmetricKey
    /// The acceptor's proof key.
    var acceptorProof: SymmetricKey

    /// HKDF-SHA256 over the cluster key, salted by both nonces (so every connection has fresh keys even
    /// with a fixed cluster key), with info binding the protocol version and both node IDs in their roles
    /// (so a session cannot be replayed between other nodes or with the roles swapped). One key per
    /// direction: the counter nonces of the two directions never meet.
    static func derive(
        clusterKey: SymmetricKey, dialerNonce: [UInt8], acceptorNonce: [UInt8], dialer: String, acceptor: String
    ) -> SessionKeys {
        var info = Array("cohort-mesh session".utf8)
        info.append(HelloMessage.version)
        for name in [dialer, acceptor] {
            let bytes = Array(name.utf8)
            info.append(UInt8(truncatingIfNeeded: bytes.count))
            info += bytes
        }
        let material = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: clusterKey, salt: dialerNonce + acceptorNonce, info: info, outputByteCount: 128
        )
        let bytes = material.withUnsafeBytes { Array($0) }
        func key(_ index: Int) -> SymmetricKey { SymmetricKey(data: bytes[(index * 32)..<(index * 32 + 32)]) }
        return SessionKeys(dialerToAcceptor: key(0), acceptorToDialer: key(1), dialerProof: key(2), acceptorProof: key(3))
    }

    /// The proof a side sends: HMAC-SHA256 with its proof key over its role, the transcript hash (both
    /// hellos as sent) and the resume point it states.
    static func proof(key: SymmetricKey, role: HandshakeRole, transcript: [UInt8], resume: UInt64) -> [UInt8] {
        var message = [role.rawValue] + transcript
        withUnsafeBytes(of: resume.bigEndian) { message += $0 }
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }
}
