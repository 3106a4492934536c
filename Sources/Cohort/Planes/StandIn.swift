// TEMPORARY stand-in for the planes shell (branch `planes`); removed when it merges.
import CohortCore
import Foundation
import PlaneCore
import ServiceLifecycle
import Synchronization

public struct PlaneOptions: Sendable {
    public var tombstoneGrace: Duration = .seconds(60)
    public var owner: (@Sendable (PlaneEntry) -> PID?)?
    public init(tombstoneGrace: Duration = .seconds(60), owner: (@Sendable (PlaneEntry) -> PID?)? = nil) {
        self.tombstoneGrace = tombstoneGrace
        self.owner = owner
    }
}

public enum PlaneEvent: Sendable {
    case changed([PlaneState.Change])
    case resync
}

public final class Plane: Sendable {
    public let id: String
    let node: NodeID
    private let inner = Mutex<(state: PlaneState, clock: HybridClock, subscribers: [UInt64: AsyncStream<PlaneEvent>.Continuation], next: UInt64)>(
        (PlaneState(), HybridClock(), [:], 0)
    )

    init(id: String, node: NodeID) {
        self.id = id
        self.node = node
    }

    public var state: PlaneState { inner.withLock { $0.state } }

    @discardableResult
    public func write(_ key: [UInt8], value: [UInt8]?, expiresAtMillis: UInt64? = nil) -> PlaneEntry {
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        return inner.withLock { inner in
            let stamp = PlaneStamp(time: inner.clock.now(physicalMillis: now), node: node)
            let entry = value.map { PlaneEntry(key: key, stamp: stamp, value: $0, expiresAtMillis: expiresAtMillis) }
                ?? PlaneEntry(tombstone: key, stamp: stamp)
            if let change = inner.state.merge(entry, atLocalMillis: 0, physicalMillis: now) {
                for continuation in inner.subscribers.values { continuation.yield(.changed([change])) }
            }
            return entry
        }
    }

    public func load(_ entries: [PlaneEntry]) {
        inner.withLock { inner in
            for entry in entries { inner.state.merge(entry, atLocalMillis: 0, physicalMillis: 0) }
        }
    }

    public func changes() -> AsyncStream<PlaneEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: PlaneEvent.self)
        inner.withLock { inner in
            inner.subscribers[inner.next] = continuation
            inner.next += 1
        }
        return stream
    }
}

public final class StatePlanes: Service, Sendable {
    let node: NodeID
    private let planes = Mutex<[String: Plane]>([:])

    init(node: NodeID) {
        self.node = node
    }

    public func plane(_ id: String, options: PlaneOptions = PlaneOptions()) -> Plane {
        planes.withLock { planes in
            precondition(planes[id] == nil)
            let plane = Plane(id: id, node: node)
            planes[id] = plane
            return plane
        }
    }

    public func run() async throws {
        try? await gracefulShutdown()
    }
}
