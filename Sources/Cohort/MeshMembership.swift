import CohortCore
import Gossip
import Logging
import Mesh
import Processes
import ServiceLifecycle

/// Keeps the mesh and the process runtime in step with gossip membership.
///
/// - Once the mesh has bound its port, republishes this node's gossip metadata with it, so peers can dial.
/// - For every live Cohort member: tells the mesh where to reach it (the mesh dials it when a message needs
///   a connection) and tells the process runtime which boot of that node is current, so PIDs of earlier
///   boots are dead.
/// - For every member that leaves or is declared dead: the mesh drops its queues and pending requests, and
///   the runtime fires the monitors and links held on that node's processes.
///
/// Members whose metadata is not Cohort's (a plain memberlist peer) are ignored.
final class MeshMembership: Service, Sendable {
    private let selfID: NodeID
    private let gossip: GossipService
    private let mesh: MeshService
    private let processes: ProcessRuntime
    private let meta: NodeMetaPublisher
    private let logger: Logger

    init(selfID: NodeID, gossip: GossipService, mesh: MeshService, processes: ProcessRuntime, meta: NodeMetaPublisher, logger: Logger) {
        self.selfID = selfID
        self.gossip = gossip
        self.mesh = mesh
        self.processes = processes
        self.meta = meta
        self.logger = logger
    }

    func run() async throws {
        await advertiseInternodePort()
        await untilGracefulShutdown { [self] in
            var known: [NodeID: Peer] = [:]
            // In batches: a burst this loop fell behind on is taken in one read, not one wake-up per update.
            for await batch in gossip.events.subscribeBatches() {
                for update in batch {
                    switch update {
                    case .snapshot(let members), .resync(let members):
                        let present = Set(members.map(\.name))
                        for id in known.keys where !present.contains(id) {
                            await forget(id, known: &known)
                        }
                        for member in members { await learn(member, known: &known) }
                    case .joined(let member), .updated(let member):
                        await learn(member, known: &known)
                    case .left(let member, _):
                        await forget(member.name, known: &known)
                    }
                }
            }
        }
    }

    /// Waits for the mesh to bind, then puts its port into the gossip metadata.
    private func advertiseInternodePort() async {
        // nil: the mesh failed to start, and its error stops the node.
        guard let port = await mesh.waitUntilBound() else { return }
        await meta.update { $0.internodePort = UInt16(clamping: port) }
        logger.debug("internode port advertised", metadata: ["port": "\(port)"])
    }

    /// Where a peer's mesh listens and which boot it is.
    private struct Peer: Equatable {
        var host: String
        var port: Int
        var incarnation: Incarnation
    }

    private func learn(_ member: Member, known: inout [NodeID: Peer]) async {
        guard member.name != selfID, !member.isGone, let meta = try? NodeMeta(decoding: member.meta) else { return }
        let incarnation = Incarnation(meta.bootID)
        processes.nodeUp(member.name, incarnation: incarnation)
        guard meta.internodePort != 0 else { return }
        let host = meta.internodeHost.isEmpty ? Self.host(member.ip) : meta.internodeHost
        let peer = Peer(host: host, port: Int(meta.internodePort), incarnation: incarnation)
        guard known[member.name] != peer else { return }
        known[member.name] = peer
        await mesh.setPeer(member.name, host: peer.host, port: peer.port, incarnation: incarnation)
    }

    private func forget(_ id: NodeID, known: inout [NodeID: Peer]) async {
        known[id] = nil
        await mesh.removePeer(id)
        processes.nodeDown(id)
    }

    /// The text form of a gossip address (4 bytes IPv4, 16 bytes IPv6).
    static func host(_ ip: [UInt8]) -> String {
        if ip.count == 4 { return ip.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        var index = 0
        while index + 1 < ip.count {
            groups.append(String(UInt16(ip[index]) << 8 | UInt16(ip[index + 1]), radix: 16))
            index += 2
        }
        return groups.joined(separator: ":")
    }
}

/// Carries the process runtime's remote signals over the mesh's reliable `relay` class.
struct MeshProcessTransport: ProcessTransport {
    let mesh: MeshService

    func send(_ signal: [UInt8], to node: NodeID) {
        // A drop (queue full, peer gone) is counted by the mesh; processes see it as a lost message,
        // and monitors still fire when the peer leaves membership.
        _ = mesh.send(signal, to: node, endpoint: .processes, class: .relay)
    }
}
