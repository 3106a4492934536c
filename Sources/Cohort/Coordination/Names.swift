import CohortCore
import CoordinationCore
import Processes

/// The four name scopes of SPEC §9.
public enum NameScope: String, Sendable, Hashable, CaseIterable {
    /// This node only; released when the process exits.
    case local
    /// Gossip-replicated, converging; works in a partition and on gossip-only clients (``EventualNames``).
    case eventual
    /// Through Raft: linearizable, first write wins, with a fencing token.
    case consistent
    /// Consistent, and acknowledged by every live node (servers and clients) holding no conflicting
    /// binding; see ``StrongNames``.
    case strong
}

/// A name and the process it stands for.
public struct NameBinding: Sendable, Hashable {
    /// The name.
    public var name: String
    /// The process.
    public var pid: PID
    /// The scope it is registered in.
    public var scope: NameScope
    /// The registration's fencing token (consistent and strong scopes).
    public var token: UInt64?
}

/// Cluster-wide process names (SPEC §9). `consistent` names go through Raft: the first registration wins
/// and gets a fencing token, and a name is released when its process exits, its session ends or its
/// node departs. `strong` names are consistent ones that every live node acknowledged (``StrongNames``).
/// `eventual` names spread by gossip (``EventualNames``): a registration succeeds at once on the
/// process's own node, and of two concurrent ones the earlier wins everywhere while the later's process
/// gets `CANCEL` "name revoked: <name>". Lookups without a scope resolve consistent (and strong) →
/// eventual → local; on a gossip-only client, consistent lookups are answered from a cache that the Raft
/// leader's published changes keep fresh (``ConsistentNameCache``).
public struct Names: Sendable {
    let coordination: Coordination
    let processes: ProcessRuntime
    let nodeID: NodeID
    /// The eventual scope; nil only in a `Names` built without one.
    var eventual: EventualNames? = nil
    /// A client node's cache of consistent names; nil on Raft servers and with the cluster disabled.
    var cache: ConsistentNameCache? = nil
    /// The strong scope's acknowledgement rounds; nil with the cluster disabled.
    var strong: StrongNames? = nil

    /// Registers `name` for `pid`. Consistent: returns the token; throws
    /// ``CoordinationError/alreadyExists(_:by:)`` with the owner when the name is taken. Local: `pid`
    /// must be a live process of this node; returns nil.
    ///
    /// Strong: as consistent, once every live node acknowledged holding no conflicting binding, within
    /// `timeout` (default 10 s); throws ``CoordinationError/notAcknowledged(_:missing:)`` naming the nodes
    /// that did not answer, or `alreadyExists` with the owner a node reported. See ``StrongNames``.
    @discardableResult
    public func register(_ name: String, pid: PID, scope: NameScope = .consistent, timeout: Duration? = nil) async throws(CoordinationError) -> UInt64? {
        try Self.validate(name: name)
        switch scope {
        case .local:
            do {
                try processes.register(name, pid)
            } catch {
                if case .nameTaken(_, let current) = error { throw .alreadyExists("name \"\(name)\" is registered to \(current)", by: current) }
                throw .badRequest("\(error)")
            }
            coordination.metrics?.localNames(processes.localNameCount)
            return nil
        case .consistent:
            if pid.node == nodeID { coordination.noteOwner(pid) }
            let (_, result) = try await coordination.append(.registerName(name: name, pid: pid))
            switch result {
            case .nameRegistered(let token): return token
            case .nameTaken(let owner): throw .alreadyExists("name \"\(name)\" is registered to \(owner)", by: owner)
            default: throw .unavailable("the store answered a registration with \(result)")
            }
        case .strong:
            guard let strong else { throw .unsupported("the strong scope needs the cluster enabled") }
            return try await strong.register(name, pid: pid, timeout: timeout ?? StrongNames.defaultTimeout)
        case .eventual:
            guard let eventual else { throw Self.notBuilt(scope) }
            try eventual.register(name, pid: pid)
            return nil
        }
    }

    /// Unregisters `name` (consistent and strong, one namespace: only its owner `pid` may).
    public func unregister(_ name: String, pid: PID, scope: NameScope = .consistent) async throws(CoordinationError) {
        try Self.validate(name: name)
        switch scope {
        case .local:
            guard processes.whereis(name) == pid else { throw .notFound("no local name \"\(name)\" for \(pid)") }
            processes.unregister(name)
            coordination.metrics?.localNames(processes.localNameCount)
        case .consistent, .strong:
            let (_, result) = try await coordination.append(.unregisterName(name: name, pid: pid))
            switch result {
            case .nameUnregistered: return
            case .notFound: throw .notFound("no name \"\(name)\"")
            case .notOwner(let owner): throw .notOwner(name: name, owner: owner)
            default: throw .unavailable("the store answered an unregistration with \(result)")
            }
        case .eventual:
            guard let eventual else { throw Self.notBuilt(scope) }
            try eventual.unregister(name, pid: pid)
        }
    }

    /// The process `name` stands for: in `scope`, or (nil) the first scope that knows it, consistent →
    /// eventual → local. Consistent lookups read a replica (this node's, or a member's from a client
    /// node) and cost no log entry.
    ///
    /// Without a scope, a consistent scope that cannot be read (no Raft member known yet, no leader for
    /// a linearizable read) does not hide a local name: the lookup goes on to the local scope, and if
    /// that does not know the name either it throws `notFound` naming why the consistent scope was not
    /// asked. With `scope: .consistent` the read's own error is thrown.
    public func lookup(_ name: String, scope: NameScope? = nil, consistency: Coordination.Consistency = .stale) async throws(CoordinationError) -> NameBinding? {
        try Self.validate(name: name)
        var unreadable: CoordinationError?
        if scope == nil || scope == .consistent || scope == .strong {
            do throws(CoordinationError) {
                // A strong name is a consistent one too; `scope: .strong` finds only strong names.
                if let binding = try await consistentBinding(name, consistency: consistency), scope != .strong || binding.scope == .strong {
                    return binding
                }
                if scope == .consistent || scope == .strong { return nil }
            } catch .noLeader(let why) where scope == nil {
                unreadable = .noLeader(why)
            } catch .unavailable(let why) where scope == nil {
                unreadable = .unavailable(why)
            }
        }
        if scope == nil || scope == .eventual {
            if let binding = eventual?.lookup(name) { return binding }
            if scope == .eventual {
                guard eventual != nil else { throw Self.notBuilt(.eventual) }
                return nil
            }
        }
        if let pid = processes.whereis(name) { return NameBinding(name: name, pid: pid, scope: .local, token: nil) }
        if let unreadable {
            throw .notFound("no local or eventual name \"\(name)\", and consistent names could not be read (\(unreadable))")
        }
        return nil
    }

    /// The consistent (or strong) binding of `name`: from this node's replica; on a client node, from its
    /// cache when fresh (stale reads only), else from a member's replica (and kept in the cache).
    private func consistentBinding(_ name: String, consistency: Coordination.Consistency) async throws(CoordinationError) -> NameBinding? {
        // A cached binding to a process that is surely dead (its node is down, or restarted) is not used:
        // the name is asked for again.
        if consistency == .stale, let cache, let cached = cache.lookup(name), cached.map({ processes.mayBeAlive($0.pid) }) ?? true {
            return cached
        }
        guard case .names(let names) = try await coordination.query(.name(name), consistency: consistency) else {
            throw CoordinationError.unavailable("the replica answered with something else")
        }
        let binding = names.first.map { found, record in
            NameBinding(name: found, pid: record.pid, scope: NameScope(record.scope), token: record.token)
        }
        // A member's answer carries no index; a binding's token is the Raft index of its registration, so an
        // update older than that (still travelling) cannot replace it.
        if let cache { cache.store(name, binding, index: binding?.token ?? 0) }
        return binding
    }

    /// Names starting with `prefix`, in order, in `scope`: consistent (strong ones included, with scope
    /// `strong`; a replica, this node's or a member's), strong (only the strong ones among the first
    /// ``ReplicaQuery/maxListLimit`` names), eventual (this node's view) or local (this node's table).
    public func list(prefix: String = "", limit: Int = 1000, scope: NameScope = .consistent, consistency: Coordination.Consistency = .stale) async throws(CoordinationError) -> [NameBinding] {
        guard (1...ReplicaQuery.maxListLimit).contains(limit) else { throw .badRequest("limit: must be 1...\(ReplicaQuery.maxListLimit)") }
        switch scope {
        case .eventual:
            guard let eventual else { throw Self.notBuilt(scope) }
            return eventual.list(prefix: prefix, limit: limit)
        case .local:
            return processes.localNames(prefix: prefix, limit: limit).map { NameBinding(name: $0.name, pid: $0.pid, scope: .local, token: nil) }
        case .consistent, .strong:
            break
        }
        let scan = scope == .strong ? ReplicaQuery.maxListLimit : limit
        guard case .names(let names) = try await coordination.query(.names(prefix: prefix, limit: scan), consistency: consistency) else {
            throw .unavailable("the replica answered with something else")
        }
        let bindings = names.map { NameBinding(name: $0.0, pid: $0.1.pid, scope: NameScope($0.1.scope), token: $0.1.token) }
        return Array(bindings.filter { scope != .strong || $0.scope == .strong }.prefix(limit))
    }

    static func validate(name: String) throws(CoordinationError) {
        guard !name.isEmpty else { throw .badRequest("name: required") }
        guard name.utf8.count <= CoordinationLimits.maxKeyBytes else { throw .tooLarge("name: longer than \(CoordinationLimits.maxKeyBytes) bytes") }
    }

    static func notBuilt(_ scope: NameScope) -> CoordinationError {
        .unsupported("the \(scope.rawValue) scope is not available on this node")
    }
}

/// Resolves names of the consistent scope (strong names included) from this node's replica, for sends,
/// monitors and links by name (`ProcessRuntime.resolve`). A client node holds no replica: it resolves them
/// through ``Names/lookup(_:scope:consistency:)`` before sending.
struct ConsistentNameResolver: NameResolver {
    let store: CoordinationStore

    func resolve(_ name: String) -> PID? {
        store.state.name(name)?.pid
    }
}
