import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small client for a node's admin API, over AsyncHTTPClient.
struct AdminClient {
    /// A reply: status code, headers (names lowercased) and body.
    struct Reply {
        var status: Int
        var body: Data
        var headers: [String: String] = [:]

        /// The header `name` (any case).
        func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    /// Why a call failed, phrased for an operator.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let base: URL
    let token: String?

    /// The largest reply body the CLI reads (a node's replies are far smaller; a snapshot may be large).
    static let maxBody = 1 << 30

    func get(_ path: String) async throws -> Reply {
        try await send("GET", path)
    }

    /// One call: `method` on `path` (which may carry a query), with an optional JSON body.
    func send(_ method: String, _ path: String, json body: Data? = nil) async throws -> Reply {
        let request = try self.request(method, path, json: body)
        do {
            let response = try await Self.http.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: Self.maxBody)
            return Reply(status: Int(response.status.code), body: Data(bytes.readableBytesView), headers: Self.headers(response))
        } catch {
            throw unreachable(error)
        }
    }

    /// The request for `method` on `path`, with the token and an optional JSON body.
    func request(_ method: String, _ path: String, json body: Data? = nil) throws -> HTTPClientRequest {
        let url = base.absoluteString.trimmingSuffix("/") + path
        guard URL(string: url) != nil else {
            throw Failure(description: "\(path): not a valid path")
        }
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        return request
    }

    /// The one line saying why the node could not be reached, and what to check.
    func unreachable(_ error: any Error) -> Failure {
        Failure(description: "cannot reach \(base.absoluteString): \(Self.reason(error))")
    }

    /// Why a call failed, in words: a refused connection, a timeout, an unknown host, a broken connection.
    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as HTTPClientError:
            if [.connectTimeout, .deadlineExceeded, .readTimeout, .writeTimeout].contains(error) { return "no answer in time" }
            if error == .remoteConnectionClosed { return "the connection was closed before the reply" }
            if error == .bodyLengthMismatch { return "the reply was cut short" }
            return "\(error)"
        case let error as NIOConnectionError:
            if error.connectionErrors.contains(where: { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }) { return refused }
            if error.connectionErrors.isEmpty, error.dnsAError != nil || error.dnsAAAAError != nil { return "unknown host" }
            return error.connectionErrors.first.map { "\($0.error)" } ?? "\(error)"
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            return refused
        case let error as IOError where error.errnoCode == ECONNRESET:
            return "the connection was closed before the reply"
        default:
            if "\(error)".contains("NXDOMAIN") || "\(error)".contains("lookup") { return "unknown host" }
            return "\(error)"
        }
    }

    static let refused = "connection refused (is cohortd running there? pass --admin or set COHORT_ADMIN_URL)"

    /// A reply's headers, names lowercased.
    static func headers(_ response: HTTPClientResponse) -> [String: String] {
        var headers: [String: String] = [:]
        for (name, value) in response.headers { headers[name.lowercased()] = value }
        return headers
    }

    /// The CLI's one HTTP client: a refused connection fails at once (no retrying until the deadline), and
    /// a connection must open within 5 s. Never shut down: the process exits with it.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    func json<T: Decodable>(_ type: T.Type, path: String) async throws -> T {
        let reply = try await get(path)
        if reply.status == 401 {
            throw Failure(description: "\(path): unauthorized; pass --token or set COHORT_ADMIN_TOKEN")
        }
        guard reply.status == 200 else {
            throw Failure(description: "\(path): HTTP \(reply.status): \(String(decoding: reply.body, as: UTF8.self))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: reply.body)
        } catch {
            throw Failure(description: "\(path): unexpected reply: \(error)")
        }
    }
}

/// `?a=b&c=d` from the items that have a value, each value percent-encoded; "" when none has.
func query(_ items: KeyValuePairs<String, String?>) -> String {
    let pairs = items.compactMap { name, value in value.map { "\(name)=\($0.queryValueEncoded)" } }
    return pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&")
}

/// `/v1/<collection>/<name>`, the name percent-encoded as a path (its slashes kept).
func resourcePath(_ collection: String, _ name: String) -> String {
    "/v1/\(collection)/" + (name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name)
}

extension String {
    /// Percent-encoded for a query value: also `&`, `=`, `+`, `#` and `?`.
    var queryValueEncoded: String {
        addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+#?"))) ?? self
    }

    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

/// Prints rows as left-aligned columns, the first row being the header.
func printTable(_ rows: [[String]]) {
    let columns = rows.map(\.count).max() ?? 0
    let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
    for row in rows {
        let cells = row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }
        print(cells.joined(separator: "  "))
    }
}
