import Cohort
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPTypes
import Hummingbird

/// `GET /v1/snapshot?timeout=`: a consistent snapshot of the coordination state, for `cohort snapshot save`
/// and `cohortd restore`.
///
/// The node first takes a linearizable read point (as a linearizable read does), then serves its replica's
/// state as one ``SnapshotArchive`` (`application/octet-stream`, sent in 1 MiB pieces) with the headers
/// `Cohort-Snapshot-Index`, `Cohort-Snapshot-Term` and `Cohort-Snapshot-Keys`. Errors: 400 `BAD_REQUEST`
/// (a bad timeout), 501 `UNSUPPORTED` on a node without a replica (a client node: ask a Raft member), 503
/// `NO_LEADER` / 504 `NO_QUORUM` / `TIMEOUT` when no read point can be confirmed.
enum SnapshotRoutes {
    static let pieceBytes = 1 << 20

    static func add(to v1: RouterGroup<BasicRequestContext>, node: CohortNode) {
        v1.get("snapshot") { request, _ in
            var timeout: Duration?
            if let text = request.uri.queryParameters.get("timeout") {
                guard let parsed = parseDuration(text), parsed > .zero, parsed <= .seconds(60) else {
                    throw APIError.badRequest("timeout: \"\(text)\" is not a duration up to 60s")
                }
                timeout = parsed
            }
            let archive = try await CoordinationRoutes.call { () async throws(CoordinationError) in
                try await node.snapshotArchive(timeout: timeout)
            }
            // Copying and checksumming a large state (about 100 MB for a million keys) is kept off the
            // connection's event loop, where routes run (`OnChannelLoop`).
            let bytes = await Task.detached { archive.encoded() }.value
            var headers: HTTPFields = [.contentType: "application/octet-stream"]
            headers[HTTPField.Name("Cohort-Snapshot-Index")!] = String(archive.index)
            headers[HTTPField.Name("Cohort-Snapshot-Term")!] = String(archive.term)
            headers[HTTPField.Name("Cohort-Snapshot-Keys")!] = String(archive.keys)
            let body = ResponseBody(contentLength: bytes.count) { (writer: inout any ResponseBodyWriter) in
                var offset = 0
                while offset < bytes.count {
                    let end = min(offset + pieceBytes, bytes.count)
                    try await writer.write(ByteBuffer(bytes: bytes[offset..<end]))
                    offset = end
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: headers, body: body)
        }
    }
}
