/// A direct probe (`ping`, type 0). The target checks `node` against its own name and drops the ping if
/// it differs; it answers to `sourceAddress:sourcePort` when both are set, else to the sender.
public struct PingMessage: Hashable, Sendable {
    /// Matches the ack to the probe.
    public var sequenceNumber: UInt32
    /// The name of the node being probed (`Node`).
    public var node: String
    /// Where to send the ack (4 or 16 IP bytes); empty means "reply to the sender" (`SourceAddr`).
    public var sourceAddress: [UInt8]
    /// The port for the ack; 0 means unset (`SourcePort`).
    public var sourcePort: UInt16
    /// The prober's name (`SourceNode`).
    public var sourceNode: String

    /// Creates a ping; the source fields are optional, as in memberlist (`omitempty`).
    public init(
        sequenceNumber: UInt32, node: String,
        sourceAddress: [UInt8] = [], sourcePort: UInt16 = 0, sourceNode: String = ""
    ) {
        self.sequenceNumber = sequenceNumber
        self.node = node
        self.sourceAddress = sourceAddress
        self.sourcePort = sourcePort
        self.sourceNode = sourceNode
    }
}

/// Asks a helper to probe `target:port` for us (`indirectPingReq`, type 1). With `wantsNack` (protocol
/// version 4) the helper answers with a nack if the target stays silent for a probe timeout.
public struct IndirectPingMessage: Hashable, Sendable {
    /// The prober's sequence number, echoed in the relayed ack or the nack.
    public var sequenceNumber: UInt32
    /// The target's IP (4 or 16 bytes) (`Target`).
    public var target: [UInt8]
    /// The target's port (`Port`).
    public var port: UInt16
    /// The target's name (`Node`).
    public var node: String
    /// Whether the prober wants a nack on timeout (`Nack`).
    public var wantsNack: Bool
    /// Where to send the result; empty means "reply to the sender" (`SourceAddr`).
    public var sourceAddress: [UInt8]
    /// The port for the result; 0 means unset (`SourcePort`).
    public var sourcePort: UInt16
    /// The prober's name (`SourceNode`).
    public var sourceNode: String

    /// Creates an indirect ping request.
    public init(
        sequenceNumber: UInt32, target: [UInt8], port: UInt16, node: String, wantsNack: Bool,
        sourceAddress: [UInt8] = [], sourcePort: UInt16 = 0, sourceNode: String = ""
    ) {
        self.sequenceNumber = sequenceNumber
        self.target = target
        self.port = port
        self.node = node
        self.wantsNack = wantsNack
        self.sourceAddress = sourceAddress
        self.sourcePort = sourcePort
        self.sourceNode = sourceNode
    }
}

/// The answer to a ping (`ackResp`, type 2), with an optional delegate payload.
public struct AckResponseMessage: Hashable, Sendable {
    /// The sequence number of the ping being answered (`SeqNo`).
    public var sequenceNumber: UInt32
    /// The ping delegate's payload; empty is sent as `nil`, as memberlist does (`Payload`).
    public var payload: [UInt8]

    /// Creates an ack.
    public init(sequenceNumber: UInt32, payload: [UInt8] = []) {
        self.sequenceNumber = sequenceNumber
        self.payload = payload
    }
}

/// An indirect helper's "no answer from the target" (`nackResp`, type 11, protocol version 4).
public struct NackResponseMessage: Hashable, Sendable {
    /// The sequence number of the indirect ping request (`SeqNo`).
    public var sequenceNumber: UInt32

    /// Creates a nack.
    public init(sequenceNumber: UInt32) {
        self.sequenceNumber = sequenceNumber
    }
}
