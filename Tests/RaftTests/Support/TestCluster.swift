import CohortCore
@testable import RaftCore

/// A small in-memory group of cores stepping each other's messages, in the style of etcd-io/raft's
/// scenario tests: every ready is persisted and applied at once, messages are delivered in FIFO order,
/// and links can be cut or messages filtered.
struct TestCluster {
    var nodes: [NodeID: RaftNode] = [:]
    /// Node IDs in a fixed order, for deterministic iteration.
    var ids: [NodeID]
    /// What each node persisted (for restarts).
    var storage: [NodeID: LogStorage] = [:]
    /// Entries each node applied, in order.
    var applied: [NodeID: [LogEntry]] = [:]
    /// Read states each node produced.
    var readStates: [NodeID: [ReadState]] = [:]
    /// Reads each node dropped.
    var droppedReads: [NodeID: [ReadContext]] = [:]
    /// Snapshots each node installed.
    var installedSnapshots: [NodeID: [SnapshotMetadata]] = [:]
    /// Every message delivered, in order.
    var delivered: [Message] = []
    /// Directed links that drop everything.
    var cut: Set<[NodeID]> = []
    /// Drops any message for which it returns true.
    var dropIf: (@Sendable (Message) -> Bool)?
    /// Every `(term, leader)` ever observed.
    var leadersByTerm: [Term: Set<NodeID>] = [:]

    /// A group bootstrapped with `voters` and `standbys` (all founders hold the bootstrap entry) plus
    /// `empty` nodes that are outside the configuration and have an empty log.
    init(voters: [String], standbys: [String] = [], empty: [String] = [], settings: RaftNodeSettings = RaftNodeSettings()) {
        let configuration = Configuration(voters: voters.map(NodeID.init), standbys: standbys.map(NodeID.init))
        ids = (voters + standbys + empty).map(NodeID.init)
        for (index, name) in (voters + standbys + empty).enumerated() {
            let id = NodeID(name)
            var nodeSettings = settings
            nodeSettings.randomSeed = UInt64(index + 1)
            let initial = empty.contains(name) ? LogStorage.empty : LogStorage.bootstrap(configuration)
            storage[id] = initial
            nodes[id] = RaftNode(id: id, settings: nodeSettings, storage: initial)
        }
    }

    /// A group whose nodes start from the given storage (logs built by hand).
    init(storages: [(String, LogStorage)], settings: RaftNodeSettings = RaftNodeSettings()) {
        ids = storages.map { NodeID($0.0) }
        for (index, (name, initial)) in storages.enumerated() {
            var nodeSettings = settings
            nodeSettings.randomSeed = UInt64(index + 1)
            storage[NodeID(name)] = initial
            nodes[NodeID(name)] = RaftNode(id: NodeID(name), settings: nodeSettings, storage: initial)
        }
    }

    subscript(_ name: String) -> RaftNode {
        get { nodes[NodeID(name)]! }
        set { nodes[NodeID(name)] = newValue }
    }

    // MARK: Faults

    mutating func isolate(_ name: String) {
        for other in ids where other.rawValue != name {
            cut.insert([NodeID(name), other])
            cut.insert([other, NodeID(name)])
        }
    }

    mutating func cutLink(_ a: String, _ b: String) {
        cut.insert([NodeID(a), NodeID(b)])
        cut.insert([NodeID(b), NodeID(a)])
    }

    mutating func heal() {
        cut = []
        dropIf = nil
    }

    // MARK: Driving

    /// Ticks the named nodes (all by default) `times` times, delivering messages after each round.
    mutating func tick(_ names: [String]? = nil, times: Int = 1) {
        for _ in 0..<times {
            for id in names.map({ $0.map(NodeID.init) }) ?? ids { nodes[id]!.tick() }
            stabilize()
        }
    }

    /// Runs readies and delivers messages until nothing moves.
    mutating func stabilize(maxRounds: Int = 10_000) {
        var queue: [Message] = []
        for _ in 0..<maxRounds {
            for id in ids { queue += drainReady(id) }
            guard !queue.isEmpty else { return }
            let batch = queue
            queue = []
            for message in batch { deliver(message) }
        }
        fatalError("the cluster did not stabilize")
    }

    private mutating func deliver(_ message: Message) {
        guard !cut.contains([message.from, message.to]) else { return }
        if let dropIf, dropIf(message) { return }
        guard nodes[message.to] != nil else { return }
        delivered.append(message)
        nodes[message.to]!.step(message)
    }

    /// Carries out one node's ready (persist, apply) and returns its messages.
    private mutating func drainReady(_ id: NodeID) -> [Message] {
        var node = nodes[id]!
        defer { nodes[id] = node }
        guard node.hasReady else { return [] }
        let ready = node.ready()
        var stored = storage[id]!
        if let snapshot = ready.snapshot {
            stored.snapshot = snapshot
            stored.entries = []
            installedSnapshots[id, default: []].append(snapshot)
            applied[id, default: []].removeAll()
        }
        if let first = ready.entries.first {
            stored.entries.removeAll { $0.index >= first.index }
            stored.entries += ready.entries
        }
        if let hardState = ready.hardState { stored.hardState = hardState }
        storage[id] = stored
        applied[id, default: []] += ready.committedEntries
        readStates[id, default: []] += ready.readStates
        droppedReads[id, default: []] += ready.droppedReads
        node.advance()
        if node.state == .leader { leadersByTerm[node.term, default: []].insert(id) }
        return ready.messages.map(\.message)
    }

    /// Restarts a node from what it persisted (everything else is lost).
    mutating func restart(_ name: String) {
        let id = NodeID(name)
        var stored = storage[id]!
        stored.applied = stored.snapshot.index
        nodes[id] = RaftNode(id: id, settings: nodes[id]!.settings, storage: stored)
    }

    /// Restarts a node whose data was lost: it comes back under the same name with empty storage.
    mutating func wipe(_ name: String) {
        let id = NodeID(name)
        storage[id] = .empty
        applied[id] = []
        nodes[id] = RaftNode(id: id, settings: nodes[id]!.settings, storage: .empty)
    }

    // MARK: Views

    /// The nodes that believe they lead (a cut-off leader included).
    var leaders: [NodeID] { ids.filter { nodes[$0]!.state == .leader } }

    /// Commands the node applied, as strings.
    func appliedCommands(_ name: String) -> [String] {
        (applied[NodeID(name)] ?? []).compactMap {
            if case .command(let data) = $0.payload { String(decoding: data, as: UTF8.self) } else { nil }
        }
    }

    /// The node's entries (after its snapshot).
    func entries(_ name: String) -> [LogEntry] {
        self[name].log.entries(from: self[name].log.firstIndex) ?? []
    }

    /// Elects `name` by starting its campaign and delivering everything.
    mutating func elect(_ name: String) {
        self[name].campaign()
        stabilize()
    }

    /// Proposes a command at `name` and delivers everything; returns the index.
    @discardableResult
    mutating func propose(_ name: String, _ command: String) throws -> LogIndex {
        let index = try self[name].propose(Array(command.utf8))
        stabilize()
        return index
    }
}

extension LogStorage {
    /// Storage holding `terms` as entries 1…n (entry 1 carries `configuration`, the rest are commands
    /// named by their position) at `term`, with `commit`.
    static func log(_ configuration: Configuration, terms: [Term], term: Term, commit: LogIndex = 0) -> LogStorage {
        let entries = terms.enumerated().map { offset, entryTerm in
            LogEntry(
                term: entryTerm, index: LogIndex(offset + 1),
                payload: offset == 0 ? .configuration(configuration) : .command(Array("\(offset + 1)@\(entryTerm)".utf8))
            )
        }
        return LogStorage(hardState: HardState(term: term, vote: nil, commit: commit), entries: entries)
    }
}
