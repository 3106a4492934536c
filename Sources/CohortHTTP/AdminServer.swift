import Cohort
import CohortConfig
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import HummingbirdCore
import Logging
import Observability
import ServiceLifecycle

/// The HTTP server on `admin.address`: `/livez`, `/readyz`, `/metrics` and the `/v1` JSON API.
///
/// While it is not yet listening, the readiness check `admin.listening` fails, so `READY=1` and
/// `/readyz` never claim a node whose admin endpoint cannot be reached.
public enum AdminServer {
    /// The readiness check that passes once the server accepts connections.
    public static let listeningCheck = "admin.listening"

    /// Builds the server for `node` bound to `host:port` as a `Service` for the node's `ServiceGroup`.
    public static func make(node: CohortNode, host: String, port: Int, logger: Logger) -> some Service {
        let listening = HealthFlag(.fail("not yet listening on \(host):\(port)"))
        node.health.register(listeningCheck, kind: .readiness) { listening.status }
        let router = makeRouter(node: node)
        return AdminHTTPServer(
            responder: router.buildResponder(),
            configuration: ServerConfiguration(address: .hostname(host, port: port), serverName: "cohortd"),
            onServerRunning: { channel in
                listening.set(.ok)
                logger.info("admin endpoint listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            },
            logger: logger
        )
    }

    /// The routes, separate from the listener so tests can drive them.
    public static func makeRouter(node: CohortNode) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: RequestCounter(metrics: node.metrics))
        router.get("livez") { _, _ in healthResponse(node.health.evaluate(.liveness)) }
        router.get("readyz") { _, _ in healthResponse(node.health.evaluate(.readiness)) }
        router.get("metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: node.metrics.render()))
            )
        }
        let v1 = router.group("v1")
        if let token = node.settings.admin.resolvedToken {
            v1.add(middleware: BearerTokenGuard(token: token, metrics: node.metrics))
        }
        v1.get("node") { _, _ in try jsonResponse(node.info) }
        v1.get("members") { _, _ in
            guard let gossip = node.gossip else {
                return try jsonResponse(
                    ["error": "cluster disabled: set cluster.enabled: true to run gossip membership"], status: .conflict)
            }
            let members = await gossip.members.sorted { $0.name < $1.name }
            return try jsonResponse(members.map(MemberView.init))
        }
        ProcessRoutes.add(to: v1, node: node)
        RaftRoutes.add(to: v1, node: node)
        CoordinationRoutes.add(to: v1, node: node)
        GroupRoutes.add(to: v1, node: node)
        SnapshotRoutes.add(to: v1, node: node)
        return router
    }

    static func healthResponse(_ report: HealthReport) -> Response {
        Response(
            status: report.isPassing ? .ok : .serviceUnavailable,
            headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: report.render()))
        )
    }

    static func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = try encoder.encode(value)
        data.append(UInt8(ascii: "\n"))
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
