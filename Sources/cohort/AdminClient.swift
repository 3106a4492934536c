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
        var request = URLRequest(url: base.appendingPathComponent(path))
        request.timeoutInterval = 5
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
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
