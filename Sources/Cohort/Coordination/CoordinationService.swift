import CohortCore
import CoordinationCore
import Gossip
import Logging
import Raft
import ServiceLifecycle
import Synchronization

/// The leader's duties for the coordination state, done once, through the log:
/// - **time**: when the state's next deadline (a TTL, a lock wait, a lock delay) falls due by the leader's
///   clock, it proposes a sweep;
/// - **departures**: when gossip declares a node dead or left, or sees it restarted with a new
///   incarnation, it proposes the release of what that node's earlier boots held (idempotent, so a new
///   leader repeating it is harmless); on becoming leader it checks the whole state against the
///   membership, so a departure during a failover is not missed.
///
/// Followers and clients do nothing here. A process's exit is released by its own node
/// (``Coordination/processExited(_:)``).
final class CoordinationService: Service, Sendable {
    let coordination: Coordination
    let raft: RaftService
    let gossip: GossipService
    let logger: Logger

    init(coordination: Coordination, raft: RaftService, gossip: GossipService, logger: Logger) {
        self.coordination = coordination
        self.raft = raft
        self.gossip = gossip
        self.logger = logger
    }

    private enum Input: Sendable {
        case membership([MembershipUpdate])
        case status(RaftStatus)
        case stateChanged
        case deadline
    }

    func run() async throws {
        let (inputs, sink) = AsyncStream.makeStream(of: Input.self, bufferingPolicy: .unbounded)
        // Only a change of the next deadline matters to the loop below (re-arming the sweep timer): waking
        // it (a thread of Swift's pool) for every applied entry cost every replica a thread switch per write.
        let lastDeadline = Mutex<UInt64??>(.none)
        coordination.store.observe { _, state in
            let next = state.nextDeadline
            let moved = lastDeadline.withLock { last in
                if last == .some(next) { return false }
                last = .some(next)
                return true
            }
            if moved { sink.yield(.stateChanged) }
        }
        await withDiscardingTaskGroup { group in
            group.addTask { for await batch in self.gossip.events.subscribeBatches() { sink.yield(.membership(batch)) } }
            group.addTask { for await status in await self.raft.statusUpdates() { sink.yield(.status(status)) } }
            var members: [NodeID: Member] = [:]
            var isLeader = false
            // At least 100 ms: a sweep that could not commit is not retried in a tight loop.
            var timer = SweepTimer(minimumWaitMilliseconds: 100)
            // Graceful shutdown finishes the inputs, which ends this loop (see `untilGracefulShutdown`).
            await withGracefulShutdownHandler {
                for await input in inputs {
                    switch input {
                    case .membership(let batch):
                        for update in batch {
                            let departed = Self.apply(update, to: &members)
                            if isLeader { for (node, incarnation) in departed { await release(node, through: incarnation) } }
                        }
                    case .status(let status):
                        let wasLeader = isLeader
                        isLeader = status.state == .leader
                        if isLeader, !wasLeader { await releaseAbsent(members) }
                    case .deadline:
                        timer.fired()
                    case .stateChanged:
                        break
                    }
                    guard isLeader else {
                        timer.cancel()
                        continue
                    }
                    // Sweep what fell due; then sleep until the next deadline (re-armed when it moves).
                    if let next = coordination.store.state.nextDeadline, next <= Coordination.wallClockMilliseconds() {
                        await sweep()
                    }
                    if let next = coordination.store.state.nextDeadline { timer.arm(for: next) { sink.yield(.deadline) } }
                }
            } onGracefulShutdown: {
                sink.finish()
            }
            timer.cancel()
            group.cancelAll()
        }
    }

    /// Applies a membership update; returns the nodes whose earlier boots departed, with the newest
    /// incarnation to release through.
    static func apply(_ update: MembershipUpdate, to members: inout [NodeID: Member]) -> [(NodeID, UInt64)] {
        var departed: [(NodeID, UInt64)] = []
        switch update {
        case .snapshot(let all), .resync(let all):
            members = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        case .joined(let member), .updated(let member):
            // A restart: the new boot's incarnation replaces the old one, whose holdings are released.
            if let old = members[member.name].flatMap(Self.incarnation), let new = Self.incarnation(member), new > old {
                departed.append((member.name, new - 1))
            }
            members[member.name] = member
        case .left(let member, _):
            members[member.name] = nil
            departed.append((member.name, Self.incarnation(member) ?? .max))
        }
        return departed
    }

    /// A member's boot incarnation, from its node metadata.
    static func incarnation(_ member: Member) -> UInt64? {
        (try? NodeMeta(decoding: member.meta))?.bootID
    }

    private func release(_ node: NodeID, through incarnation: UInt64) async {
        do {
            let (_, result) = try await coordination.append(.releaseNode(node, throughIncarnation: incarnation))
            if case .released(let locks, let names, let waits) = result, locks + names + waits > 0 {
                logger.info("released what a departed node held", metadata: [
                    "peer": "\(node)", "incarnation": "\(incarnation)", "locks": "\(locks)", "names": "\(names)", "waits": "\(waits)",
                ])
            }
        } catch {
            logger.warning("cannot release what a departed node held yet", metadata: ["peer": "\(node)", "error": "\(error)"])
        }
    }

    /// On becoming leader: releases what nodes that are gone (or restarted since) still hold.
    private func releaseAbsent(_ members: [NodeID: Member]) async {
        for (node, oldest) in coordination.store.state.holderNodes {
            guard let member = members[node], !member.isGone else {
                await release(node, through: .max)
                continue
            }
            // Holdings of boots before the live one.
            if let alive = Self.incarnation(member), oldest < alive { await release(node, through: alive - 1) }
        }
    }

    private func sweep() async {
        do {
            _ = try await coordination.append(.sweep)
        } catch {
            logger.debug("sweep not proposed", metadata: ["error": "\(error)"])
        }
    }
}
