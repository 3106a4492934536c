import Cohort
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPTypes
import Hummingbird

/// `/v1/stores`, `/v1/kv`, `/v1/txn`, `/v1/watch`, `/v1/locks`, `/v1/names` (SPEC §11): the named stores,
/// locks and names, from any node (a client node reads through a Raft member). Errors carry a `code`.
///
/// - `GET /v1/stores` → `[{"name", "kind", "durable"}]` (`default` first).
/// - `GET /v1/kv/{key}?store=&consistency=linearizable|stale` → `{"key", "value" | "value_b64", "version",
///   "created", "expires_at"?}`; 404 `NOT_FOUND`.
/// - `GET /v1/kv?store=&prefix=&after=&limit=&consistency=` → `[entries]` in key order (header
///   `Cohort-Revision`: the replica's applied index, where a watch can start).
/// - `PUT /v1/kv/{key}?store=&if_absent=true|if_version=N` `{"value" | "value_b64", "ttl"?}` → `{"version"}`;
///   409 `CONFLICT` with `current`.
/// - `DELETE /v1/kv/{key}?store=&if_version=N` → 204; 404; 409 `CONFLICT`.
/// - `POST /v1/txn?store=` `{"compare": [{"key", "version" | "value" | "absent": true}], "success": [ops],
///   "failure": [ops]}`, ops `{"op": "put", "key", "value", "ttl"?}`, `{"op": "delete", "key"}`,
///   `{"op": "get", "key"}` → `{"succeeded", "version", "results": [...]}`.
/// - `GET /v1/watch?store=&prefix=&from=V` → Server-Sent Events, `event: put|delete` with
///   `{"key", "value"?, "version"}` for every change after V, in order; 410 `COMPACTED` `{"oldest"}`.
/// - `POST /v1/locks/{name}` `{"holder", "wait"?, "lock_delay"?}` → `{"name", "holder", "token"}`; 409
///   `ALREADY_EXISTS` `{"holder"}` or `TIMEOUT`. `DELETE /v1/locks/{name}?holder=PID` → 204; 409
///   `NOT_HOLDER`. `GET /v1/locks/{name}`, `GET /v1/locks?prefix=`.
/// - `POST /v1/names` `{"name", "pid", "scope"?, "timeout"?}` → 201 `{"name", "pid", "scope", "token"?}`;
///   409 `ALREADY_EXISTS` `{"owner"}`; strong: 504 `TIMEOUT` `{"missing"}` (`timeout`, default 10s, is
///   the strong scope's wait for acknowledgements). `GET /v1/names/{name}?scope=`,
///   `DELETE /v1/names/{name}?scope=&pid=`, `GET /v1/names?prefix=&scope=` (any scope;
///   absent: consistent).
enum CoordinationRoutes {
    static let defaultTimeout = Duration.seconds(5)

    static func add(to v1: RouterGroup<BasicRequestContext>, node: CohortNode) {
        addStores(to: v1, node: node)
        addLocks(to: v1, node: node)
        addNames(to: v1, node: node)
    }

    /// Runs `body`, turning a ``CoordinationError`` into its HTTP answer.
    static func call<T>(_ body: () async throws(CoordinationError) -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw APIError(error)
        }
    }

    /// The store of `?store=` (default `default`), bounded by `?timeout=` (up to 60 s; default 5 s).
    static func store(_ request: Request, _ node: CohortNode) throws -> KeyValueStore {
        let name = request.uri.queryParameters.get("store").map { String($0) } ?? "default"
        let store: KeyValueStore
        do {
            store = try node.store(name)
        } catch {
            throw APIError(error)
        }
        guard let text = request.uri.queryParameters.get("timeout") else { return store }
        guard let timeout = parseDuration(text), timeout > .zero, timeout <= .seconds(60) else {
            throw APIError.badRequest("timeout: \"\(text)\" is not a duration up to 60s")
        }
        return store.timeout(timeout)
    }

    static func consistency(_ request: Request, default fallback: Coordination.Consistency) throws -> Coordination.Consistency {
        guard let text = request.uri.queryParameters.get("consistency") else { return fallback }
        guard let consistency = Coordination.Consistency(rawValue: String(text)) else {
            throw APIError.badRequest("consistency: \"\(text)\" is not linearizable or stale")
        }
        return consistency
    }

    static func duration(_ text: String?, field: String) throws -> Duration? {
        guard let text else { return nil }
        guard let duration = parseDuration(text), duration > .zero else {
            throw APIError.badRequest("\(field): \"\(text)\" is not a duration; use e.g. \"500ms\", \"10s\" or \"2m\"")
        }
        return duration
    }

    static func limit(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return 1000 }
        guard let limit = Int(text), (1...10_000).contains(limit) else { throw APIError.badRequest("limit: must be 1...10000") }
        return limit
    }

    static func pid(_ text: String?, field: String) throws -> PID {
        guard let text, !text.isEmpty else { throw APIError.badRequest("\(field): required (a PID, node@incarnation.serial)") }
        guard let pid = PID(text) else { throw APIError.badRequest("\(field): \"\(text)\" is not a PID (node@incarnation.serial)") }
        return pid
    }

    static func catchAll(_ context: BasicRequestContext, what: String) throws -> String {
        let name = context.parameters.getCatchAll().joined(separator: "/")
        guard !name.isEmpty else { throw APIError.badRequest("\(what): required in the path") }
        return name
    }
}

// MARK: Stores

extension CoordinationRoutes {
    static func addStores(to v1: RouterGroup<BasicRequestContext>, node: CohortNode) {
        v1.get("stores") { _, _ in
            try AdminServer.jsonResponse(node.coordination.declaredStores.map { StoreView(name: $0.name, kind: $0.kind.rawValue, durable: $0.durable) })
        }
        v1.get("kv") { request, _ in
            let store = try store(request, node), parameters = request.uri.queryParameters
            let consistency = try consistency(request, default: .linearizable), limit = try limit(request)
            let (entries, revision) = try await call { () async throws(CoordinationError) in
                try await store.list(
                    prefix: parameters.get("prefix").map { String($0) } ?? "", after: parameters.get("after").map { String($0) },
                    limit: limit, consistency: consistency
                )
            }
            var response = try AdminServer.jsonResponse(entries.map { KVEntryView(key: $0.key, value: $0.value) })
            response.headers[HTTPField.Name("Cohort-Revision")!] = String(revision)
            return response
        }
        v1.get("kv/**") { request, context in
            let store = try store(request, node), key = try catchAll(context, what: "key")
            let consistency = try consistency(request, default: .linearizable)
            let entry = try await call { () async throws(CoordinationError) in try await store.entry(key, consistency: consistency) }
            guard let entry else { throw APIError.notFound("no value at key \"\(key)\"") }
            return try AdminServer.jsonResponse(KVEntryView(key: key, value: entry))
        }
        v1.put("kv/**") { request, context in
            let store = try store(request, node), key = try catchAll(context, what: "key")
            let body = try await decode(PutRequest.self, from: request)
            let value = try body.bytes()
            let ttl = try duration(body.ttl, field: "ttl")
            let parameters = request.uri.queryParameters
            var condition: KeyValueStore.Condition?
            if let text = parameters.get("if_version") {
                guard let version = UInt64(text) else { throw APIError.badRequest("if_version: \"\(text)\" is not a version number") }
                condition = .ifVersion(version)
            } else if let text = parameters.get("if_absent") {
                guard let flag = Bool(String(text)) else { throw APIError.badRequest("if_absent: must be true or false") }
                if flag { condition = .onlyIfAbsent }
            }
            let version = try await call { () async throws(CoordinationError) in
                if let condition { return try await store.put(key, value, condition: condition, ttl: ttl) }
                return try await store.set(key, value, ttl: ttl)
            }
            // `{"version":N}` as JSONEncoder writes it, without one per write.
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: "{\"version\":\(version)}\n"))
            )
        }
        v1.delete("kv/**") { request, context in
            let store = try store(request, node), key = try catchAll(context, what: "key")
            var version: UInt64?
            if let text = request.uri.queryParameters.get("if_version") {
                guard let parsed = UInt64(text) else { throw APIError.badRequest("if_version: \"\(text)\" is not a version number") }
                version = parsed
            }
            let ifVersion = version
            _ = try await call { () async throws(CoordinationError) in try await store.delete(key, ifVersion: ifVersion) }
            return Response(status: .noContent)
        }
        v1.post("txn") { request, _ in
            let store = try store(request, node)
            let body = try await decode(TransactionRequest.self, from: request)
            let compares = try body.compare.enumerated().map { try $1.compare(at: "compare[\($0)]") }
            let success = try (body.success ?? []).enumerated().map { try $1.operation(at: "success[\($0)]") }
            let failure = try (body.failure ?? []).enumerated().map { try $1.operation(at: "failure[\($0)]") }
            let outcome = try await call { () async throws(CoordinationError) in
                try await store.transaction(compare: compares, success: success, failure: failure)
            }
            let operations = outcome.succeeded ? success : failure
            let results = zip(operations, outcome.results).map { TransactionResultView(operation: $0, result: $1) }
            return try AdminServer.jsonResponse(TransactionReply(succeeded: outcome.succeeded, version: outcome.version, results: results))
        }
        v1.get("watch") { request, _ in
            let store = try store(request, node), parameters = request.uri.queryParameters
            guard let text = parameters.get("from"), let from = UInt64(text) else {
                throw APIError.badRequest("from: required, the version after which changes are wanted (0 for all kept)")
            }
            let prefix = parameters.get("prefix").map { String($0) } ?? ""
            let events = try await call { () async throws(CoordinationError) in try await store.watch(prefix: prefix, after: from) }
            return watchStream(events, node: node)
        }
    }

    /// How often a quiet watch sends a comment line, so that proxies and clients with idle timeouts keep
    /// it open (and a client that went away is noticed by the failed write).
    static let watchKeepAlive = Duration.seconds(5)

    /// Changes as Server-Sent Events until the client goes away; a comment every ``watchKeepAlive`` keeps
    /// proxies open. A watch that has to end (a replaced replica, a slow reader) sends `event: error` first.
    /// Written by ``EventStream`` (a burst of changes leaves in one write).
    private static func watchStream(_ events: AsyncThrowingStream<StoreEvent, any Error>, node: CohortNode) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: ": watching\n\n"))
                let ending = try await EventStream.write(
                    events, to: &writer, keepAlive: watchKeepAlive,
                    failure: { $0 as? WatchError ?? .interrupted("\($0)") }, frame: { WatchEventView($0).frame(kind: $0.kind) }
                )
                if case .failed(let error) = ending {
                    try await writer.write(ByteBuffer(string: "event: error\ndata: {\"error\":\"\(error)\"}\n\n"))
                }
                try await writer.finish(nil)
            }
        )
    }
}

// MARK: Locks and names

extension CoordinationRoutes {
    static func addLocks(to v1: RouterGroup<BasicRequestContext>, node: CohortNode) {
        v1.post("locks/**") { request, context in
            let name = try catchAll(context, what: "lock name")
            let body = try await decode(LockRequest.self, from: request)
            let holder = try pid(body.holder, field: "holder")
            let wait = try duration(body.wait, field: "wait"), delay = try duration(body.lockDelay, field: "lock_delay")
            let grant = try await call { () async throws(CoordinationError) in
                try await node.locks.acquire(name, holder: holder, wait: wait, lockDelay: delay)
            }
            return try AdminServer.jsonResponse(LockGrantView(name: grant.name, holder: grant.holder.description, token: grant.token))
        }
        v1.delete("locks/**") { request, context in
            let name = try catchAll(context, what: "lock name")
            let holder = try pid(request.uri.queryParameters.get("holder").map { String($0) }, field: "holder")
            do throws(CoordinationError) {
                try await node.locks.release(name, holder: holder)
            } catch {
                if case .notHolder(_, nil) = error { throw APIError.notFound("lock \"\(name)\" is not held") }
                throw APIError(error)
            }
            return Response(status: .noContent)
        }
        v1.get("locks/**") { request, context in
            let name = try catchAll(context, what: "lock name")
            let consistency = try consistency(request, default: .stale)
            let info = try await call { () async throws(CoordinationError) in try await node.locks.info(name, consistency: consistency) }
            guard let info else { throw APIError.notFound("lock \"\(name)\" is not held") }
            return try AdminServer.jsonResponse(LockView(info))
        }
        v1.get("locks") { request, _ in
            let prefix = request.uri.queryParameters.get("prefix").map { String($0) } ?? ""
            let limit = try limit(request), consistency = try consistency(request, default: .stale)
            let locks = try await call { () async throws(CoordinationError) in
                try await node.locks.list(prefix: prefix, limit: limit, consistency: consistency)
            }
            return try AdminServer.jsonResponse(locks.map(LockView.init))
        }
    }

    static func addNames(to v1: RouterGroup<BasicRequestContext>, node: CohortNode) {
        v1.post("names") { request, _ in
            let body = try await decode(NameRequest.self, from: request)
            let target = try pid(body.pid, field: "pid")
            let scope = try scope(body.scope) ?? .consistent
            var timeout: Duration?
            if let text = body.timeout {
                guard scope == .strong else { throw APIError.badRequest("timeout: only the strong scope waits for acknowledgements") }
                guard let parsed = parseDuration(text), parsed > .zero, parsed <= StrongNames.maxTimeout else {
                    throw APIError.badRequest("timeout: \"\(text)\" is not a duration above 0 and up to \(StrongNames.maxTimeout)")
                }
                timeout = parsed
            }
            let token = try await call { () async throws(CoordinationError) in
                try await node.names.register(body.name, pid: target, scope: scope, timeout: timeout)
            }
            return try AdminServer.jsonResponse(NameView(name: body.name, pid: target, scope: scope, token: token), status: .created)
        }
        v1.get("names/**") { request, context in
            let name = try catchAll(context, what: "name")
            let scope = try scope(request.uri.queryParameters.get("scope").map { String($0) })
            let consistency = try consistency(request, default: .stale)
            let binding = try await call { () async throws(CoordinationError) in
                try await node.names.lookup(name, scope: scope, consistency: consistency)
            }
            guard let binding else { throw APIError.notFound("no name \"\(name)\"") }
            return try AdminServer.jsonResponse(NameView(name: binding.name, pid: binding.pid, scope: binding.scope, token: binding.token))
        }
        v1.delete("names/**") { request, context in
            let name = try catchAll(context, what: "name")
            let parameters = request.uri.queryParameters
            let owner = try pid(parameters.get("pid").map { String($0) }, field: "pid")
            let scope = try scope(parameters.get("scope").map { String($0) }) ?? .consistent
            try await call { () async throws(CoordinationError) in try await node.names.unregister(name, pid: owner, scope: scope) }
            return Response(status: .noContent)
        }
        v1.get("names") { request, _ in
            let parameters = request.uri.queryParameters
            let scope = try scope(parameters.get("scope").map { String($0) }) ?? .consistent
            let prefix = parameters.get("prefix").map { String($0) } ?? ""
            let limit = try limit(request), consistency = try consistency(request, default: .stale)
            let names = try await call { () async throws(CoordinationError) in
                try await node.names.list(prefix: prefix, limit: limit, scope: scope, consistency: consistency)
            }
            return try AdminServer.jsonResponse(names.map { NameView(name: $0.name, pid: $0.pid, scope: $0.scope, token: $0.token) })
        }
    }

    static func scope(_ text: String?) throws -> NameScope? {
        guard let text else { return nil }
        guard let scope = NameScope(rawValue: text) else {
            throw APIError.badRequest("scope: \"\(text)\" is not local, eventual, consistent or strong")
        }
        return scope
    }
}
