import Cohort
import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird

/// `/v1/pg`: Erlang-style process groups (SPEC §11), on every node, with or without the cluster.
///
/// - `POST /v1/pg/{scope}/{group}/join` `{"pids": [...]}` → 204 (this node's live processes; a PID given
///   twice joins twice). `.../leave` → 204, or 404 `NOT_JOINED` when none of them was a member.
/// - `GET /v1/pg/{scope}/{group}?local=true` → `{"members": [pids]}` (with multiplicity, sorted).
/// - `GET /v1/pg/{scope}` → `{"groups": [...]}`; `?pid=P` → the groups of P. `GET /v1/pg` → `{"scopes": [...]}`.
/// - `POST /v1/pg/{scope}/{group}/broadcast` `{"topic", "payload" | "payload_b64", "local"?, "from"?}` →
///   `{"recipients": n}`.
/// - `GET /v1/pg/{scope}/{group}/events` and `GET /v1/pg/{scope}/events`: Server-Sent Events, a snapshot
///   first, then every join and leave (see ``GroupStreamFrames``).
///
/// Scope and group are path segments, percent-decoded: a group named `a/b` is written `a%2Fb`. Every
/// request is checked whole before anything changes: a refused join or leave changes nothing.
enum GroupRoutes {
    /// How often a quiet event stream sends a comment line (as a watch does).
    static let keepAlive = CoordinationRoutes.watchKeepAlive

    static func add(to v1: RouterGroup<BasicRequestContext>, node: CohortNode) {
        v1.get("pg") { _, _ in try AdminServer.jsonResponse(GroupScopesView(scopes: node.groupScopes)) }
        v1.get("pg/:scope") { request, context in
            let scope = try scope(context, node)
            guard let text = request.uri.queryParameters.get("pid") else {
                return try AdminServer.jsonResponse(GroupNamesView(groups: scope.whichGroups()))
            }
            let pid = try CoordinationRoutes.pid(String(text), field: "pid")
            return try AdminServer.jsonResponse(GroupNamesView(groups: scope.groups(of: pid)))
        }
        v1.get("pg/:scope/events") { _, context in
            let scope = try scope(context, node)
            return eventStream(scope.monitorScope(), frames: GroupStreamFrames(group: nil))
        }
        v1.get("pg/:scope/:group") { request, context in
            let (scope, group) = try target(context, node)
            let members = try flag(request, "local") ? scope.localMembers(group) : scope.members(group)
            return try AdminServer.jsonResponse(GroupMembersView(members))
        }
        v1.get("pg/:scope/:group/events") { _, context in
            let (scope, group) = try target(context, node)
            return eventStream(scope.monitor(group), frames: GroupStreamFrames(group: group))
        }
        v1.post("pg/:scope/:group/join") { request, context in
            let (scope, group) = try target(context, node)
            let pids = try await members(request)
            for (index, pid) in pids.enumerated() where !isLocal(pid, node) || !node.processes.isAlive(pid) {
                throw APIError.badRequest("pids[\(index)]: \(GroupError.notLocal(pid.description))")
            }
            try call { () throws(GroupError) in try scope.join(group, pids) }
            return Response(status: .noContent)
        }
        v1.post("pg/:scope/:group/leave") { request, context in
            let (scope, group) = try target(context, node)
            let pids = try await members(request)
            // As OTP's pg: only this node's processes leave here. One that exited is in no group (not_joined).
            for (index, pid) in pids.enumerated() where !isLocal(pid, node) {
                throw APIError.badRequest("pids[\(index)]: \(GroupError.notLocal(pid.description))")
            }
            guard scope.leave(group, pids) else {
                throw APIError(
                    status: .notFound, message: "none of the pids is a member of \"\(group)\" in scope \(scope.name)",
                    code: "NOT_JOINED"
                )
            }
            return Response(status: .noContent)
        }
        v1.post("pg/:scope/:group/broadcast") { request, context in
            let (scope, group) = try target(context, node)
            let body = try await decode(GroupBroadcastRequest.self, from: request)
            let from = try ProcessRoutes.sender(body.from, node: node)
            let payload = try ProcessRoutes.payload(text: body.payload, base64: body.payloadBase64)
            let topic = body.topic ?? ""
            let recipients = body.local == true
                ? scope.broadcastLocal(group, topic: topic, payload: payload, from: from)
                : scope.broadcast(group, topic: topic, payload: payload, from: from)
            return try AdminServer.jsonResponse(GroupBroadcastReply(recipients: recipients))
        }
    }

    // MARK: Input

    /// The scope of the path; 404 `NOT_FOUND` when `pg.scopes` has none of that name.
    static func scope(_ context: BasicRequestContext, _ node: CohortNode) throws -> GroupScope {
        let name = try segment(context, "scope")
        return try call { () throws(GroupError) in try node.groups(name) }
    }

    /// The scope and the (valid) group name of the path.
    static func target(_ context: BasicRequestContext, _ node: CohortNode) throws -> (GroupScope, String) {
        let scope = try scope(context, node)
        let group = try segment(context, "group")
        try call { () throws(GroupError) in try ScopeCore.validate(group: group) }
        return (scope, group)
    }

    /// A path parameter, percent-decoded.
    static func segment(_ context: BasicRequestContext, _ name: String) throws -> String {
        let raw = context.parameters.get(name) ?? ""
        guard let text = percentDecoded(raw) else {
            throw APIError.badRequest("\(name): \"\(raw)\" is not valid percent-encoding")
        }
        return text
    }

    /// The body's `pids`: at least one, each a PID.
    static func members(_ request: Request) async throws -> [PID] {
        let body = try await decode(GroupMembershipRequest.self, from: request)
        guard !body.pids.isEmpty else { throw APIError.badRequest("pids: give at least one PID (node@incarnation.serial)") }
        return try body.pids.enumerated().map { index, text in try CoordinationRoutes.pid(text, field: "pids[\(index)]") }
    }

    static func isLocal(_ pid: PID, _ node: CohortNode) -> Bool {
        pid.node == node.id && pid.incarnation == node.incarnation
    }

    /// A `true`/`false` query parameter, false when absent.
    static func flag(_ request: Request, _ name: String) throws -> Bool {
        guard let text = request.uri.queryParameters.get(name) else { return false }
        guard let value = Bool(String(text)) else { throw APIError.badRequest("\(name): \"\(text)\" is not true or false") }
        return value
    }

    /// Runs `body`, turning a ``GroupError`` into its HTTP answer.
    static func call<T>(_ body: () throws(GroupError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw APIError(error)
        }
    }

    // MARK: Event streams

    /// The monitor's snapshot, then its events as Server-Sent Events until the client goes away (noticed at
    /// the next write: a change or the keep-alive every ``keepAlive``) or the node stops; the monitor is
    /// cancelled either way. Written by ``EventStream``: a client that reads too slowly holds the monitor
    /// back, which resyncs it past 10,000 events (docs/api.md).
    private static func eventStream(_ monitor: GroupMonitor, frames: GroupStreamFrames) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                defer { monitor.cancel() }
                try await writer.write(try frames.snapshot(monitor.snapshot))
                _ = try await EventStream.write(
                    monitor, to: &writer, keepAlive: keepAlive,
                    failure: { (error) -> Never in preconditionFailure("a group monitor does not throw: \(error)") },
                    frame: { try frames.event($0) }
                )
                try await writer.finish(nil)
            }
        )
    }
}

extension APIError {
    /// The one HTTP answer for every process-group refusal.
    init(_ error: GroupError) {
        switch error {
        case .unknownScope: self.init(status: .notFound, message: "\(error)")
        case .invalidGroup: self.init(status: .badRequest, message: "group: \(error)")
        case .notLocal, .noMembers: self.init(status: .badRequest, message: "pids: \(error)")
        case .tooManyGroups: self.init(status: .conflict, message: "\(error)", code: "TOO_MANY_GROUPS")
        }
    }
}

/// `text` with every `%XX` replaced by its byte; nil when a `%` is not followed by two hex digits or the
/// bytes are not UTF-8 (what Foundation's `removingPercentEncoding` answers, without Foundation).
func percentDecoded(_ text: String) -> String? {
    guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
    func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    var bytes: [UInt8] = []
    var input = text.utf8.makeIterator()
    while let byte = input.next() {
        guard byte == UInt8(ascii: "%") else {
            bytes.append(byte)
            continue
        }
        guard let high = input.next().flatMap(hex), let low = input.next().flatMap(hex) else { return nil }
        bytes.append(high << 4 | low)
    }
    return String(validating: bytes, as: UTF8.self)
}
