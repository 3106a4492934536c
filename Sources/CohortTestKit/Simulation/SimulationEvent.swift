/// How a message travels.
public enum NetworkTransport: Hashable, Sendable {
    /// Unreliable and unordered, like UDP: may be lost, duplicated or reordered.
    case datagram
    /// Reliable and ordered per direction of a link, like one TCP connection; fails when the link is cut.
    case stream
}

/// A message the network hands to its destination.
public struct NetworkDelivery<Address: Hashable & Sendable, Payload: Sendable>: Sendable {
    /// Unique per network, in sending order; a duplicate shares its original's id.
    public var id: UInt64
    /// The sender.
    public var from: Address
    /// The destination.
    public var to: Address
    /// What was sent.
    public var payload: Payload
    /// Datagram or stream.
    public var transport: NetworkTransport
    /// When it was sent.
    public var sentAt: ContinuousClock.Instant
}

/// What happens next in a simulated network: a message arrives, or a node's timer fires.
public enum SimulationEvent<Address: Hashable & Sendable, Payload: Sendable>: Sendable {
    /// A message reached a running node that its sender can reach.
    case delivery(NetworkDelivery<Address, Payload>)
    /// The node's timer (``SimulatedNetwork/setTimer(for:at:)``) is due; the node is running.
    case timer(Address)
    /// The node came up, as scheduled by ``SimulatedNetwork/restart(_:at:)``; it has no timer yet.
    case restarted(Address)
}
