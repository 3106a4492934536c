/// Faults: partitions, blocked links, crashed nodes and slow nodes.
extension SimulatedNetwork {
    // MARK: Partitions

    /// Splits the network into `groups`: nodes talk only within their own group, and a node in no group
    /// talks to no one. Replaces any earlier partition; blocked links stay blocked. Messages already in
    /// flight across the cut are dropped when they arrive.
    public mutating func partition(_ groups: [Set<Address>]) {
        var sides: [Address: Int] = [:]
        for (side, group) in groups.enumerated() {
            for node in group {
                precondition(sides[node] == nil, "\(node) is in two groups of one partition")
                sides[node] = side
            }
        }
        self.sides = sides
    }

    /// Makes the network whole again: removes the partition and unblocks every blocked link.
    public mutating func heal() {
        sides = nil
        blockedLinks = []
    }

    /// Cuts one direction of one link (an asymmetric fault: `to` can still reach `from`).
    public mutating func block(from: Address, to: Address) {
        blockedLinks.insert(Link(from: from, to: to))
    }

    /// Restores one direction of one link cut by ``block(from:to:)``.
    public mutating func unblock(from: Address, to: Address) {
        blockedLinks.remove(Link(from: from, to: to))
    }

    /// True unless a partition or a blocked link separates `from` from `to` (a node always reaches itself).
    /// Whether the ends are up is a separate matter (``isDown(_:)``).
    public func canReach(from: Address, to: Address) -> Bool {
        guard from != to else { return true }
        if blockedLinks.contains(Link(from: from, to: to)) { return false }
        guard let sides else { return true }
        guard let fromSide = sides[from], let toSide = sides[to] else { return false }
        return fromSide == toSide
    }

    /// The partition in force as groups of nodes, or nil when there is none.
    public var partitionGroups: [Set<Address>]? {
        guard let sides else { return nil }
        var groups: [Int: Set<Address>] = [:]
        for (node, side) in sides { groups[side, default: []].insert(node) }
        return groups.keys.sorted().map { groups[$0] ?? [] }
    }

    // MARK: Crashes

    /// Stops `node`: its timer is cancelled and never fires, it sends nothing, and messages reaching it are
    /// dropped. Also the state of a node that has not started yet.
    public mutating func crash(_ node: Address) {
        down.insert(node)
        cancelTimer(for: node)
    }

    /// Lets `node` run again after ``crash(_:)`` (or start for the first time). Its timer is not set: the
    /// driver sets it for the node's fresh state. Messages dropped while it was down stay lost.
    public mutating func restart(_ node: Address) {
        down.remove(node)
    }

    /// Brings `node` up at `time` (the past means now): ``next(until:)`` then returns
    /// ``SimulationEvent/restarted(_:)`` for it, and the driver sets its state and timer. The way to start
    /// nodes at staggered times: ``crash(_:)`` them all first.
    public mutating func restart(_ node: Address, at time: ContinuousClock.Instant) {
        scheduler.schedule(.restart(node), at: time)
    }

    /// True while `node` is crashed or not started.
    public func isDown(_ node: Address) -> Bool {
        down.contains(node)
    }

    // MARK: Slow nodes

    /// Makes `node` handle every message it receives `delay` late, on top of the link's delays, as a node
    /// with an overloaded receive path does; zero makes it prompt again. Applies to messages sent from now
    /// on, datagrams and streams alike. Its timers are not delayed: the node notices time passing on
    /// schedule but hears everything late.
    public mutating func setProcessingDelay(_ delay: Duration, for node: Address) {
        precondition(delay >= .zero, "a processing delay must not be negative")
        processingDelays[node] = delay > .zero ? delay : nil
    }

    /// The extra delay with which `node` handles what it receives.
    public func processingDelay(of node: Address) -> Duration {
        processingDelays[node] ?? .zero
    }
}
