import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A small client for a node's admin API.
struct AdminClient {
    /// A reply: status code and body.
    struct Reply {
        var status: Int
        var body: Data
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
        guard let url = URL(string: base.absoluteString.trimmingSuffix("/") + path) else {
            throw Failure(description: "\(path): not a valid path")
        }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = 30
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            return Reply(status: status, body: data)
        } catch {
            throw Failure(description: "cannot reach \(base.absoluteString): \(error.localizedDescription)")
        }
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

extension String {
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
