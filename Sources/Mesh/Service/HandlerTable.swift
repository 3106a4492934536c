import Synchronization

/// The registered message and request handlers, by endpoint.
final class HandlerTable: Sendable {
    typealias MessageHandler = @Sendable (MeshInbound) -> Void
    typealias RequestHandler = @Sendable (MeshInbound) async throws -> [UInt8]

    private let messages = Mutex<[MeshEndpoint: MessageHandler]>([:])
    private let requests = Mutex<[MeshEndpoint: RequestHandler]>([:])

    init() {}

    func setMessageHandler(_ handler: @escaping MessageHandler, for endpoint: MeshEndpoint) {
        messages.withLock { $0[endpoint] = handler }
    }

    func setRequestHandler(_ handler: @escaping RequestHandler, for endpoint: MeshEndpoint) {
        requests.withLock { $0[endpoint] = handler }
    }

    func messageHandler(for endpoint: MeshEndpoint) -> MessageHandler? {
        messages.withLock { $0[endpoint] }
    }

    func requestHandler(for endpoint: MeshEndpoint) -> RequestHandler? {
        requests.withLock { $0[endpoint] }
    }
}
