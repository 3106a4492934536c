import CohortCore

/// The payload of an error reply: a code byte, then a UTF-8 description.
enum RemoteFailure: Equatable, Sendable {
    /// The handler threw; its error's description.
    case handlerFailed(String)
    /// No request handler for the endpoint.
    case noHandler
    /// Too many requests in flight on the remote node.
    case overloaded

    /// Longest description sent; error texts are for logs, not for payloads.
    static let maxDescriptionBytes = 1024

    func encoded() -> [UInt8] {
        switch self {
        case .handlerFailed(let description): [0] + Array(description.utf8.prefix(Self.maxDescriptionBytes))
        case .noHandler: [1]
        case .overloaded: [2]
        }
    }

    /// Decodes an error reply. Total: an unknown code is reported as a handler failure naming it.
    static func decode(_ bytes: [UInt8]) -> RemoteFailure {
        switch bytes.first {
        case 0: .handlerFailed(String(decoding: bytes.dropFirst(), as: UTF8.self))
        case 1: .noHandler
        case 2: .overloaded
        case let code?: .handlerFailed("unknown remote error code \(code)")
        case nil: .handlerFailed("empty error reply")
        }
    }

    /// The error the requester sees.
    func error(peer: NodeID, endpoint: MeshEndpoint) -> MeshError {
        switch self {
        case .handlerFailed(let description): .remote(description)
        case .noHandler: .noHandler(endpoint)
        case .overloaded: .overloaded(peer)
        }
    }
}
