import CohortCore
import CoordinationCore
import Gossip
import Logging
import Mesh
import Processes
import Synchronization

/// How a node answers "do you hold a binding of this name that conflicts with a strong registration?":
/// the process the name stands for here, and in which scope, or nil when it stands for none.
///
/// A node asks its check when another node's strong registration asks for its acknowledgement, and the
/// registering node asks its own. Today the node's check is ``localNames(_:)`` (the process names of
/// `ProcessRuntime`); the eventual scope adds its own with ``adding(_:)`` (through
/// ``StrongNames/addConflictCheck(_:)``), so a strong name never wins over an eventual binding either.
/// A binding to the registering process itself is no conflict.
public struct NameConflictCheck: Sendable {
    /// The check itself: the binding of `name` on this node, if any.
    public let binding: @Sendable (_ name: String) -> (pid: PID, scope: NameScope)?

    /// A check from a closure.
    public init(_ binding: @escaping @Sendable (_ name: String) -> (pid: PID, scope: NameScope)?) {
        self.binding = binding
    }

    /// The binding of `name` on this node, if any.
    public func callAsFunction(_ name: String) -> (pid: PID, scope: NameScope)? { binding(name) }

    /// This check, then `other`: the first binding either finds.
    public func adding(_ other: NameConflictCheck) -> NameConflictCheck {
        NameConflictCheck { name in self(name) ?? other(name) }
    }

    /// The local scope: the process names of `processes`.
    public static func localNames(_ processes: ProcessRuntime) -> NameConflictCheck {
        NameConflictCheck { name in processes.whereis(name).map { ($0, .local) } }
    }

    /// No binding anywhere.
    public static let none = NameConflictCheck { _ in nil }
}

/// The strong scope (SPEC §9): a consistent name that every live node — Raft servers and gossip-only
/// clients alike — acknowledged holding no conflicting binding of before it was bound.
///
/// The registering node (1) reserves the name through Raft (the reservation holds it against every other
/// registration and lapses at a leader-stamped deadline); (2) asks every live gossip member, itself
/// included, over the mesh (endpoint ``MeshEndpoint/names``): members that join during the round are asked
/// too, members that leave are no longer waited for; (3) on every acknowledgement confirms the reservation
/// through Raft, which binds the name with the reservation's index as its fencing token. A member holding
/// the name for another process answers at once with it: the reservation is cancelled and the
/// registration fails with ``CoordinationError/alreadyExists(_:by:)``. At the deadline the reservation is
/// cancelled and the registration fails with ``CoordinationError/notAcknowledged(_:missing:)``.
///
/// Request (endpoint 6): `u8 1 | text name | pid | u64 token`. Reply: `u8 0` (no conflict) or
/// `u8 1 | pid | text scope` (the conflicting binding).
public final class StrongNames: Sendable {
    /// How long a registration waits for every acknowledgement unless told otherwise.
    public static let defaultTimeout = Duration.seconds(10)
    /// The longest wait a registration may ask for.
    public static let maxTimeout = Duration.seconds(60)
    /// How much longer than the round the reservation lives in the state: a confirmation sent just
    /// before the round's end still finds it; a registering node that vanished leaves it this much longer.
    static let reservationGrace = Duration.seconds(2)

    let coordination: Coordination
    let mesh: MeshService
    let gossip: GossipService
    let nodeID: NodeID
    let logger: Logger
    private let check: Mutex<NameConflictCheck>

    init(coordination: Coordination, mesh: MeshService, gossip: GossipService, nodeID: NodeID, conflictCheck: NameConflictCheck, logger: Logger) {
        self.coordination = coordination
        self.mesh = mesh
        self.gossip = gossip
        self.nodeID = nodeID
        self.logger = logger
        check = Mutex(conflictCheck)
    }

    /// Adds `other` to the bindings this node reports as conflicts (the eventual scope's, for one).
    public func addConflictCheck(_ other: NameConflictCheck) {
        check.withLock { $0 = $0.adding(other) }
    }

    /// This node's binding of `name`, if it conflicts with a registration for `pid`.
    func conflict(_ name: String, for pid: PID) -> (pid: PID, scope: NameScope)? {
        guard let found = check.withLock({ $0 })(name), found.pid != pid else { return nil }
        return found
    }

    /// Registers `name` for `pid` in the strong scope; returns the fencing token.
    func register(_ name: String, pid: PID, timeout: Duration) async throws(CoordinationError) -> UInt64 {
        guard timeout > .zero, timeout <= Self.maxTimeout else { throw .badRequest("timeout: must be above 0 and at most \(Self.maxTimeout)") }
        let deadline = ContinuousClock.now + timeout
        if pid.node == nodeID { coordination.noteOwner(pid) }
        let lifetime = UInt64((timeout + Self.reservationGrace).milliseconds)
        let (_, reserved) = try await coordination.append(.reserveName(name: name, pid: pid, timeout: lifetime))
        let token: UInt64
        switch reserved {
        case .nameReserved(let reservation, _): token = reservation
        case .nameRegistered(let existing): return existing
        case .nameTaken(let owner): throw .alreadyExists("name \"\(name)\" is registered (or being registered) to \(owner)", by: owner)
        default: throw .unavailable("the store answered a reservation with \(reserved)")
        }
        switch await acknowledgements(of: name, pid: pid, token: token, until: deadline) {
        case .acknowledged:
            let (_, confirmed) = try await coordination.append(.confirmName(name: name, pid: pid, token: token))
            switch confirmed {
            case .nameRegistered(let token): return token
            case .reservationGone:
                throw .notAcknowledged("the reservation of \"\(name)\" ended before it was confirmed (it lapsed, or \(pid) exited)", missing: [])
            default: throw .unavailable("the store answered a confirmation with \(confirmed)")
            }
        case .conflict(let node, let owner, let scope):
            await cancel(name, pid: pid, token: token)
            throw .alreadyExists("name \"\(name)\" is registered to \(owner) in the \(scope.rawValue) scope on \(node)", by: owner)
        case .missing(let nodes):
            await cancel(name, pid: pid, token: token)
            let from = nodes.isEmpty ? "(this node could not read the membership)" : "from \(nodes.map(\.rawValue).joined(separator: ", "))"
            throw .notAcknowledged(
                "no acknowledgement of the strong name \"\(name)\" within \(timeout) \(from): the name was not registered", missing: nodes
            )
        }
    }

    /// Drops the reservation; when that fails it lapses at its deadline anyway.
    private func cancel(_ name: String, pid: PID, token: UInt64) async {
        do {
            _ = try await coordination.append(.cancelReservation(name: name, pid: pid, token: token))
        } catch {
            logger.warning("cannot cancel a strong name's reservation; it lapses at its deadline", metadata: ["error": "\(error)"])
        }
    }

    enum RoundOutcome: Equatable, Sendable {
        case acknowledged
        case conflict(node: NodeID, owner: PID, scope: NameScope)
        case missing([NodeID])
    }

    enum Answer: Equatable, Sendable {
        case clear
        case conflict(pid: PID, scope: NameScope)
    }

    enum RoundEvent: Sendable {
        case membership(MembershipUpdate)
        case answer(NodeID, generation: Int, Answer)
        case deadline
    }

    /// Asks this node and every live member until all answered, one reports a conflict, or `deadline`.
    func acknowledgements(of name: String, pid: PID, token: UInt64, until deadline: ContinuousClock.Instant) async -> RoundOutcome {
        if let found = conflict(name, for: pid) { return .conflict(node: nodeID, owner: found.pid, scope: found.scope) }
        var writer = ByteWriter()
        writer.u8(1)
        writer.text(name)
        writer.pid(pid)
        writer.u64(token)
        let request = writer.buffer
        return await Self.round(
            self: nodeID, membership: gossip.events.subscribe(), expiry: { try? await Task.sleep(until: deadline, clock: .continuous) }
        ) { node in
            await self.ask(node, request: request, until: deadline)
        }
    }

    /// The round over the other members: every live member of `membership` (a feed that starts with a
    /// snapshot) other than `self` is asked with `ask` (nil: no answer before the deadline), members that
    /// join are asked too, members that leave are no longer waited for (and asked afresh if they join
    /// again: a new boot). Ends at the first conflict, when every member asked has answered, or when
    /// `expiry` returns (the deadline) with the members still silent.
    static func round(
        self selfID: NodeID, membership: AsyncStream<MembershipUpdate>, expiry: @escaping @Sendable () async -> Void,
        ask: @escaping @Sendable (NodeID) async -> Answer?
    ) async -> RoundOutcome {
        let (events, sink) = AsyncStream.makeStream(of: RoundEvent.self, bufferingPolicy: .unbounded)
        return await withTaskGroup(of: Void.self) { group in
            group.addTask { for await update in membership { sink.yield(.membership(update)) } }
            group.addTask {
                await expiry()
                sink.yield(.deadline)
            }
            // Each member asked, with the generation of the ask: a member that leaves and joins again is a
            // new boot, asked again, and a late answer of its earlier boot no longer counts.
            var asked: [NodeID: Int] = [:]
            var waiting = Set<NodeID>()
            var generation = 0
            var seenMembers = false
            var outcome: RoundOutcome?
            round: for await event in events {
                switch event {
                case .membership(let update):
                    var live: [Member] = []
                    var gone: [NodeID] = []
                    switch update {
                    case .snapshot(let all), .resync(let all):
                        live = all
                        let present = Set(all.filter { !$0.isGone }.map(\.name))
                        gone = asked.keys.filter { !present.contains($0) }
                        seenMembers = true
                    case .joined(let member), .updated(let member):
                        live = [member]
                    case .left(let member, _):
                        gone = [member.name]
                    }
                    for node in gone {
                        asked[node] = nil
                        waiting.remove(node)
                    }
                    for member in live where member.name != selfID && !member.isGone && asked[member.name] == nil {
                        generation += 1
                        let node = member.name, current = generation
                        asked[node] = current
                        waiting.insert(node)
                        group.addTask {
                            if let answer = await ask(node) { sink.yield(.answer(node, generation: current, answer)) }
                        }
                    }
                case .answer(let node, let answerGeneration, let answer):
                    guard asked[node] == answerGeneration else { continue }
                    if case .conflict(let owner, let scope) = answer {
                        outcome = .conflict(node: node, owner: owner, scope: scope)
                        break round
                    }
                    waiting.remove(node)
                case .deadline:
                    break round
                }
                if seenMembers, waiting.isEmpty {
                    outcome = .acknowledged
                    break round
                }
            }
            group.cancelAll()
            sink.finish()
            return outcome ?? .missing(waiting.sorted())
        }
    }

    /// One member's answer; nil when it gave none before `deadline` (it stays missing).
    private func ask(_ node: NodeID, request: [UInt8], until deadline: ContinuousClock.Instant) async -> Answer? {
        while !Task.isCancelled {
            let remaining = deadline - .now
            guard remaining > .zero else { return nil }
            do {
                let reply = try await mesh.request(request, to: node, endpoint: .names, class: .control, timeout: remaining)
                if let answer = Self.decodeAnswer(reply) { return answer }
                logger.warning("a node answered a strong name's acknowledgement with bytes that do not decode", metadata: ["peer": "\(node)"])
                return nil
            } catch MeshError.timeout {
                return nil
            } catch let MeshError.remote(failure) {
                logger.warning("a node refused a strong name's acknowledgement", metadata: ["peer": "\(node)", "error": "\(failure)"])
                return nil
            } catch MeshError.noHandler {
                // A node of a version before strong names: it can never acknowledge.
                logger.warning("a node cannot acknowledge strong names (an earlier version?)", metadata: ["peer": "\(node)"])
                return nil
            } catch {
                // Not connected yet, the connection was lost, a full queue: ask again shortly.
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        return nil
    }

    /// Answers another node's request for an acknowledgement.
    func serve(_ payload: [UInt8]) throws -> [UInt8] {
        var reader = ByteReader(payload)
        let kind = try reader.u8("kind")
        guard kind == 1 else { throw CoordinationError.badRequest("unknown name request kind \(kind)") }
        let name = try reader.text(limit: CoordinationLimits.maxKeyBytes, "name")
        let pid = try reader.pid("pid")
        _ = try reader.u64("token")
        try reader.end()
        return Self.encodeAnswer(conflict(name, for: pid).map { .conflict(pid: $0.pid, scope: $0.scope) } ?? .clear)
    }

    static func encodeAnswer(_ answer: Answer) -> [UInt8] {
        var writer = ByteWriter()
        switch answer {
        case .clear: writer.u8(0)
        case .conflict(let pid, let scope):
            writer.u8(1)
            writer.pid(pid)
            writer.text(scope.rawValue)
        }
        return writer.buffer
    }

    static func decodeAnswer(_ bytes: [UInt8]) -> Answer? {
        var reader = ByteReader(bytes)
        switch try? reader.u8("answer") {
        case 0: return (try? reader.end()) != nil ? .clear : nil
        case 1:
            guard let pid = try? reader.pid("pid"), let text = try? reader.text(limit: 32, "scope"),
                  let scope = NameScope(rawValue: text), (try? reader.end()) != nil else { return nil }
            return .conflict(pid: pid, scope: scope)
        default: return nil
        }
    }
}

extension NameScope {
    /// The scope of a name Raft holds.
    init(_ scope: NameRecord.Scope) {
        switch scope {
        case .consistent: self = .consistent
        case .strong: self = .strong
        }
    }
}
