import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

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

/// Sends `method url` with a body (JSON by default); throws when the server cannot be reached or `timeout`
/// (the whole exchange, body included) passes first.
///
/// Through AsyncHTTPClient on NIO, a fresh connection per request (`Connection: close`): nothing pooled ties
/// one test's requests to another's daemon, which may be killed and replaced at the same address. (It was
/// Foundation's `URLSession`, whose Linux implementation shares one libcurl multi-handle per process: in two
/// full parallel runs every test that probed a daemon gave up at once, daemons listening the whole time.)
public func httpRequest(
    _ method: String, _ url: String, body: String? = nil, headers: [String: String] = [:], timeout: TimeInterval = 10
) async throws -> HTTPReply {
    var request = HTTPClientRequest(url: url)
    request.method = HTTPMethod(rawValue: method)
    request.headers.add(name: "Connection", value: "close")
    if let body {
        request.body = .bytes(ByteBuffer(string: body))
        request.headers.add(name: "Content-Type", value: "application/json")
    }
    for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
    let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
    let bytes = try await response.body.collect(upTo: 256 << 20)
    return HTTPReply(
        status: Int(response.status.code),
        body: String(buffer: bytes),
        contentType: response.headers.first(name: "Content-Type")
    )
}
