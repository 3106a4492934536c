import CohortConfig
import Foundation
import Hummingbird
import Raft

/// A `/v1` request that cannot be served: the status and one line saying what was wrong, rendered as
/// `{"error": "..."}`.
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, message: message) }
    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, message: message) }
    static func conflict(_ message: String) -> APIError { APIError(status: .conflict, message: message) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try AdminServer.jsonResponse(["error": message], status: status)
    }
}

extension APIError {
    /// The one HTTP answer for every Raft failure: 504 when the outcome is unknown (the write may still
    /// commit: the message says to read before retrying), 409 for a refusal, 503 for everything that says
    /// "nothing was written, try again shortly".
    init(_ error: RaftServiceError) {
        switch error {
        case .timeout, .outcomeUnknown, .forwardFailed(_, _, maybeCommitted: true):
            self.init(status: .gatewayTimeout, message: "\(error)")
        case .proposalRefused, .transferRefused:
            self.init(status: .conflict, message: "\(error)")
        default:
            self.init(status: .serviceUnavailable, message: "\(error)")
        }
    }
}

/// Decodes a JSON request body of at most ``ProcessRoutes/maximumBodyBytes``.
func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
    let bytes: ByteBuffer
    do {
        bytes = try await request.body.collect(upTo: ProcessRoutes.maximumBodyBytes)
    } catch {
        throw APIError(status: .contentTooLarge, message: "request body larger than \(ProcessRoutes.maximumBodyBytes) bytes")
    }
    return try decodeJSON(type, from: Data(buffer: bytes))
}

/// Decodes an optional JSON body: nil when the body is empty.
func decodeOptional<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T? {
    let bytes = try await request.body.collect(upTo: ProcessRoutes.maximumBodyBytes)
    guard bytes.readableBytes > 0 else { return nil }
    return try decodeJSON(type, from: Data(buffer: bytes))
}

/// Decodes JSON, turning decoding errors into one line that names the field.
func decodeJSON<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
    do {
        return try JSONDecoder().decode(type, from: data)
    } catch let DecodingError.keyNotFound(key, _) {
        throw APIError.badRequest("\(key.stringValue): required")
    } catch let DecodingError.typeMismatch(_, context) {
        throw APIError.badRequest("\(path(context)): wrong type (\(context.debugDescription))")
    } catch let DecodingError.valueNotFound(_, context) {
        throw APIError.badRequest("\(path(context)): must not be null")
    } catch {
        throw APIError.badRequest("body is not valid JSON for this endpoint")
    }
}

private func path(_ context: DecodingError.Context) -> String {
    let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    return path.isEmpty ? "body" : path
}

/// Parses `500ms`, `2s`, `1m30s`.
func parseDuration(_ text: some StringProtocol) -> Duration? {
    DurationParser.parse(String(text))
}
