import Hummingbird
import Observability

/// Counts admin requests by endpoint in `cohort_admin_requests_total{endpoint}`.
struct RequestCounter<Context: RequestContext>: RouterMiddleware {
    let metrics: CohortMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let endpoint: String
        switch path {
        case "/livez": endpoint = "livez"
        case "/readyz": endpoint = "readyz"
        case "/metrics": endpoint = "metrics"
        default: endpoint = path.hasPrefix("/v1/") ? "v1" : "other"
        }
        metrics.countAdminRequest(endpoint)
        return try await next(request, context)
    }
}

/// Requires `Authorization: Bearer <admin token>` on every `/v1` request; answers 401 otherwise.
struct BearerTokenGuard<Context: RequestContext>: RouterMiddleware {
    let token: String
    let metrics: CohortMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let presented = request.headers[.authorization].flatMap { header -> Substring? in
            header.hasPrefix("Bearer ") ? header.dropFirst("Bearer ".count) : nil
        }
        guard let presented, constantTimeEqual(Array(presented.utf8), Array(token.utf8)) else {
            metrics.countUnauthorized()
            return try AdminServer.jsonResponse(
                ["error": "unauthorized: this endpoint needs 'Authorization: Bearer <admin.token>'"],
                status: .unauthorized
            )
        }
        return try await next(request, context)
    }
}

/// Compares two byte strings in time that depends only on their lengths.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}
