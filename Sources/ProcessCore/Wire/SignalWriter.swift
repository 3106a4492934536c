import CohortCore

/// Appends the fields of a signal in wire order, over CohortCore's ``ByteWriter``.
struct SignalWriter {
    private var writer = ByteWriter(capacity: 64)

    /// What was written.
    var bytes: [UInt8] { writer.buffer }

    init() {}

    mutating func byte(_ value: UInt8) {
        writer.u8(value)
    }

    mutating func uint64(_ value: UInt64) {
        writer.u64(value)
    }

    mutating func pid(_ pid: PID) throws(ProcessWireError) {
        try nodeName(pid.node)
        uint64(pid.incarnation.rawValue)
        uint64(pid.serial)
    }

    mutating func optionalPID(_ pid: PID?) throws(ProcessWireError) {
        guard let pid else { return byte(0) }
        byte(1)
        try self.pid(pid)
    }

    mutating func reference(_ ref: MonitorReference) throws(ProcessWireError) {
        try nodeName(ref.node)
        uint64(ref.incarnation.rawValue)
        uint64(ref.serial)
    }

    /// A node name: one length byte (1...255) and the UTF-8 bytes.
    mutating func nodeName(_ node: NodeID) throws(ProcessWireError) {
        let utf8 = node.rawValue.utf8
        guard !utf8.isEmpty, utf8.count <= ProcessWireLimits.maxNodeNameBytes else { throw .oversized(field: "node") }
        byte(UInt8(utf8.count))
        writer.bytes(utf8)
    }

    /// A text of at most `limit` bytes: a two-byte length and the UTF-8 bytes.
    mutating func text16(_ text: String, limit: Int, field: String) throws(ProcessWireError) {
        let utf8 = text.utf8
        guard utf8.count <= limit else { throw .oversized(field: field) }
        writer.u16(UInt16(utf8.count))
        writer.bytes(utf8)
    }

    /// A reason or failure description, cut to ``ProcessWireLimits/maxReasonBytes`` at a character boundary: an
    /// overlong description must not stop an exit notification from being sent.
    mutating func reason(_ text: String) {
        var cut = Substring(text)
        while cut.utf8.count > ProcessWireLimits.maxReasonBytes {
            cut = cut.dropLast(max(1, (cut.utf8.count - ProcessWireLimits.maxReasonBytes) / 4))
        }
        // Cannot throw: the text now fits.
        try? text16(String(cut), limit: ProcessWireLimits.maxReasonBytes, field: "reason")
    }

    /// Bytes of at most ``ProcessWireLimits/maxPayloadBytes``: a four-byte length and the bytes.
    mutating func payload(_ payload: [UInt8]) throws(ProcessWireError) {
        guard payload.count <= ProcessWireLimits.maxPayloadBytes else { throw .oversized(field: "payload") }
        writer.lengthPrefixed(payload, lengthWidth: 4)
    }

    /// An outcome: a tag byte (0 normal, 1 failed, 2 cancelled, 3 terminated, 4 linked, 5 no process, 6 node down)
    /// and its value, if any.
    mutating func outcome(_ outcome: ProcessOutcome) throws(ProcessWireError) {
        switch outcome {
        case .normal(let result):
            byte(0)
            if let result {
                byte(1)
                try payload(result)
            } else {
                byte(0)
            }
        case .failed(let why):
            byte(1)
            reason(why)
        case .cancelled(let why):
            byte(2)
            reason(why)
        case .terminated:
            byte(3)
        case .linked(let pid):
            byte(4)
            try self.pid(pid)
        case .noProcess:
            byte(5)
        case .nodeDown:
            byte(6)
        }
    }
}
