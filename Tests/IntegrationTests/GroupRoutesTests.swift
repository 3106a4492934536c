import CohortTestKit
import Foundation
import Testing

/// The `/v1/pg` routes on one clustered `cohortd` (no Raft group: process groups need none), with sessions
/// as the member processes: every route's answer, join multiplicity, a session's memberships going with it,
/// the event streams, broadcasts reaching inboxes, and every refusal with its code and nothing changed.
@Suite("Process groups over HTTP")
struct GroupRoutesTests {
    /// A second scope allowing this node's processes into two groups only.
    static let scopesYAML = """
        pg:
          scopes:
            - default
            - name: tight
              max_groups: 2
        """

    @Test("every pg route answers on a single node: scopes, join, members (all and local), groups of the scope and of a pid, leave, broadcast")
    func everyRouteAnswers() async throws {
        try await withGroupNode("pg-routes") { node in
            let a = try await node.openSession(), b = try await node.openSession()
            #expect(try await node.pg("/v1/pg") == PGReply(scopes: ["default", "tight"]))

            #expect(try await node.join("workers", [a, b]).status == 204)
            #expect(try await node.join("auditors", [b]).status == 204)
            #expect(try await node.join("a/b", [a], scope: "tight").status == 204, "a group name with a slash, percent-encoded")
            #expect(try await node.members("workers") == inPIDOrder([a, b]))
            #expect(try await node.pg("/v1/pg/default/workers?local=true") == PGReply(members: inPIDOrder([a, b])))
            #expect(try await node.pg("/v1/pg/default") == PGReply(groups: ["auditors", "workers"]))
            #expect(try await node.pg("/v1/pg/default?pid=\(queryValue(b))") == PGReply(groups: ["auditors", "workers"]))
            #expect(try await node.pg("/v1/pg/tight") == PGReply(groups: ["a/b"]))
            #expect(try await node.members("a/b", scope: "tight") == [a])

            #expect(try await node.leave("workers", [a]).status == 204)
            #expect(try await node.members("workers") == [b])
            #expect(try await node.pg("/v1/pg/default?pid=\(queryValue(a))") == PGReply(groups: []))

            let sent = try await node.post("/v1/pg/default/workers/broadcast", #"{"topic":"t","payload":"p"}"#)
            #expect(sent.status == 200, "\(sent.body)")
            #expect(try decodeReply([String: Int].self, sent) == ["recipients": 1])
        }
    }

    @Test("a process that joined twice is still a member after one leave, and gone after the second; a third leave is NOT_JOINED")
    func joinsCountWithMultiplicity() async throws {
        try await withGroupNode("pg-twice") { node in
            let a = try await node.openSession()
            #expect(try await node.join("twice", [a, a]).status == 204)
            #expect(try await node.members("twice") == [a, a])
            #expect(try await node.leave("twice", [a]).status == 204)
            #expect(try await node.members("twice") == [a], "one join left")
            #expect(try await node.pg("/v1/pg/default") == PGReply(groups: ["twice"]))
            #expect(try await node.leave("twice", [a]).status == 204)
            #expect(try await node.members("twice") == [])
            #expect(try await node.pg("/v1/pg/default") == PGReply(groups: []))
            let again = try await node.leave("twice", [a])
            #expect(again.status == 404)
            #expect(try decodeReply(ErrorReply.self, again).code == "NOT_JOINED")
        }
    }

    @Test("a session that ends leaves every group it joined")
    func anEndedSessionLeavesItsGroups() async throws {
        try await withGroupNode("pg-session") { node in
            let a = try await node.openSession(), b = try await node.openSession()
            #expect(try await node.join("room", [a, a, b]).status == 204)
            #expect(try await node.join("lobby", [a]).status == 204)
            #expect(try await node.delete("/v1/sessions/\(a)").status == 204)
            try await waitUntil(within: .seconds(10), "the ended session's memberships to go") {
                let room = try await node.members("room"), lobby = try await node.members("lobby")
                return room == [b] && lobby.isEmpty
            }
            #expect(try await node.pg("/v1/pg/default?pid=\(queryValue(a))") == PGReply(groups: []))
            #expect(try await node.pg("/v1/pg/default") == PGReply(groups: ["room"]))
        }
    }

    @Test("a group's event stream starts with a snapshot, then its joins and leaves in order; the scope's carries the group")
    func eventStreamsStartWithASnapshot() async throws {
        try await withGroupNode("pg-events") { node in
            let a = try await node.openSession(), b = try await node.openSession()
            #expect(try await node.join("watched", [a]).status == 204)
            let group = try EventStream(node.base + "/v1/pg/default/watched/events")
            let scope = try EventStream(node.base + "/v1/pg/default/events")
            defer { group.curl.signal(SIGKILL); scope.curl.signal(SIGKILL) }
            for stream in [group, scope] {
                try await waitUntil(within: .seconds(10), "the snapshot") { stream.events.count == 1 }
            }
            #expect(try await node.join("watched", [b, b]).status == 204)
            #expect(try await node.join("other", [a]).status == 204)
            #expect(try await node.leave("watched", [a]).status == 204)
            try await waitUntil(within: .seconds(10), "the group's join and leave") { group.events.count == 3 }
            try await waitUntil(within: .seconds(10), "the scope's joins and leave") { scope.events.count == 4 }
            #expect(group.events.map(\.kind) == ["snapshot", "join", "leave"])
            #expect(try group.events.map { try PGEvent($0.data) } == [PGEvent(members: [a]), PGEvent(pids: [b, b]), PGEvent(pids: [a])])
            #expect(scope.events.map(\.kind) == ["snapshot", "join", "join", "leave"])
            #expect(try scope.events.map { try PGEvent($0.data) } == [
                PGEvent(groups: ["watched": [a]]),
                PGEvent(group: "watched", pids: [b, b]),
                PGEvent(group: "other", pids: [a]),
                PGEvent(group: "watched", pids: [a]),
            ])
        }
    }

    @Test("a broadcast reaches each member's session inbox once, from the sender given; local only this node's; none for an empty group")
    func broadcastReachesSessionInboxes() async throws {
        try await withGroupNode("pg-broadcast") { node in
            let a = try await node.openSession(), b = try await node.openSession(), sender = try await node.openSession()
            #expect(try await node.join("room", [a, a, b]).status == 204)
            let inboxes = try [a, b].map { try EventStream(node.base + "/v1/sessions/\($0)/events") }
            defer { for inbox in inboxes { inbox.curl.signal(SIGKILL) } }
            for inbox in inboxes {
                try await waitUntil(within: .seconds(10), "the inbox stream to open") { inbox.curl.output.contains(": session") }
            }
            let sent = try await node.post("/v1/pg/default/room/broadcast", jsonBody(["topic": "hello", "payload": "hi all", "from": sender]))
            #expect(try decodeReply([String: Int].self, sent) == ["recipients": 2], "a member that joined twice gets it once")
            let local = try await node.post("/v1/pg/default/room/broadcast", #"{"topic":"bytes","payload_b64":"/w==","local":true}"#)
            #expect(try decodeReply([String: Int].self, local) == ["recipients": 2])
            let nobody = try await node.post("/v1/pg/default/empty/broadcast", #"{"topic":"x"}"#)
            #expect(try decodeReply([String: Int].self, nobody) == ["recipients": 0])
            for inbox in inboxes {
                try await waitUntil(within: .seconds(10), "both messages in the inbox") { inbox.events.count == 2 }
                #expect(try inbox.events.map { try InboxMessage($0.data) } == [
                    InboxMessage(type: "message", from: sender, topic: "hello", payload: "hi all"),
                    InboxMessage(type: "message", topic: "bytes", payloadBase64: "/w=="),
                ])
            }
        }
    }

    @Test("every pg route refuses bad input with its status, code and a message naming the field, and changes nothing")
    func badInputIsRefusedAndChangesNothing() async throws {
        try await withGroupNode("pg-hostile") { node in
            let a = try await node.openSession()
            let ended = try await node.openSession()
            #expect(try await node.delete("/v1/sessions/\(ended)").status == 204)
            #expect(try await node.join("keep", [a]).status == 204)
            #expect(try await node.join("t1", [a], scope: "tight").status == 204)
            #expect(try await node.join("t2", [a], scope: "tight").status == 204)
            let long = String(repeating: "g", count: 1025)
            let pids = { (list: [String]) in jsonBody(["pids": list]) }
            let cases: [(method: String, path: String, body: String?, status: Int, code: String, fragment: String)] = [
                ("GET", "/v1/pg/nope", nil, 404, "NOT_FOUND", "no pg scope named nope"),
                ("GET", "/v1/pg/nope/keep", nil, 404, "NOT_FOUND", "nope"),
                ("GET", "/v1/pg/nope/keep/events", nil, 404, "NOT_FOUND", "nope"),
                ("POST", "/v1/pg/nope/keep/join", pids([a]), 404, "NOT_FOUND", "nope"),
                ("POST", "/v1/pg/nope/keep/broadcast", #"{"topic":"x"}"#, 404, "NOT_FOUND", "nope"),
                ("POST", "/v1/pg/default/keep/join", "{", 400, "BAD_REQUEST", "not valid JSON"),
                ("POST", "/v1/pg/default/keep/join", "{}", 400, "BAD_REQUEST", "pids: required"),
                ("POST", "/v1/pg/default/keep/join", #"{"pids":"x"}"#, 400, "BAD_REQUEST", "pids: wrong type"),
                ("POST", "/v1/pg/default/keep/join", #"{"pids":[]}"#, 400, "BAD_REQUEST", "pids: give at least one PID"),
                ("POST", "/v1/pg/default/keep/join", pids([a, "nonsense"]), 400, "BAD_REQUEST", #"pids[1]: "nonsense" is not a PID"#),
                ("POST", "/v1/pg/default/keep/join", pids([a, ""]), 400, "BAD_REQUEST", "pids[1]: required"),
                ("POST", "/v1/pg/default/keep/join", pids([a, "elsewhere@1.1"]), 400, "BAD_REQUEST", "pids[1]: elsewhere@1.1 is not a live process of this node"),
                ("POST", "/v1/pg/default/keep/join", pids([a, ended]), 400, "BAD_REQUEST", "pids[1]: \(ended) is not a live process of this node"),
                ("POST", "/v1/pg/default/\(long)/join", pids([a]), 400, "BAD_REQUEST", "group: invalid group name: 1025 bytes"),
                ("POST", "/v1/pg/tight/t3/join", pids([a]), 409, "TOO_MANY_GROUPS", "max_groups"),
                ("POST", "/v1/pg/default/keep/join", String(repeating: "x", count: 9 << 20), 413, "TOO_LARGE", "body"),
                ("POST", "/v1/pg/default/keep/leave", pids([a, "elsewhere@1.1"]), 400, "BAD_REQUEST", "pids[1]: elsewhere@1.1 is not a live process"),
                ("POST", "/v1/pg/default/keep/leave", pids([ended]), 404, "NOT_JOINED", "none of the pids is a member of \"keep\""),
                ("POST", "/v1/pg/default/other/leave", pids([a]), 404, "NOT_JOINED", "\"other\""),
                ("POST", "/v1/pg/default/\(long)/leave", pids([a]), 400, "BAD_REQUEST", "group: invalid group name"),
                ("POST", "/v1/pg/default/keep/broadcast", #"{"payload":"a","payload_b64":"YQ=="}"#, 400, "BAD_REQUEST", "not both"),
                ("POST", "/v1/pg/default/keep/broadcast", #"{"payload_b64":"%%%"}"#, 400, "BAD_REQUEST", "payload_b64: not valid base64"),
                ("POST", "/v1/pg/default/keep/broadcast", #"{"from":"nonsense"}"#, 400, "BAD_REQUEST", "from: \"nonsense\" is not a PID"),
                ("POST", "/v1/pg/default/keep/broadcast", jsonBody(["from": ended]), 400, "BAD_REQUEST", "not an open session"),
                ("POST", "/v1/pg/default/keep/broadcast", #"{"local":"yes"}"#, 400, "BAD_REQUEST", "local: wrong type"),
                ("POST", "/v1/pg/default/\(long)/broadcast", "{}", 400, "BAD_REQUEST", "group: invalid group name"),
                ("GET", "/v1/pg/default/keep?local=maybe", nil, 400, "BAD_REQUEST", "local: \"maybe\" is not true or false"),
                ("GET", "/v1/pg/default?pid=nonsense", nil, 400, "BAD_REQUEST", "pid: \"nonsense\" is not a PID"),
                ("GET", "/v1/pg/default/\(long)/events", nil, 400, "BAD_REQUEST", "group: invalid group name"),
            ]
            for (method, path, body, status, code, fragment) in cases {
                let reply = try await httpRequest(method, node.base + path, body: body, timeout: 30)
                let shown = "\(method) \(path.prefix(60)) → \(reply.status) \(reply.body.prefix(200))"
                #expect(reply.status == status, "\(shown)")
                let object = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
                #expect(object?["code"] as? String == code, "\(shown)")
                #expect((object?["error"] as? String)?.contains(fragment) == true, "\(shown)")
            }
            // Nothing changed: no half-done join or leave, no third group in the tight scope.
            #expect(try await node.members("keep") == [a])
            #expect(try await node.pg("/v1/pg/default") == PGReply(groups: ["keep"]))
            #expect(try await node.pg("/v1/pg/tight") == PGReply(groups: ["t1", "t2"]))
            #expect(try await node.join("keep", [a]).status == 204, "the node still serves")
            #expect(try await node.members("keep") == [a, a])
        }
    }
}

// MARK: Support

/// Runs `body` on a fresh single clustered node with ``GroupRoutesTests/scopesYAML``, then stops it; when
/// `body` throws, the error carries the node's output.
func withGroupNode(_ name: String, _ body: (ClusterNodeUnderTest) async throws -> Void) async throws {
    let node = try ClusterNodeUnderTest(name: name, extraYAML: GroupRoutesTests.scopesYAML)
    try await withNodes([node]) { _ in
        try await node.waitUntilServing()
        try await body(node)
    }
}

extension ClusterNodeUnderTest {
    /// `POST /v1/pg/{scope}/{group}/join` `{"pids"}`; the group percent-encoded as one path segment.
    func join(_ group: String, _ pids: [String], scope: String = "default") async throws -> HTTPReply {
        try await post(groupPath(scope, group) + "/join", jsonBody(["pids": pids]))
    }

    /// `POST /v1/pg/{scope}/{group}/leave` `{"pids"}`.
    func leave(_ group: String, _ pids: [String], scope: String = "default") async throws -> HTTPReply {
        try await post(groupPath(scope, group) + "/leave", jsonBody(["pids": pids]))
    }

    /// `GET /v1/pg/{scope}/{group}`'s members.
    func members(_ group: String, scope: String = "default") async throws -> [String] {
        let reply = try await httpGet(base + groupPath(scope, group))
        guard reply.status == 200 else { throw UnexpectedReply(reply: reply) }
        return try decodeReply([String: [String]].self, reply)["members"] ?? []
    }

    /// A `/v1/pg` reply that must be 200.
    func pg(_ path: String) async throws -> PGReply {
        let reply = try await httpGet(base + path)
        guard reply.status == 200 else { throw UnexpectedReply(reply: reply) }
        return try decodeReply(PGReply.self, reply)
    }

    private func groupPath(_ scope: String, _ group: String) -> String {
        "/v1/pg/\(scope)/" + (group.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? group)
    }
}

/// PIDs of one node and boot in the server's order (by serial, numerically).
func inPIDOrder(_ pids: [String]) -> [String] {
    pids.sorted { UInt64($0.split(separator: ".").last ?? "") ?? 0 < UInt64($1.split(separator: ".").last ?? "") ?? 0 }
}

/// A JSON body from a field of string lists.
func jsonBody(_ fields: [String: [String]]) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: (try? encoder.encode(fields)) ?? Data(), as: UTF8.self)
}

/// `{"scopes"}`, `{"groups"}` or `{"members"}` from `/v1/pg`.
struct PGReply: Decodable, Equatable {
    var scopes: [String]?
    var groups: [String]?
    var members: [String]?
}

/// The data of a pg event stream's event: a group stream's `members` or `pids`, a scope stream's
/// `groups` or `group` and `pids`.
struct PGEvent: Decodable, Equatable {
    var members: [String]?
    var group: String?
    var groups: [String: [String]]?
    var pids: [String]?

    init(members: [String]? = nil, group: String? = nil, groups: [String: [String]]? = nil, pids: [String]? = nil) {
        (self.members, self.group, self.groups, self.pids) = (members, group, groups, pids)
    }

    init(_ data: String) throws {
        self = try JSONDecoder().decode(PGEvent.self, from: Data(data.utf8))
    }
}

/// A message event of a session's inbox.
struct InboxMessage: Decodable, Equatable {
    var type: String
    var from: String?
    var topic: String?
    var payload: String?
    var payloadBase64: String?

    enum CodingKeys: String, CodingKey {
        case type, from, topic, payload
        case payloadBase64 = "payload_b64"
    }

    init(type: String, from: String? = nil, topic: String? = nil, payload: String? = nil, payloadBase64: String? = nil) {
        (self.type, self.from, self.topic, self.payload, self.payloadBase64) = (type, from, topic, payload, payloadBase64)
    }

    init(_ data: String) throws {
        self = try JSONDecoder().decode(InboxMessage.self, from: Data(data.utf8))
    }
}
