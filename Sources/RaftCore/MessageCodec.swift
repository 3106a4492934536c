import CohortCore

/// The binary, versioned wire format of ``Message`` (layout in docs/raft.md).
///
/// Every integer is big-endian and fixed-width. The decoder is total: any byte sequence gives a message
/// or a ``MessageDecodingError``, never a crash, and it enforces ``Limits`` before allocating.
public struct MessageCodec: Sendable {
    /// Bounds the decoder enforces.
    public struct Limits: Hashable, Sendable {
        /// Largest encoded message. Default 64 MiB.
        public var maxMessageBytes: Int
        /// Most entries in one append. Default 4096.
        public var maxEntries: Int
        /// Largest command in one entry. Default 16 MiB.
        public var maxCommandBytes: Int
        /// Most voters plus standbys in a configuration. Default ``Configuration/maxMembers`` (1024).
        public var maxMembers: Int

        /// Creates limits; see each property for its default.
        public init(maxMessageBytes: Int = 64 << 20, maxEntries: Int = 4096, maxCommandBytes: Int = 16 << 20, maxMembers: Int = Configuration.maxMembers) {
            self.maxMessageBytes = maxMessageBytes
            self.maxEntries = maxEntries
            self.maxCommandBytes = maxCommandBytes
            self.maxMembers = maxMembers
        }
    }

    /// The first two bytes of every message: "RF".
    public static let magic: [UInt8] = [0x52, 0x46]
    /// The format version this codec writes and reads.
    public static let version: UInt8 = 1

    /// The decoder's bounds.
    public var limits: Limits

    /// A codec with `limits`.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    // MARK: Encoding

    /// The bytes of `message`.
    public func encode(_ message: Message) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(Self.magic)
        writer.u8(Self.version)
        writer.u8(Self.tag(of: message.kind))
        writer.u64(message.term)
        writer.nodeID(message.from)
        writer.nodeID(message.to)
        switch message.kind {
        case .preVote(let lastLog):
            writer.position(lastLog)
        case .preVoteResponse(let granted), .voteResponse(let granted):
            writer.flag(granted)
        case .vote(let lastLog, let transfer):
            writer.position(lastLog)
            writer.flag(transfer)
        case .append(let request):
            writer.position(request.previous)
            writer.u64(request.commit)
            writer.u32(UInt32(request.entries.count))
            for entry in request.entries { writer.entry(entry) }
        case .appendResponse(let response):
            // Bit 0: accepted; bit 1: sent by a blank replica (so every other answer encodes as in version 1).
            writer.u8((response.accepted ? 1 : 0) | (response.blank ? 2 : 0))
            writer.u64(response.index)
            writer.position(response.hint)
        case .heartbeat(let commit, let sequence):
            writer.u64(commit)
            writer.u64(sequence)
        case .heartbeatResponse(let sequence):
            writer.u64(sequence)
        case .snapshot(let metadata):
            writer.u64(metadata.index)
            writer.u64(metadata.term)
            writer.configuration(metadata.configuration)
        case .timeoutNow:
            break
        case .readIndex(let context):
            writer.u64(context)
        case .readIndexResponse(let context, let index):
            writer.u64(context)
            writer.u64(index)
        case .admit(let position), .outsideConfiguration(let position):
            writer.position(position)
        }
        return writer.buffer
    }

    static func tag(of kind: MessageKind) -> UInt8 {
        switch kind {
        case .preVote: 1
        case .preVoteResponse: 2
        case .vote: 3
        case .voteResponse: 4
        case .append: 5
        case .appendResponse: 6
        case .heartbeat: 7
        case .heartbeatResponse: 8
        case .snapshot: 9
        case .timeoutNow: 10
        case .readIndex: 11
        case .readIndexResponse: 12
        case .admit: 13
        case .outsideConfiguration: 14
        }
    }

    // MARK: Decoding

    /// The message in `bytes`, or why there is none.
    public func decode(_ bytes: [UInt8]) throws(MessageDecodingError) -> Message {
        guard bytes.count <= limits.maxMessageBytes else {
            throw .limitExceeded(field: "message bytes", value: bytes.count, limit: limits.maxMessageBytes)
        }
        var reader = MessageReader(bytes, limits: limits)
        guard try reader.bytes(2) == Self.magic else { throw .badMagic }
        let version = try reader.u8()
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let tag = try reader.u8()
        let term = try reader.u64()
        let from = try reader.nodeID()
        let to = try reader.nodeID()
        let kind: MessageKind
        switch tag {
        case 1: kind = .preVote(lastLog: try reader.position())
        case 2: kind = .preVoteResponse(granted: try reader.flag())
        case 3: kind = .vote(lastLog: try reader.position(), transfer: try reader.flag())
        case 4: kind = .voteResponse(granted: try reader.flag())
        case 5: kind = .append(try reader.appendRequest(term: term))
        case 6:
            let flags = try reader.u8("append response flags")
            guard flags <= 3 else { throw .invalidFlag(flags) }
            kind = .appendResponse(AppendResponse(accepted: flags & 1 == 1, index: try reader.u64(), hint: try reader.position(), blank: flags & 2 == 2))
        case 7: kind = .heartbeat(commit: try reader.u64(), readSequence: try reader.u64())
        case 8: kind = .heartbeatResponse(readSequence: try reader.u64())
        case 9: kind = .snapshot(SnapshotMetadata(index: try reader.u64(), term: try reader.u64(), configuration: try reader.configuration()))
        case 10: kind = .timeoutNow
        case 11: kind = .readIndex(context: try reader.u64())
        case 12: kind = .readIndexResponse(context: try reader.u64(), index: try reader.u64())
        case 13: kind = .admit(through: try reader.position())
        case 14: kind = .outsideConfiguration(lastLog: try reader.position())
        default: throw .unknownKind(tag)
        }
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
        return Message(from: from, to: to, term: term, kind: kind)
    }
}

/// Why bytes are not a ``Message``. Drop the bytes and count them; never retry them.
public enum MessageDecodingError: Error, Hashable, Sendable {
    /// The bytes end inside a field.
    case truncated(field: String)
    /// The bytes do not start with "RF".
    case badMagic
    /// A format version this build does not read.
    case unsupportedVersion(UInt8)
    /// A message kind this version does not define.
    case unknownKind(UInt8)
    /// An entry payload kind this version does not define.
    case unknownPayload(UInt8)
    /// A boolean byte other than 0 or 1.
    case invalidFlag(UInt8)
    /// A node ID that is empty or not UTF-8.
    case invalidNodeID
    /// A count or size above the decoder's limit.
    case limitExceeded(field: String, value: Int, limit: Int)
    /// Well-formed bytes that describe an impossible message (e.g. entries out of order).
    case invalid(String)
    /// Bytes left after the message.
    case trailingBytes(Int)
}

/// The Raft codec's values on CohortCore's writer (`package`: Raft's storage writes the same encodings).
extension ByteWriter {
    /// `u8 length (1…255)` + UTF-8 bytes.
    package mutating func nodeID(_ node: NodeID) {
        let utf8 = Array(node.rawValue.utf8.prefix(255))
        u8(UInt8(utf8.count))
        bytes(utf8)
    }

    package mutating func position(_ position: LogPosition) {
        u64(position.term)
        u64(position.index)
    }

    package mutating func configuration(_ configuration: Configuration) {
        u16(UInt16(clamping: configuration.voters.count))
        for voter in configuration.voters.prefix(Int(UInt16.max)) { nodeID(voter) }
        u16(UInt16(clamping: configuration.standbys.count))
        for standby in configuration.standbys.prefix(Int(UInt16.max)) { nodeID(standby) }
    }

    package mutating func entry(_ entry: LogEntry) {
        u64(entry.term)
        u64(entry.index)
        switch entry.payload {
        case .noop:
            u8(0)
        case .command(let data):
            u8(1)
            u32(UInt32(clamping: data.count))
            bytes(data)
        case .configuration(let configuration):
            u8(2)
            self.configuration(configuration)
        }
    }
}

/// The Raft codec's reader: CohortCore's ``ByteReader`` with the codec's limits, its domain values and its
/// typed errors.
package struct MessageReader {
    private var reader: ByteReader
    private let limits: MessageCodec.Limits

    package init(_ buffer: [UInt8], limits: MessageCodec.Limits) {
        reader = ByteReader(buffer)
        self.limits = limits
    }

    package var remaining: Int { reader.remaining }

    /// Runs a read of the shared reader, mapping its error to the codec's.
    private mutating func read<T>(_ body: (inout ByteReader) throws(ByteReaderError) -> T) throws(MessageDecodingError) -> T {
        do {
            return try body(&reader)
        } catch {
            switch error {
            case .truncated(let field, _, _): throw .truncated(field: field)
            case .invalidFlag(_, let value): throw .invalidFlag(value)
            case .invalidUTF8: throw .invalidNodeID
            case .limitExceeded(let field, let value, let limit): throw .limitExceeded(field: field, value: Int(clamping: value), limit: limit)
            case .trailingBytes(let count): throw .trailingBytes(count)
            }
        }
    }

    package mutating func bytes(_ count: Int, field: String = "bytes") throws(MessageDecodingError) -> [UInt8] {
        try read { (reader: inout ByteReader) throws(ByteReaderError) in try reader.bytes(count, field) }
    }

    package mutating func u8(_ field: String = "u8") throws(MessageDecodingError) -> UInt8 {
        try read { (reader: inout ByteReader) throws(ByteReaderError) in try reader.u8(field) }
    }

    package mutating func flag() throws(MessageDecodingError) -> Bool {
        try read { (reader: inout ByteReader) throws(ByteReaderError) in try reader.flag("flag") }
    }

    package mutating func u16() throws(MessageDecodingError) -> Int {
        Int(try read { (reader: inout ByteReader) throws(ByteReaderError) in try reader.u16("u16") })
    }

    package mutating func u32() throws(MessageDecodingError) -> Int {
        Int(try read { (reader: inout ByteReader) throws(ByteReaderError) in try reader.u32("u32") })
    }

    package mutating func u64() throws(MessageDecodingError) -> UInt64 {
        try read { (reader: inout ByteReader) throws(ByteReaderError) in try reader.u64("u64") }
    }

    package mutating func nodeID() throws(MessageDecodingError) -> NodeID {
        let length = Int(try u8("node ID length"))
        let utf8 = try bytes(length, field: "node ID")
        guard length > 0, let name = String(wireUTF8: utf8) else { throw .invalidNodeID }
        return NodeID(name)
    }

    package mutating func position() throws(MessageDecodingError) -> LogPosition {
        LogPosition(term: try u64(), index: try u64())
    }

    package mutating func members(_ field: String) throws(MessageDecodingError) -> [NodeID] {
        let count = try u16()
        guard count <= limits.maxMembers else { throw .limitExceeded(field: field, value: count, limit: limits.maxMembers) }
        var members: [NodeID] = []
        for _ in 0..<count { members.append(try nodeID()) }
        // Written sorted and distinct (as `Configuration` keeps them), so one configuration has one encoding.
        guard zip(members, members.dropFirst()).allSatisfy({ $0 < $1 }) else { throw .invalid("\(field) must be sorted and distinct") }
        return members
    }

    package mutating func configuration() throws(MessageDecodingError) -> Configuration {
        let voters = try members("voters")
        let standbys = try members("standbys")
        guard voters.count + standbys.count <= limits.maxMembers else {
            throw .limitExceeded(field: "members", value: voters.count + standbys.count, limit: limits.maxMembers)
        }
        guard Set(voters).isDisjoint(with: standbys) else { throw .invalid("a node is both voter and standby") }
        return Configuration(voters: voters, standbys: standbys)
    }

    package mutating func entry() throws(MessageDecodingError) -> LogEntry {
        let term = try u64(), index = try u64()
        let payload: LogEntry.Payload
        switch try u8("payload kind") {
        case 0: payload = .noop
        case 1:
            let length = try u32()
            guard length <= limits.maxCommandBytes else {
                throw .limitExceeded(field: "command bytes", value: length, limit: limits.maxCommandBytes)
            }
            payload = .command(try bytes(length, field: "command"))
        case 2: payload = .configuration(try configuration())
        case let other: throw .unknownPayload(other)
        }
        return LogEntry(term: term, index: index, payload: payload)
    }

    package mutating func appendRequest(term: Term) throws(MessageDecodingError) -> AppendRequest {
        let previous = try position()
        let commit = try u64()
        let count = try u32()
        guard count <= limits.maxEntries else { throw .limitExceeded(field: "entries", value: count, limit: limits.maxEntries) }
        // Each entry takes at least 17 bytes: refuse a count the remaining bytes cannot hold before allocating.
        guard count <= remaining / 17 else { throw .truncated(field: "entries") }
        var entries: [LogEntry] = []
        entries.reserveCapacity(count)
        var lastTerm = previous.term
        for offset in 0..<count {
            let entry = try entry()
            guard previous.index < LogIndex.max - LogIndex(count), entry.index == previous.index + 1 + LogIndex(offset) else {
                throw .invalid("entries must follow the previous index without gaps")
            }
            guard entry.term >= lastTerm, entry.term <= term else {
                throw .invalid("entry terms must not decrease nor exceed the message's term")
            }
            lastTerm = entry.term
            entries.append(entry)
        }
        return AppendRequest(previous: previous, entries: entries, commit: commit)
    }
}
