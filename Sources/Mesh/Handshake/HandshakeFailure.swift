import CohortCore

/// Why a handshake was refused; ``reason`` is the label of `internode_handshake_failures_total{reason}`.
enum HandshakeFailure: Error, Equatable, Sendable {
    /// The first bytes are not the mesh's magic: something else connected (or we dialled something else).
    case badMagic
    /// The peer speaks another protocol version.
    case unsupportedVersion(UInt8)
    /// One side has a cluster key and the other has none.
    case encryptionMismatch(localEncrypted: Bool)
    /// The dialer's key fingerprint matches no key of our keyring.
    case unknownKey
    /// The peer could not prove it holds the key (or the handshake was tampered with).
    case badProof
    /// A larger ID dialled us while we were dialling it: both dialled at once, and both keep the smaller
    /// ID's connection (ours).
    case crossedDial(peer: NodeID)
    /// We connected to ourselves.
    case selfConnection
    /// The node that answered is not the one we dialled.
    case wrongPeer(expected: NodeID, actual: NodeID)
    /// A hello or finish that does not parse.
    case malformed(String)
    /// The handshake did not finish within ``MeshSettings/handshakeTimeout``.
    case timeout
    /// The connection ended during the handshake.
    case closed

    /// Every reason label, for creating the counters at zero.
    static let reasons = [
        "bad_magic", "version", "encryption_mismatch", "bad_key", "crossed", "self", "wrong_peer",
        "malformed", "timeout", "closed",
    ]

    /// The metric label. An unknown fingerprint and a bad proof are both a wrong key to an operator.
    var reason: String {
        switch self {
        case .badMagic: "bad_magic"
        case .unsupportedVersion: "version"
        case .encryptionMismatch: "encryption_mismatch"
        case .unknownKey, .badProof: "bad_key"
        case .crossedDial: "crossed"
        case .selfConnection: "self"
        case .wrongPeer: "wrong_peer"
        case .malformed: "malformed"
        case .timeout: "timeout"
        case .closed: "closed"
        }
    }
}
