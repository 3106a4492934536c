/// One message that travels over a TCP stream (push/pull, the fallback ping and its ack, large user
/// messages, and the error reply).
public enum StreamMessage: Hashable, Sendable {
    /// A full-state exchange.
    case pushPull(PushPullMessage)
    /// A TCP fallback probe.
    case ping(PingMessage)
    /// The answer to a TCP probe.
    case ackResponse(AckResponseMessage)
    /// A user message too large for a datagram.
    case user([UInt8])
    /// The remote side could not handle what we sent.
    case error(ErrorResponseMessage)

    /// The type byte this message travels under.
    public var messageType: MessageType {
        switch self {
        case .pushPull: .pushPull
        case .ping: .ping
        case .ackResponse: .ackResponse
        case .user: .user
        case .error: .error
        }
    }
}
