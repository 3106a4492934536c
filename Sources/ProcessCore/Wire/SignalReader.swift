import CohortCore

/// Reads the fields of a signal over CohortCore's ``ByteReader`` (every length checked against the limit and the
/// bytes left before copying), with the signal codec's typed errors.
struct SignalReader {
    private var reader: ByteReader

    /// A reader of `bytes` from `offset` on.
    init(bytes: [UInt8], skipping offset: Int) {
        reader = ByteReader(bytes)
        if offset > 0 { _ = try? reader.bytes(offset) }
    }

    /// Bytes left after what was read.
    var remaining: Int { reader.remaining }

    /// Runs a read of the shared reader, mapping its error to the codec's.
    private mutating func read<T>(_ body: (inout ByteReader) throws(ByteReaderError) -> T) throws(ProcessWireError) -> T {
        do {
            return try body(&reader)
        } catch {
            switch error {
            case .invalidUTF8(let field): throw .invalidText(field: field)
            case .limitExceeded(let field, _, _): throw .oversized(field: field)
            case .trailingBytes(let count): throw .trailingBytes(count)
            case .truncated, .invalidFlag: throw .truncated
            }
        }
    }

    mutating func byte() throws(ProcessWireError) -> UInt8 {
        try read { (reader: inout ByteReader) throws(ByteReaderError) in try reader.u8() }
    }

    mutating func uint64() throws(ProcessWireError) -> UInt64 {
        try read { (reader: inout ByteReader) throws(ByteReaderError) in try reader.u64() }
    }

    private mutating func text(count: Int, field: String) throws(ProcessWireError) -> String {
        try read { (reader: inout ByteReader) throws(ByteReaderError) in try reader.utf8(count, field) }
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
        let count = Int(try read { (reader: inout ByteReader) throws(ByteReaderError) in try reader.u16(field) })
        guard count <= limit else { throw .oversized(field: field) }
        return try text(count: count, field: field)
    }

    mutating func payload() throws(ProcessWireError) -> [UInt8] {
        try read { (reader: inout ByteReader) throws(ByteReaderError) in
            try reader.lengthPrefixed(lengthWidth: 4, limit: ProcessWireLimits.maxPayloadBytes, "payload")
        }
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
