import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A small client for a node's admin API.
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

    func get(_ path: String) async throws -> Reply {
        try await send("GET", path)
    }

    /// One call: `method` on `path` (which may carry a query), with an optional JSON body.
    func send(_ method: String, _ path: String, json body: Data? = nil) async throws -> Reply {
        let request = try self.request(method, path, json: body, timeout: 30)
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data, headers: Self.headers(response))
        } catch {
            throw unreachable(error)
        }
    }

    /// The request for `method` on `path`, with the token and an optional JSON body.
    func request(_ method: String, _ path: String, json body: Data? = nil, timeout: TimeInterval) throws -> URLRequest {
        guard let url = URL(string: base.absoluteString.trimmingSuffix("/") + path) else {
            throw Failure(description: "\(path): not a valid path")
        }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = timeout
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        return request
    }

    /// The one line saying why the node could not be reached, and what to check.
    func unreachable(_ error: any Error) -> Failure {
        let reason: String
        switch (error as? URLError)?.code {
        case .cannotConnectToHost?: reason = "connection refused (is cohortd running there? pass --admin or set COHORT_ADMIN_URL)"
        case .timedOut?: reason = "no answer in time"
        case .cannotFindHost?, .dnsLookupFailed?: reason = "unknown host"
        case .networkConnectionLost?: reason = "the connection was closed before the reply"
        default: reason = error.localizedDescription
        }
        return Failure(description: "cannot reach \(base.absoluteString): \(reason)")
    }

    /// A reply's headers, names lowercased.
    static func headers(_ response: URLResponse?) -> [String: String] {
        guard let http = response as? HTTPURLResponse else { return [:] }
        var headers: [String: String] = [:]
        for case (let name as String, let value as String) in http.allHeaderFields { headers[name.lowercased()] = value }
        return headers
    }

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
