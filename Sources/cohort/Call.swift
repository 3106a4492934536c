import ArgumentParser
import Foundation

/// Makes one call and turns every failure into the CLI's exit codes: 3 unreachable or unauthorized,
/// 1 any other HTTP error. The error goes to standard error as `error: <CODE>: <message>`; with `--json`
/// the server's error body is also printed, as is, to standard output.
func call(_ options: AdminOptions, _ method: String, _ path: String, json body: Data? = nil, accepting: Set<Int> = [200]) async throws -> AdminClient.Reply {
    let client = try options.client()
    let reply: AdminClient.Reply
    do {
        reply = try await client.send(method, path, json: body)
    } catch {
        fail("\(error)", exitCode: 3)
    }
    guard accepting.contains(reply.status) else {
        if options.json { printBody(reply) }
        fail(failureLine(reply, path: path), exitCode: reply.status == 401 ? 3 : 1)
    }
    return reply
}

/// Writes `error: <message>` to standard error and exits with `exitCode`.
func fail(_ message: String, exitCode: Int32) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    CohortCLI.exit(withError: ExitCode(exitCode))
}

/// Prints a reply's body as the server sent it, ending with one newline; at once, so it comes before
/// an error line on standard error.
func printBody(_ reply: AdminClient.Reply) {
    guard !reply.body.isEmpty else { return }
    FileHandle.standardOutput.write(reply.body.last == UInt8(ascii: "\n") ? reply.body : reply.body + Data("\n".utf8))
}

/// What a failed reply says: `<CODE>: <error>` from a `/v1` error body, else the status and body, on
/// one line.
func failureLine(_ reply: AdminClient.Reply, path: String) -> String {
    let body = try? JSONDecoder().decode(ErrorBody.self, from: reply.body)
    var line: String
    switch (body?.error, body?.code) {
    case (let error?, let code?): line = "\(code): \(error)"
    case (let error?, nil): line = "HTTP \(reply.status): \(error)"
    default:
        let text = String(decoding: reply.body, as: UTF8.self).split(whereSeparator: \.isNewline).joined(separator: " ")
        line = "HTTP \(reply.status): \(path)" + (text.isEmpty ? "" : ": \(text)")
    }
    if reply.status == 401 { line += "; pass --token or set COHORT_ADMIN_TOKEN" }
    return line
}

/// A `/v1` error body: `{"error", "code", ...}`.
struct ErrorBody: Decodable {
    var error: String
    var code: String?
}

/// Decodes a reply's body, or exits 1 saying the reply was not what this CLI expects.
func decodeReply<T: Decodable>(_ type: T.Type, _ reply: AdminClient.Reply, path: String) -> T {
    do {
        return try JSONDecoder().decode(T.self, from: reply.body)
    } catch {
        fail("\(path): unexpected reply (\(error)): \(String(decoding: reply.body, as: UTF8.self))", exitCode: 1)
    }
}

/// A time in ms since the Unix epoch, as ISO 8601 in UTC.
func timestamp(milliseconds: UInt64) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
}

/// A duration as the node reads it: bare seconds (`5`, `1.5`) get their unit, anything else (`500ms`,
/// `10s`, `2m`) passes as is for the node to judge.
func durationText(_ text: String) -> String {
    !text.isEmpty && text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) ? text + "s" : text
}

/// Opens a session (`POST /v1/sessions`) that lives `ttl` unless read, and returns its PID: a holder for a
/// lock or a name from the command line, released when the session ends.
func openSession(_ options: AdminOptions, ttl: String) async throws -> String {
    struct Opened: Decodable { var pid: String }
    let body = try JSONEncoder().encode(["ttl": durationText(ttl)])
    let reply = try await call(options, "POST", "/v1/sessions", json: body, accepting: [201])
    return decodeReply(Opened.self, reply, path: "/v1/sessions").pid
}
