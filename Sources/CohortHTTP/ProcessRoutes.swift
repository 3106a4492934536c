import Cohort
import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import Processes

/// `/v1/sessions` and `/v1/send`: external clients as processes (SPEC section 11).
///
/// - `POST /v1/sessions` `{"ttl": "30s"}` → 201 `{"pid": "...", "ttl_ms": 30000}`
/// - `GET /v1/sessions/{pid}/events`: the inbox as Server-Sent Events (one `event:` per process event, a
///   comment line every 5 s); the session ends when the stream closes. With `?wait=2s` (or
///   `Accept: application/json`) it answers once with a JSON array of the events waiting, waiting up to
///   `wait` for the first.
/// - `DELETE /v1/sessions/{pid}` (optional `?reason=...` to end it failed) → 204
/// - `POST /v1/sessions/{pid}/monitor`, `.../demonitor`, `.../link`, `.../unlink` `{"target": "<pid or name>", "scope"?}`
/// - `POST /v1/sessions/{pid}/register` `{"name": "..."}`: a local name (released when the session ends)
/// - `POST /v1/send` `{"to": "<pid or name>", "from": "<session pid>", "topic": "...", "payload": "text"}`
///   (or `payload_b64`), or an array of those, sent in order → 202 `{"sent": n}`
enum ProcessRoutes {
    /// Largest request body accepted.
    static let maximumBodyBytes = 8 << 20

    static func add(to v1: RouterGroup<BasicRequestContext>, node: CohortNode) {
        v1.post("sessions") { request, _ in
            let body = try await decodeOptional(OpenSessionRequest.self, from: request)
            var ttl = SessionRegistry.defaultTimeToLive
            if let text = body?.ttl {
                guard let parsed = parseDuration(text), parsed > .zero else {
                    throw APIError.badRequest("ttl: \"\(text)\" is not a duration; use e.g. \"30s\" or \"2m\"")
                }
                ttl = parsed
            }
            let session = try node.sessions.open(timeToLive: ttl)
            let pid = session.pid!
            let millis = session.timeToLive.components.seconds * 1000 + session.timeToLive.components.attoseconds / 1_000_000_000_000_000
            return try AdminServer.jsonResponse(OpenSessionReply(pid: pid.description, ttlMilliseconds: millis), status: .created)
        }
        v1.get("sessions/:pid/events") { request, context in
            let session = try session(context, node)
            let wantsJSON = request.headers[.accept]?.contains("application/json") ?? false
            if let wait = request.uri.queryParameters.get("wait") ?? (wantsJSON ? "0s" : nil) {
                guard let duration = parseDuration(wait), duration <= .seconds(60) else {
                    throw APIError.badRequest("wait: \"\(wait)\" is not a duration up to 60s")
                }
                let events = await session.take(waitingUpTo: duration)
                return try AdminServer.jsonResponse(events.map(EventView.init))
            }
            return eventStream(session, registry: node.sessions)
        }
        v1.delete("sessions/:pid") { request, context in
            let session = try session(context, node)
            node.sessions.close(session, failure: request.uri.queryParameters.get("reason").map { String($0) })
            return Response(status: .noContent)
        }
        for action in ["monitor", "demonitor", "link", "unlink"] {
            v1.post("sessions/:pid/\(action)") { request, context in
                let session = try session(context, node)
                let body = try await decode(TargetRequest.self, from: request)
                guard !body.target.isEmpty else { throw APIError.badRequest("target: required (a PID or a name)") }
                let target = try await target(body.target, scope: body.scope, field: "target", node: node)
                let pid = session.pid!
                switch action {
                case "monitor": session.addMonitor(node.processes.monitor(target, by: pid), on: target)
                case "demonitor": for reference in session.removeMonitors(on: target) { node.processes.demonitor(reference) }
                case "link": node.processes.link(pid, target)
                default: node.processes.unlink(pid, target)
                }
                return Response(status: .noContent)
            }
        }
        v1.post("sessions/:pid/register") { request, context in
            let session = try session(context, node)
            let body = try await decode(RegisterRequest.self, from: request)
            guard !body.name.isEmpty, body.name.utf8.count <= 255 else {
                throw APIError.badRequest("name: must be 1 to 255 bytes")
            }
            do {
                try node.processes.register(body.name, session.pid!)
            } catch {
                throw APIError.conflict("name \"\(body.name)\": \(error)")
            }
            return Response(status: .noContent)
        }
        v1.post("send") { request, _ in
            let bytes = try await request.body.collect(upTo: maximumBodyBytes)
            let data = Data(buffer: bytes)
            let messages: [SendRequest]
            if let many = try? JSONDecoder().decode([SendRequest].self, from: data) {
                messages = many
            } else {
                messages = [try decodeJSON(SendRequest.self, from: data)]
            }
            // Validate everything before sending anything, so a bad batch sends nothing.
            let resolved = try messages.enumerated().map { index, message in try resolve(message, index: index, node: node) }
            for (message, from, payload) in resolved {
                let pid = try await target(message, node: node)
                node.processes.send(from: from, to: pid, topic: message.topic ?? "", payload: payload)
            }
            return try AdminServer.jsonResponse(["sent": resolved.count], status: .accepted)
        }
    }

    /// The process a message goes to: its PID, or its name resolved in `scope` (or consistent → eventual →
    /// local; a client node asks a Raft member's replica).
    private static func target(_ message: SendRequest, node: CohortNode) async throws -> PID {
        try await target(message.to, scope: message.scope, field: "to", node: node)
    }

    /// `text` as a PID, or the process registered as `text` in `scope` (nil: consistent → eventual →
    /// local); 404 when no process has the name.
    private static func target(_ text: String, scope: String?, field: String, node: CohortNode) async throws -> PID {
        if let pid = PID(text) { return pid }
        let scope = try CoordinationRoutes.scope(scope)
        if scope == nil, let pid = node.processes.resolve(text) { return pid }
        let binding = try await CoordinationRoutes.call { () async throws(CoordinationError) in
            try await node.names.lookup(text, scope: scope)
        }
        guard let binding else { throw APIError.notFound("\(field): no process is registered as \"\(text)\"") }
        return binding.pid
    }

    private static func resolve(_ message: SendRequest, index: Int, node: CohortNode) throws -> (SendRequest, PID?, [UInt8]) {
        let at = "message \(index)"
        guard !message.to.isEmpty else { throw APIError.badRequest("\(at): to: required (a PID or a name)") }
        let from = try sender(message.from, at: "\(at): ", node: node)
        let payload = try payload(text: message.payload, base64: message.payloadBase64, at: "\(at): ")
        return (message, from, payload)
    }

    /// The `from` of a message: nil, or an open session of this node. `at` prefixes the error messages.
    static func sender(_ text: String?, at: String = "", node: CohortNode) throws -> PID? {
        guard let text else { return nil }
        guard let pid = PID(text) else { throw APIError.badRequest("\(at)from: \"\(text)\" is not a PID") }
        guard node.sessions.session(pid) != nil else {
            throw APIError.badRequest("\(at)from: \(text) is not an open session on this node")
        }
        return pid
    }

    /// A message's bytes from `payload` (text) or `payload_b64`, at most one of them; none is empty.
    static func payload(text: String?, base64: String?, at: String = "") throws -> [UInt8] {
        switch (text, base64) {
        case (let text?, nil): return Array(text.utf8)
        case (nil, let encoded?):
            guard let data = Data(base64Encoded: encoded) else {
                throw APIError.badRequest("\(at)payload_b64: not valid base64")
            }
            return Array(data)
        case (nil, nil): return []
        case (.some, .some): throw APIError.badRequest("\(at)give payload or payload_b64, not both")
        }
    }

    private static func session(_ context: BasicRequestContext, _ node: CohortNode) throws -> Session {
        let text = context.parameters.get("pid") ?? ""
        guard let pid = PID(text) else { throw APIError.badRequest("\"\(text)\" is not a PID (node@incarnation.serial)") }
        guard let session = node.sessions.session(pid) else {
            throw APIError.notFound("no open session \(pid) on this node")
        }
        return session
    }

    /// The inbox as Server-Sent Events until the client goes away or the session ends.
    private static func eventStream(_ session: Session, registry: SessionRegistry) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                session.reader(attached: true, now: .now)
                defer { session.reader(attached: false, now: .now) }
                do {
                    try await writer.write(ByteBuffer(string: ": session \(session.pid.map(String.init(describing:)) ?? "")\n\n"))
                    while true {
                        let events = await session.take(waitingUpTo: .seconds(5))
                        if events.isEmpty {
                            if session.hasEnded { break }
                            try await writer.write(ByteBuffer(string: ": keepalive\n\n"))
                            continue
                        }
                        var text = ""
                        for event in events {
                            let view = EventView(event)
                            text += "event: \(view.type)\ndata: \(try view.jsonLine())\n\n"
                        }
                        try await writer.write(ByteBuffer(string: text))
                    }
                    try await writer.finish(nil)
                } catch {
                    // The client went away: the stream closing ends the session.
                    registry.close(session)
                    throw error
                }
            }
        )
    }
}

struct OpenSessionRequest: Decodable {
    var ttl: String?
}

struct OpenSessionReply: Encodable {
    var pid: String
    var ttlMilliseconds: Int64

    enum CodingKeys: String, CodingKey {
        case pid
        case ttlMilliseconds = "ttl_ms"
    }
}

struct TargetRequest: Decodable {
    /// A PID, or a name resolved in `scope`.
    var target: String
    var scope: String?
}

struct RegisterRequest: Decodable {
    var name: String
}

struct SendRequest: Decodable {
    var to: String
    var scope: String?
    var from: String?
    var topic: String?
    var payload: String?
    var payloadBase64: String?

    enum CodingKeys: String, CodingKey {
        case to, scope, from, topic, payload
        case payloadBase64 = "payload_b64"
    }
}
