import CohortCore
import Logging
import Processes
@testable import ProcessCore
import Synchronization

/// Runtimes in one test process joined by in-memory links: one ordered queue per node pair, drained by its own
/// task, like the mesh's reliable per-peer FIFO. A crash cuts a node off and tells every other runtime `nodeDown`.
final class TestNetwork: Sendable {
    private struct Link {
        let continuation: AsyncStream<[UInt8]>.Continuation
        let pump: Task<Void, Never>
    }

    private struct State {
        var runtimes: [NodeID: ProcessRuntime] = [:]
        var links: [String: Link] = [:]
        var crashed: Set<NodeID> = []
    }

    private let state = Mutex(State())

    /// A transport that sends from `node`.
    func transport(from node: NodeID) -> some ProcessTransport { Endpoint(network: self, node: node) }

    /// Creates a runtime on this network and tells it and every runtime already here about each other.
    func runtime(
        _ name: String, incarnation: UInt64 = 1, mailboxLimit: Int = 100_000, metrics: PrometheusRegistry? = nil
    ) -> ProcessRuntime {
        let node = NodeID(name)
        let runtime = ProcessRuntime(
            node: node, incarnation: Incarnation(incarnation), transport: transport(from: node),
            logger: quietLogger, metrics: metrics, mailboxLimit: mailboxLimit
        )
        let (others, stale) = state.withLock { state in
            state.crashed.remove(node)
            state.runtimes[node] = runtime
            // A new boot of a node already here: its old links (and what was queued on them) are gone.
            let stale = state.links.filter { Self.touches($0.key, node) }
            for key in stale.keys { state.links[key] = nil }
            return (state.runtimes.values.filter { $0 !== runtime }, Array(stale.values))
        }
        for link in stale {
            link.continuation.finish()
            link.pump.cancel()
        }
        for other in others {
            other.nodeUp(node, incarnation: runtime.incarnation)
            runtime.nodeUp(other.node, incarnation: other.incarnation)
        }
        return runtime
    }

    /// `node` disappears: traffic to and from it stops at once, queued traffic is lost, and every other runtime is
    /// told it left membership (as gossip would).
    func crash(_ node: NodeID) {
        let (others, links) = state.withLock { state in
            state.crashed.insert(node)
            state.runtimes[node] = nil
            let cut = state.links.filter { Self.touches($0.key, node) }
            for key in cut.keys { state.links[key] = nil }
            return (Array(state.runtimes.values), Array(cut.values))
        }
        for link in links {
            link.continuation.finish()
            link.pump.cancel()
        }
        for other in others {
            other.nodeDown(node)
        }
    }

    /// Shuts down every runtime still on the network and stops the links.
    func shutdown() async {
        let (runtimes, links) = state.withLock { state in
            defer {
                state.runtimes = [:]
                state.links = [:]
            }
            return (Array(state.runtimes.values), Array(state.links.values))
        }
        for link in links {
            link.continuation.finish()
            link.pump.cancel()
        }
        for runtime in runtimes {
            await runtime.shutdown()
        }
    }

    fileprivate func send(_ bytes: [UInt8], from: NodeID, to: NodeID) {
        let continuation: AsyncStream<[UInt8]>.Continuation? = state.withLock { state in
            guard !state.crashed.contains(from), !state.crashed.contains(to), let receiver = state.runtimes[to] else {
                return nil
            }
            let key = "\(from.rawValue)->\(to.rawValue)"
            if let link = state.links[key] { return link.continuation }
            let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
            let pump = Task { [weak self] in
                for await bytes in stream {
                    guard let self, self.isConnected(from, to) else { return }
                    receiver.receive(bytes, from: from)
                }
            }
            state.links[key] = Link(continuation: continuation, pump: pump)
            return continuation
        }
        continuation?.yield(bytes)
    }

    private static func touches(_ key: String, _ node: NodeID) -> Bool {
        key.hasPrefix("\(node.rawValue)->") || key.hasSuffix("->\(node.rawValue)")
    }

    private func isConnected(_ a: NodeID, _ b: NodeID) -> Bool {
        state.withLock { !$0.crashed.contains(a) && !$0.crashed.contains(b) }
    }

    deinit {
        for link in state.withLock({ Array($0.links.values) }) {
            link.continuation.finish()
            link.pump.cancel()
        }
    }

    private struct Endpoint: ProcessTransport {
        let network: TestNetwork
        let node: NodeID

        func send(_ signal: [UInt8], to node: NodeID) {
            network.send(signal, from: self.node, to: node)
        }
    }
}
