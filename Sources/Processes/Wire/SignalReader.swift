import CohortCore

/// Reads the fields of a signal, checking every length against the limit and the bytes left before copying.
struct SignalReader {
    let bytes: [UInt8]
    var index: Int

    private func need(_ count: Int) throws(ProcessWireError) {
        guard bytes.count - index >= count else { throw .truncated }
    }

    mutating func byte() throws(ProcessWireError) -> UInt8 {
        try need(1)
        defer { index += 1 }
        return bytes[index]
    }

    mutating func uint64() throws(ProcessWireError) -> UInt64 {
        try need(8)
        var value: UInt64 = 0
        for offset in 0..<8 {
            value = value << 8 | UInt64(bytes[index + offset])
        }
        index += 8
        return value
    }

    private mutating func text(count: Int, field: String) throws(ProcessWireError) -> String {
        try need(count)
        defer { index += count }
        guard let text = String(validating: bytes[index..<index + count], as: UTF8.self) else {
            throw .invalidText(field: field)
        }
        return text
    }

    mutating func nodeName() throws(ProcessWireError) -> NodeID {
        let count = Int(try byte())
        guard count > 0 else { throw .invalidText(field: "node") }
        return NodeID(try text(count: count, field: "node"))
    }

    mutating func pid() throws(ProcessWireError) -> PID {
        let node = try nodeName()
        let incarnation = Incarnation(try uint64())
        return PID(node: node, incarnation: incarnation, serial: try uint64())
    }

    mutating func optionalPID() throws(ProcessWireError) -> PID? {
        switch try byte() {
        case 0: return nil
        case 1: return try pid()
        case let tag: throw .invalidTag(field: "optional pid", value: tag)
        }
    }

    mutating func reference() throws(ProcessWireError) -> MonitorReference {
        let node = try nodeName()
        let incarnation = Incarnation(try uint64())
        return MonitorReference(node: node, incarnation: incarnation, serial: try uint64())
    }

    mutating func text16(limit: Int, field: String) throws(ProcessWireError) -> String {
        let count = Int(try byte()) << 8 | Int(try byte())
        guard count <= limit else { throw .oversized(field: field) }
        return try text(count: count, field: field)
    }

    mutating func payload() throws(ProcessWireError) -> [UInt8] {
        var count = 0
        for _ in 0..<4 {
            count = count << 8 | Int(try byte())
        }
        guard count <= ProcessWireLimits.maxPayloadBytes else { throw .oversized(field: "payload") }
        try need(count)
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    mutating func outcome() throws(ProcessWireError) -> ProcessOutcome {
        switch try byte() {
        case 0:
            switch try byte() {
            case 0: return .normal(nil)
            case 1: return .normal(try payload())
            case let tag: throw .invalidTag(field: "normal result", value: tag)
            }
        case 1: return .failed(try text16(limit: ProcessWireLimits.maxReasonBytes, field: "reason"))
        case 2: return .cancelled(try text16(limit: ProcessWireLimits.maxReasonBytes, field: "reason"))
        case 3: return .terminated
        case 4: return .linked(try pid())
        case 5: return .noProcess
        case 6: return .nodeDown
        case let tag: throw .invalidTag(field: "outcome", value: tag)
        }
    }
}
