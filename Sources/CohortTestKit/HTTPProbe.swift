import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A status code and body from an HTTP GET.
public struct HTTPReply: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// The body as UTF-8 text.
    public var body: String
    /// The `Content-Type` header.
    public var contentType: String?
}

/// Sends `GET url` with optional extra headers; throws when the server cannot be reached.
public func httpGet(_ url: String, headers: [String: String] = [:]) async throws -> HTTPReply {
    try await httpRequest("GET", url, headers: headers, timeout: 5)
}

/// A loopback address no other test in this process uses: `127.<pid-derived>.<counter>`.
public func uniqueLoopbackAddress() -> String {
    let n = loopbackCounter.add(1)
    let pidPart = Int(getpid()) % 200 + 20
    return "127.\(pidPart).\(n / 250).\(n % 250 + 2)"
}

import Synchronization
private let loopbackCounter = LoopbackCounter()
private final class LoopbackCounter: Sendable {
    private let value = Mutex(0)
    func add(_ delta: Int) -> Int { value.withLock { $0 += delta; return $0 } }
}

/// Sends `method url` with a body (JSON by default); throws when the server cannot be reached.
public func httpRequest(
    _ method: String, _ url: String, body: String? = nil, headers: [String: String] = [:], timeout: TimeInterval = 10
) async throws -> HTTPReply {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.timeoutInterval = timeout
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = response as? HTTPURLResponse
    return HTTPReply(
        status: http?.statusCode ?? 0,
        body: String(decoding: data, as: UTF8.self),
        contentType: http?.value(forHTTPHeaderField: "Content-Type")
    )
}
