/// Why a connection's byte stream was refused after the handshake; each closes that connection only.
///
/// ``reason`` is the label of `internode_frame_errors_total{reason}`.
package enum FrameError: Error, Equatable, Sendable {
    /// A length prefix above the limit, refused before any of the body is buffered.
    case oversized(length: Int, limit: Int)
    /// The connection ended in the middle of a frame.
    case truncated
    /// A body too short for its header, or fields that contradict its kind.
    case malformed(String)
    /// A class byte that is not a ``TrafficClass``.
    case unknownClass(UInt8)
    /// A kind byte that is not a ``FrameKind``.
    case unknownKind(UInt8)
    /// A sealed frame that does not authenticate (wrong key, tampering, replay or reordering).
    case badTag
    /// The per-direction nonce counter would wrap; the connection must be re-keyed by reconnecting.
    case counterExhausted
    /// Chunks adding up to more than ``MeshSettings/maxMessageBytes``.
    case messageTooLarge(bytes: Int, limit: Int)

    /// Every reason label, for creating the counters at zero.
    package static let reasons = [
        "oversized", "truncated", "malformed", "unknown_class", "unknown_kind", "bad_tag", "counter_exhausted",
        "message_too_large", "io",
    ]

    /// The metric label.
    package var reason: String {
        switch self {
        case .oversized: "oversized"
        case .truncated: "truncated"
        case .malformed: "malformed"
        case .unknownClass: "unknown_class"
        case .unknownKind: "unknown_kind"
        case .badTag: "bad_tag"
        case .counterExhausted: "counter_exhausted"
        case .messageTooLarge: "message_too_large"
        }
    }
}
