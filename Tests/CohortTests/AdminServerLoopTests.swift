@testable import CohortHTTP
import CohortTestKit
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing

/// The admin server runs each connection's requests on the connection's own event loop (`OnChannelLoop`),
/// not on Swift's global pool: a request costs no thread switch of its own.
@Suite("Admin server: requests on the connection's event loop")
struct AdminServerLoopTests {
    @Test("a route runs on an event loop thread, before and after it awaits")
    func routeRunsOnTheChannelLoop() async throws {
        let router = Router()
        router.get("where") { _, _ -> String in
            let before = MultiThreadedEventLoopGroup.currentEventLoop != nil
            await Task.yield()  // suspends; the task resumes on its executor
            let after = MultiThreadedEventLoopGroup.currentEventLoop != nil
            return "\(before ? "loop" : "pool") \(after ? "loop" : "pool")"
        }
        let host = uniqueLoopbackAddress()
        let port = Mutex<Int?>(nil)
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let server = AdminHTTPServer(
            responder: router.buildResponder(),
            configuration: ServerConfiguration(address: .hostname(host, port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
            logger: quiet
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            defer { group.cancelAll() }
            // Generous limits: a full parallel run keeps both cores busy (a 5 s request timed out once).
            try await waitUntil(within: .seconds(60), "the server to listen") { port.withLock { $0 } != nil }
            let url = "http://\(host):\(port.withLock { $0 }!)/where"
            for _ in 0..<3 {  // one connection per request (`httpRequest` sends `Connection: close`), each handled on its loop
                let reply = try await httpRequest("GET", url, timeout: 60)
                #expect(reply.status == 200)
                #expect(reply.body == "loop loop")
            }
        }
    }
}
