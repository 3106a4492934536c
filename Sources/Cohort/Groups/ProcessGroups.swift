import CohortConfig
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CohortCore
import Gossip
import GroupsCore
import Logging
import Mesh
import Observability
import Processes
import Prometheus
import ServiceLifecycle

/// The node's process-group scopes (`pg.scopes`), the mesh endpoint they share, and the hooks that feed
/// them: process exits, and (through ``GroupsService``) gossip membership and time.
final class ProcessGroups: Sendable {
    let scopes: [String: GroupScope]
    /// In `pg.scopes` order.
    let ordered: [GroupScope]
    let unknown: GroupMetrics
    private let logger: Logger

    /// Test-only failpoint: while the file this variable names exists, every pg frame to a peer is silently
    /// lost (a wedged pg path while gossip stays healthy), which the peers' broadcast liveness check sees.
    static let muteVariable = "COHORT_FAILPOINT_PG_MUTE_FILE"

    init(
        settings: ProcessGroupSettings, node: NodeID, incarnation: Incarnation, mesh: MeshService?, processes: ProcessRuntime,
        health: HealthRegistry, registry: PrometheusCollectorRegistry, logger: Logger, environment: [String: String] = [:]
    ) {
        let base = ContinuousClock.now
        let mute = environment[Self.muteVariable].flatMap { $0.isEmpty ? nil : $0 }
        let transport = GroupTransport(
            send: { frame, peer in
                if let mute, access(mute, F_OK) == 0 { return nil }
                switch mesh?.send(frame, to: peer, endpoint: .groups, class: .relay) {
                case .queued: return nil
                case .dropped(.queueFull): return "queue_full"
                case .dropped(.tooLarge): return "too_large"
                case .dropped, nil: return "unreachable"
                }
            },
            deliver: { from, recipients, topic, payload in processes.send(from: from, toEach: recipients, topic: topic, payload: payload) },
            isAlive: { pid in pid.node == node && pid.incarnation == incarnation && processes.isAlive(pid) },
            now: { GroupScope.milliseconds(ContinuousClock.now - base) + 1 }
        )
        ordered = settings.scopes.map { scope in
            GroupScope(
                settings: scope, node: node, incarnation: incarnation, transport: transport,
                metrics: GroupMetrics(scope: scope.name, registry: registry), clustered: mesh != nil
            )
        }
        scopes = Dictionary(uniqueKeysWithValues: ordered.map { ($0.name, $0) })
        // Frames for a scope this node does not run, or that cannot be read, are counted here.
        unknown = GroupMetrics(scope: "_unknown", registry: registry)
        self.logger = logger
        for scope in ordered where scope.settings.broadcastLiveness != nil {
            health.register("pg.broadcast_recent.\(scope.name)", kind: .liveness) { [weak scope] in
                guard let failure = scope?.livenessFailure() else { return .ok }
                return .fail(failure)
            }
        }
        let scopes = ordered
        processes.onExit { pid, _ in
            for scope in scopes { scope.processExited(pid) }
        }
    }

    /// The scope `name`.
    func scope(_ name: String) throws(GroupError) -> GroupScope {
        guard let scope = scopes[name] else { throw .unknownScope(name) }
        return scope
    }

    /// A frame from a peer's mesh endpoint `groups`: decoded and handed to its scope, or counted and
    /// dropped (a bad frame affects nothing else).
    func receive(_ inbound: MeshInbound) {
        let decoded: (scope: String, message: GroupMessage)
        do {
            decoded = try GroupFrame.decode(inbound.payload)
        } catch {
            unknown.malformed()
            logger.debug("malformed pg frame dropped", metadata: ["peer": "\(inbound.from)", "error": "\(error)"])
            return
        }
        guard let scope = scopes[decoded.scope] else {
            unknown.dropped["unknown_scope"]?.increment()
            return
        }
        scope.receive(decoded.message, from: inbound.from, incarnation: inbound.incarnation)
    }
}

/// Feeds the scopes gossip membership (a peer up or down), mesh connections and time (a timer until the
/// earliest deadline), and sends their batched changes when a local change rings the doorbell.
final class GroupsService: Service, Sendable {
    let groups: ProcessGroups
    let gossip: GossipService
    let mesh: MeshService
    let selfID: NodeID
    init(groups: ProcessGroups, gossip: GossipService, mesh: MeshService, selfID: NodeID) {
        self.groups = groups
        self.gossip = gossip
        self.mesh = mesh
        self.selfID = selfID
    }

    func run() async throws {
        let scopes = groups.ordered
        guard !scopes.isEmpty else { return }
        await withDiscardingTaskGroup { group in
            for scope in scopes {
                guard let requests = scope.flushRequests else { continue }
                group.addTask {
                    for await _ in requests {
                        scope.doorbellAnswered()
                        scope.flush()
                    }
                }
            }
            // One timer for every scope: it sleeps until the earliest deadline (a sync retry, a breaker,
            // anti-entropy, a beat), and a change that brings one forward wakes it early.
            let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            for scope in scopes { scope.onRearm { wake.yield() } }
            wake.yield()
            group.addTask {
                var timer: Task<Void, Never>?
                for await _ in wakes {
                    var next: UInt64?
                    for scope in scopes {
                        if let due = scope.tickIfDue(random: UInt64.random(in: 0...UInt64.max)) { next = min(next ?? due, due) }
                    }
                    timer?.cancel()
                    guard let next, let now = scopes.first?.now() else { continue }
                    let wait = Duration.milliseconds(Int64(next > now ? next - now : 0))
                    timer = Task {
                        try? await Task.sleep(for: wait)
                        if !Task.isCancelled { wake.yield() }
                    }
                }
                timer?.cancel()
            }
            // A sync refused before the mesh knew the peer goes as soon as the connection is up.
            group.addTask {
                for await event in self.mesh.peerEvents {
                    if case .connected(let node, _) = event { for scope in scopes { scope.connected(node) } }
                }
            }
            await untilGracefulShutdown { [gossip, scopes, selfID] in
                var known: [NodeID: Incarnation] = [:]
                // In batches: a burst this loop fell behind on is taken in one read, not one wake-up per update.
                for await batch in gossip.events.subscribeBatches() {
                    for update in batch {
                        for change in Self.changes(update, known: &known, selfID: selfID) {
                            for scope in scopes {
                                switch change {
                                case .up(let node, let incarnation): scope.nodeUp(node, incarnation: incarnation)
                                case .down(let node): scope.nodeDown(node)
                                }
                            }
                        }
                    }
                }
            }
            group.cancelAll()
        }
    }

    enum Change: Equatable {
        case up(NodeID, Incarnation)
        case down(NodeID)
    }

    /// The Cohort peers that came up (or restarted) and went down with `update`.
    static func changes(_ update: MembershipUpdate, known: inout [NodeID: Incarnation], selfID: NodeID) -> [Change] {
        func alive(_ member: Member) -> (NodeID, Incarnation)? {
            guard member.name != selfID, !member.isGone, let meta = try? NodeMeta(decoding: member.meta) else { return nil }
            return (member.name, Incarnation(meta.bootID))
        }
        var changes: [Change] = []
        switch update {
        case .snapshot(let members), .resync(let members):
            let present = Dictionary(members.compactMap(alive), uniquingKeysWith: { $1 })
            for node in known.keys.sorted() where present[node] == nil {
                known[node] = nil
                changes.append(.down(node))
            }
            for (node, incarnation) in present.sorted(by: { $0.key < $1.key }) where known[node] != incarnation {
                known[node] = incarnation
                changes.append(.up(node, incarnation))
            }
        case .joined(let member), .updated(let member):
            if let (node, incarnation) = alive(member) {
                if known[node] != incarnation {
                    known[node] = incarnation
                    changes.append(.up(node, incarnation))
                }
            } else if member.isGone, known.removeValue(forKey: member.name) != nil {
                changes.append(.down(member.name))
            }
        case .left(let member, _):
            if known.removeValue(forKey: member.name) != nil { changes.append(.down(member.name)) }
        }
        return changes
    }
}
