import CohortConfig
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import Raft
import Cohort

/// A `/v1` request that cannot be served: the status, one line saying what was wrong and a
/// machine-readable code (SPEC §11), rendered as `{"error": "...", "code": "...", ...details}`.
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    /// `BAD_REQUEST`, `NOT_FOUND`, `ALREADY_EXISTS`, `CONFLICT`, `NOT_HOLDER`, `NO_LEADER`, `NO_QUORUM`,
    /// `TIMEOUT`, `COMPACTED`, `TOO_LARGE`, `UNSUPPORTED`, `CLUSTER_DISABLED`, or for process groups
    /// `NOT_JOINED` and `TOO_MANY_GROUPS`.
    var code: String
    /// Who holds the lock or owns the name, the key's current entry, the oldest version a watch can start from.
    var details = ErrorDetails()

    init(status: HTTPResponse.Status, message: String, code: String? = nil, details: ErrorDetails = ErrorDetails()) {
        self.status = status
        self.message = message
        self.code = code ?? Self.defaultCode(status)
        self.details = details
    }

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, message: message) }
    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, message: message) }
    static func conflict(_ message: String) -> APIError { APIError(status: .conflict, message: message) }
    static let clusterDisabled = APIError(
        status: .conflict, message: "cluster disabled: set cluster.enabled: true to run Raft", code: "CLUSTER_DISABLED"
    )

    static func defaultCode(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "BAD_REQUEST"
        case 404: "NOT_FOUND"
        case 409: "CONFLICT"
        case 410: "COMPACTED"
        case 413: "TOO_LARGE"
        case 501: "UNSUPPORTED"
        case 504: "NO_QUORUM"
        default: "NO_LEADER"
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try AdminServer.jsonResponse(ErrorBody(error: message, code: code, details: details), status: status)
    }
}

/// What an error body carries besides `error` and `code`; absent fields are left out.
struct ErrorDetails: Encodable, Sendable {
    var holder: String?
    var owner: String?
    var current: KVEntryView?
    var oldest: UInt64?
    var maybeCommitted: Bool?
    /// The nodes that did not acknowledge a strong name in time.
    var missing: [String]?

    enum CodingKeys: String, CodingKey {
        case holder, owner, current, oldest, missing
        case maybeCommitted = "maybe_committed"
    }
}

private struct ErrorBody: Encodable {
    var error: String
    var code: String
    var details: ErrorDetails

    enum CodingKeys: String, CodingKey {
        case error, code
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(error, forKey: .error)
        try container.encode(code, forKey: .code)
        try details.encode(to: encoder)
    }
}

extension APIError {
    /// The one HTTP answer for every store, lock and name failure.
    init(_ error: CoordinationError) {
        switch error {
        case .badRequest: self.init(status: .badRequest, message: "\(error)", code: error.code)
        case .notFound: self.init(status: .notFound, message: "\(error)", code: error.code)
        case .alreadyExists(_, let by):
            self.init(status: .conflict, message: "\(error)", code: error.code, details: ErrorDetails(holder: by?.description, owner: by?.description))
        case .conflict(let key, let current):
            self.init(status: .conflict, message: "\(error)", code: error.code, details: ErrorDetails(current: current.map { KVEntryView(key: key, value: $0) }))
        case .notHolder(_, let holder):
            self.init(status: .conflict, message: "\(error)", code: error.code, details: ErrorDetails(holder: holder?.description))
        case .notOwner(_, let owner):
            self.init(status: .conflict, message: "\(error)", code: error.code, details: ErrorDetails(owner: owner.description))
        case .noLeader, .unavailable: self.init(status: .serviceUnavailable, message: "\(error)", code: error.code)
        case .noQuorum(_, let maybeCommitted):
            self.init(status: .gatewayTimeout, message: "\(error)", code: error.code, details: ErrorDetails(maybeCommitted: maybeCommitted))
        case .timeout: self.init(status: .conflict, message: "\(error)", code: error.code)
        case .notAcknowledged(_, let missing):
            self.init(status: .gatewayTimeout, message: "\(error)", code: error.code, details: ErrorDetails(missing: missing.map(\.rawValue)))
        case .compacted(let oldest): self.init(status: .gone, message: "\(error)", code: error.code, details: ErrorDetails(oldest: oldest))
        case .tooLarge: self.init(status: .contentTooLarge, message: "\(error)", code: error.code)
        case .unsupported: self.init(status: .notImplemented, message: "\(error)", code: error.code)
        }
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
