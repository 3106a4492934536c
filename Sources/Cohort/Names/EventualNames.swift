import CohortCore
import Logging
import PlaneCore
import Processes
import ServiceLifecycle
import Synchronization

/// Names of the eventual scope (SPEC §9): a gossip CRDT on the `names` plane, which keeps working in a
/// partition and on gossip-only clients.
///
/// Each registration is an entry of its own, keyed by the name and the owner's PID and written only by the
/// owner's node (``EventualNameKey``), so two nodes that register the same name concurrently (or on two
/// sides of a partition) both hold both entries once they have met. The binding is the entry with the
/// **earliest stamp** (hybrid logical clock, then node ID): the first registration wins, on every node,
/// whatever order the entries arrived in. The owner's node of every other entry revokes it: the losing
/// process receives one `CANCEL` with reason `name revoked: <name>` (and keeps running), and its entry
/// becomes a tombstone. A registration is refused at once (`alreadyExists`) when this node already knows a
/// binding of the name.
///
/// A name is released when its owner unregisters it, when the process exits, and when its node departs:
/// the plane's owner rule drops a departed node's entries on every survivor, and refuses entries of a node
/// that is not an alive member.
final class EventualNames: Service, Sendable {
    /// The plane's ID.
    static let planeID = "names"

    let plane: Plane
    let processes: ProcessRuntime
    let nodeID: NodeID
    let logger: Logger
    private let onConflict: @Sendable () -> Void

    private struct Local {
        /// The names each local process holds here (for its exit).
        var held: [PID: Set<String>] = [:]
        /// Entries of this node already revoked (their CANCEL sent), so a revocation happens once.
        var revoked: Set<[UInt8]> = []
    }

    private let local = Mutex(Local())

    /// The options the `names` plane is registered with: entries belong to the process in their key.
    static var planeOptions: PlaneOptions {
        PlaneOptions(owner: { entry in EventualNameKey.decode(entry.key)?.pid })
    }

    init(plane: Plane, processes: ProcessRuntime, nodeID: NodeID, logger: Logger, onConflict: @escaping @Sendable () -> Void = {}) {
        self.plane = plane
        self.processes = processes
        self.nodeID = nodeID
        self.logger = logger
        self.onConflict = onConflict
    }

    // MARK: The API behind Names

    /// Registers `name` for `pid`, a live process of this node. Idempotent for the current owner.
    func register(_ name: String, pid: PID) throws(CoordinationError) {
        try EventualNameKey.validate(name)
        guard pid.node == nodeID else {
            throw .badRequest("an eventual name is registered on its process's own node (\(pid.node)), not on \(nodeID)")
        }
        guard processes.isAlive(pid) else { throw .notFound("no live process \(pid) on this node") }
        if let current = binding(name, in: plane.state) {
            if current.pid == pid { return }
            throw .alreadyExists("name \"\(name)\" is registered to \(current.pid) (eventual)", by: current.pid)
        }
        let key = EventualNameKey.key(name: name, pid: pid)
        local.withLock { local in
            local.revoked.remove(key)
            local.held[pid, default: []].insert(name)
        }
        plane.write(key, value: EventualNameKey.value)
    }

    /// Unregisters `name` for `pid` (only on `pid`'s node: entries are written by their owner's node).
    func unregister(_ name: String, pid: PID) throws(CoordinationError) {
        try EventualNameKey.validate(name)
        let key = EventualNameKey.key(name: name, pid: pid)
        guard let entry = plane.state[key], !entry.isTombstone else { throw .notFound("no eventual name \"\(name)\" for \(pid)") }
        guard pid.node == nodeID else {
            throw .badRequest("an eventual name is unregistered on its process's own node (\(pid.node)), not on \(nodeID)")
        }
        local.withLock { local in
            local.held[pid]?.remove(name)
            if local.held[pid]?.isEmpty == true { local.held[pid] = nil }
        }
        plane.write(key, value: nil)
    }

    /// The binding of `name` as this node knows it.
    func lookup(_ name: String) -> NameBinding? {
        binding(name, in: plane.state).map { NameBinding(name: name, pid: $0.pid, scope: .eventual, token: nil) }
    }

    /// The bindings of names starting with `prefix`, in name order, at most `limit`.
    func list(prefix: String, limit: Int) -> [NameBinding] {
        NamePlane.bindings(prefix: prefix, limit: limit, in: plane.state).map { NameBinding(name: $0.name, pid: $0.pid, scope: .eventual, token: nil) }
    }

    /// The number of names bound in the eventual scope here (a walk of the plane: for metrics scrapes).
    var count: Int { NamePlane.bindingCount(in: plane.state) }

    /// A local process exited: its eventual names are released.
    func processExited(_ pid: PID) {
        guard let names = local.withLock({ $0.held.removeValue(forKey: pid) }) else { return }
        for name in names {
            let key = EventualNameKey.key(name: name, pid: pid)
            if let entry = plane.state[key], !entry.isTombstone { plane.write(key, value: nil) }
        }
    }

    /// The name (local or eventual) that conflicts with a strong registration of `name`, from this node's
    /// eventual scope: its binding, if any.
    func conflict(_ name: String) -> PID? {
        binding(name, in: plane.state)?.pid
    }

    // MARK: Conflicts

    /// Follows the plane: after every change, a losing entry of this node is revoked (once).
    func run() async throws {
        revokeLosers(of: nil)
        await untilGracefulShutdown { [self] in
            for await event in plane.changes() {
                switch event {
                case .changed(let changes):
                    let names = Set(changes.compactMap { EventualNameKey.decode($0.key)?.name })
                    revokeLosers(of: names)
                case .resync:
                    revokeLosers(of: nil)
                }
            }
        }
    }

    /// Revokes this node's entries that lose to an earlier registration of the same name, among `names`
    /// (nil: every name this node's processes hold).
    func revokeLosers(of names: Set<String>?) {
        let candidates: [String]
        if let names {
            candidates = Array(names)
        } else {
            candidates = local.withLock { local in Array(Set(local.held.values.flatMap { $0 })) }
        }
        let losers = NamePlane.losers(of: candidates, in: plane.state, node: nodeID)
        let fresh = local.withLock { local in losers.filter { local.revoked.insert($0.key).inserted } }
        for loser in fresh {
            logger.info("eventual name revoked: an earlier registration wins", metadata: ["name": "\(loser.name)", "pid": "\(loser.pid)"])
            local.withLock { local in
                local.held[loser.pid]?.remove(loser.name)
                if local.held[loser.pid]?.isEmpty == true { local.held[loser.pid] = nil }
            }
            plane.write(loser.key, value: nil)
            processes.cancel(loser.pid, reason: "name revoked: \(loser.name)", from: nil)
            onConflict()
        }
    }

    private func binding(_ name: String, in state: PlaneState) -> (pid: PID, stamp: PlaneStamp)? {
        NamePlane.binding(of: name, in: state)
    }
}

/// Resolves eventual names for sends, monitors and links by name (after the consistent scope).
struct EventualNameResolver: NameResolver {
    let names: EventualNames

    func resolve(_ name: String) -> PID? {
        names.lookup(name)?.pid
    }
}

/// The Cohort side of the `names` plane's keys (``NamePlane`` has the rules): validation with the API's errors.
enum EventualNameKey {
    static let value = NamePlane.value
    static let maxNameBytes = NamePlane.maxNameBytes

    static func key(name: String, pid: PID) -> [UInt8] { NamePlane.key(name: name, pid: pid) }

    static func decode(_ key: [UInt8]) -> (name: String, pid: PID)? { NamePlane.decode(key) }

    static func validate(_ name: String) throws(CoordinationError) {
        guard !name.isEmpty else { throw .badRequest("name: required") }
        guard !name.utf8.contains(0) else { throw .badRequest("name: must not contain a NUL byte") }
        guard name.utf8.count <= maxNameBytes else { throw .tooLarge("name: an eventual name is at most \(maxNameBytes) bytes") }
    }
}
