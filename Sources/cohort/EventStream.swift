import AsyncHTTPClient
import Foundation

/// One Server-Sent Event: its `event:` name (`message` when absent) and its `data:` lines joined.
struct ServerSentEvent: Equatable {
    var name: String
    var data: String
}

/// Splits a Server-Sent-Events body into events as its bytes arrive; comments are skipped.
struct ServerSentEventParser {
    private var buffer: [UInt8] = []
    private var name: String?
    private var data: [String] = []

    /// Takes the next bytes and returns the events they complete.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        buffer.append(contentsOf: bytes)
        var events: [ServerSentEvent] = []
        while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            var line = buffer[..<newline]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            let text = String(decoding: line, as: UTF8.self)
            buffer.removeSubrange(...newline)
            if let event = take(text) { events.append(event) }
        }
        return events
    }

    private mutating func take(_ line: String) -> ServerSentEvent? {
        if line.isEmpty {
            defer { (name, data) = (nil, []) }
            guard name != nil || !data.isEmpty else { return nil }
            return ServerSentEvent(name: name ?? "message", data: data.joined(separator: "\n"))
        }
        if line.hasPrefix(":") { return nil }
        let field = line.prefix { $0 != ":" }
        var value = line.dropFirst(field.count).dropFirst()
        if value.hasPrefix(" ") { value = value.dropFirst() }
        switch field {
        case "event": name = String(value)
        case "data": data.append(String(value))
        default: break
        }
        return nil
    }
}

/// A streamed reply: the head first, then the body's bytes as they arrive.
enum StreamPart: Sendable {
    case head(status: Int)
    case body(Data)
}

extension AdminClient {
    /// `GET path`, its reply streamed as it arrives: the head, then the body's bytes. Ends when the server
    /// closes the reply; throws when the node cannot be reached or the connection breaks.
    func stream(_ path: String) throws -> AsyncThrowingStream<StreamPart, any Error> {
        var request = try request("GET", path)
        request.headers.add(name: "Accept", value: "text/event-stream")
        let (parts, continuation) = AsyncThrowingStream.makeStream(of: StreamPart.self)
        let task = Task {
            do {
                // A watch may stay quiet for a long time: no deadline worth the name.
                let response = try await Self.http.execute(request, timeout: .hours(24 * 365))
                continuation.yield(.head(status: Int(response.status.code)))
                for try await buffer in response.body {
                    continuation.yield(.body(Data(buffer.readableBytesView)))
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return parts
    }
}

extension AdminClient {
    /// Follows the Server-Sent Events at `path`, handing each to `handle` (which prints it and says whether
    /// it counts toward `count`). Returns once `count` events counted; a stream the node refuses prints its
    /// error (the body too with `json`) and exits 1 (3 when unauthorized or unreachable); a stream that
    /// breaks or ends exits 1 with `broke` or `ended` (what to say, e.g. where to resume).
    func follow(
        _ path: String, json: Bool, count: Int?, broke: (String) -> String, ended: () -> String,
        _ handle: (ServerSentEvent) -> Bool
    ) async {
        var parser = ServerSentEventParser()
        var status: Int?
        var errorBody = Data()
        var counted = 0
        do {
            for try await part in try stream(path) {
                switch part {
                case .head(let code):
                    status = code
                case .body(let data) where status == 200:
                    for event in parser.feed(data) where handle(event) {
                        counted += 1
                        if let count, counted >= count { return }
                    }
                case .body(let data):
                    errorBody.append(data)
                }
            }
        } catch let error as AdminClient.Failure {
            fail("\(error)", exitCode: 3)
        } catch {
            guard status != nil else { fail("\(unreachable(error))", exitCode: 3) }
            fail(broke(Self.reason(error)), exitCode: 1)
        }
        guard let status, status == 200 else {
            let reply = AdminClient.Reply(status: status ?? 0, body: errorBody)
            if json { printBody(reply) }
            fail(failureLine(reply, path: path), exitCode: status == 401 ? 3 : 1)
        }
        fail(ended(), exitCode: 1)
    }
}
