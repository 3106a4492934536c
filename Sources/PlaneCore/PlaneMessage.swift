import CohortCore

/// The messages state planes exchange (docs/planes.md, docs/wire-gossip.md). Every message starts with a
/// version byte (``version``) and a type byte; a message of another version is refused as
/// ``PlaneMessage/DecodeError/unknownVersion(_:)`` (counted and dropped by the receiver, never a crash).
///
/// - `delta` (1): the sender, then for each plane its id and entries. Gossiped as a user message (≤ one
///   datagram) and, for an entry too large for a datagram, pushed over the mesh.
/// - `digest` (2): the sender, then for each plane its id and ``PlaneDigest``. Gossip push/pull user state.
/// - `pull` (3): for each plane its id and the shards wanted. A mesh request.
/// - `entries` (4): for each plane its id and the entries of the shards pulled. The reply.
///
/// Plane sections: plane id (u8 length + UTF-8, 1…255 bytes), then a u32 count and that many
/// ``PlaneCodec`` entries (delta, entries), one ``PlaneCodec`` digest (digest), or a u16 count and that
/// many u16 shard numbers (pull). A message holds at most ``maxPlanes`` sections.
public enum PlaneMessage: Hashable, Sendable {
    case delta(sender: NodeID, planes: [PlaneEntries])
    case digest(sender: NodeID, planes: [PlaneDigests])
    case pull(planes: [PlaneShards])
    case entries(planes: [PlaneEntries])

    /// The version this code writes and reads.
    public static let version: UInt8 = 1
    /// The most plane sections one message may carry.
    public static let maxPlanes = 1024
    /// The most entries one plane section may carry.
    public static let maxEntries = 1 << 20

    /// One plane's entries.
    public struct PlaneEntries: Hashable, Sendable {
        public var plane: String
        public var entries: [PlaneEntry]
        public init(plane: String, entries: [PlaneEntry]) {
            self.plane = plane
            self.entries = entries
        }
    }

    /// One plane's digest.
    public struct PlaneDigests: Hashable, Sendable {
        public var plane: String
        public var digest: PlaneDigest
        public init(plane: String, digest: PlaneDigest) {
            self.plane = plane
            self.digest = digest
        }
    }

    /// The shards of one plane a pull asks for.
    public struct PlaneShards: Hashable, Sendable {
        public var plane: String
        public var shards: [Int]
        public init(plane: String, shards: [Int]) {
            self.plane = plane
            self.shards = shards
        }
    }

    /// Why bytes are not a plane message.
    public enum DecodeError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The version byte is not ``PlaneMessage/version`` (or the message is empty: version nil).
        case unknownVersion(UInt8?)
        /// The type byte is unknown.
        case unknownType(UInt8)
        /// A field could not be read or holds a value it may not.
        case malformed(String)

        public var description: String {
            switch self {
            case .unknownVersion(let version): "plane message: unknown version \(version.map(String.init) ?? "(empty)")"
            case .unknownType(let type): "plane message: unknown type \(type)"
            case .malformed(let why): "plane message: \(why)"
            }
        }
    }

    /// The message's bytes.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(Self.version)
        switch self {
        case .delta(let sender, let planes):
            writer.u8(1)
            Self.write(node: sender, to: &writer)
            Self.write(planes, to: &writer)
        case .digest(let sender, let planes):
            writer.u8(2)
            Self.write(node: sender, to: &writer)
            writer.u16(UInt16(planes.count))
            for plane in planes {
                Self.write(plane: plane.plane, to: &writer)
                PlaneCodec.write(plane.digest, to: &writer)
            }
        case .pull(let planes):
            writer.u8(3)
            writer.u16(UInt16(planes.count))
            for plane in planes {
                Self.write(plane: plane.plane, to: &writer)
                writer.u16(UInt16(plane.shards.count))
                for shard in plane.shards { writer.u16(UInt16(shard)) }
            }
        case .entries(let planes):
            writer.u8(4)
            Self.write(planes, to: &writer)
        }
        return writer.buffer
    }

    /// Reads a message; every length is checked against the bytes there are, so hostile input costs no
    /// more than its own size.
    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var reader = ByteReader(bytes)
        let version = try? reader.u8("version")
        guard version == Self.version else { throw .unknownVersion(version) }
        do {
            let type = try reader.u8("type")
            switch type {
            case 1:
                let sender = try Self.readNode(&reader)
                self = .delta(sender: sender, planes: try Self.readEntries(&reader))
            case 2:
                let sender = try Self.readNode(&reader)
                let count = try Self.count(&reader, width: 2, limit: Self.maxPlanes, "digest planes")
                var planes: [PlaneDigests] = []
                for _ in 0..<count {
                    let plane = try Self.readPlane(&reader)
                    let digest = try PlaneCodec.readDigest(&reader)
                    planes.append(PlaneDigests(plane: plane, digest: digest))
                }
                self = .digest(sender: sender, planes: planes)
            case 3:
                let count = try Self.count(&reader, width: 2, limit: Self.maxPlanes, "pull planes")
                var planes: [PlaneShards] = []
                for _ in 0..<count {
                    let plane = try Self.readPlane(&reader)
                    let shardCount = try Self.count(&reader, width: 2, limit: PlaneDigest.maxShards, "pull shards")
                    var shards: [Int] = []
                    for _ in 0..<shardCount {
                        let shard = Int(try reader.u16("pull shard"))
                        guard shard < PlaneDigest.maxShards else {
                            throw ByteReaderError.limitExceeded(field: "pull shard", value: UInt64(shard), limit: PlaneDigest.maxShards - 1)
                        }
                        shards.append(shard)
                    }
                    planes.append(PlaneShards(plane: plane, shards: shards))
                }
                self = .pull(planes: planes)
            case 4:
                self = .entries(planes: try Self.readEntries(&reader))
            default:
                throw DecodeError.unknownType(type)
            }
            try reader.expectEnd()
        } catch let error as DecodeError {
            throw error
        } catch let error as PlaneCodec.DecodeError {
            throw .malformed(error.description)
        } catch let error as ByteReaderError {
            throw .malformed(error.description)
        } catch {
            throw .malformed("\(error)")
        }
    }

    // MARK: Pieces

    static func write(node: NodeID, to writer: inout ByteWriter) {
        writer.lengthPrefixed(Array(node.rawValue.utf8.prefix(PlaneLimits.maxNodeBytes)), lengthWidth: 1)
    }

    static func write(plane: String, to writer: inout ByteWriter) {
        writer.lengthPrefixed(Array(plane.utf8.prefix(PlaneLimits.maxPlaneIDBytes)), lengthWidth: 1)
    }

    static func write(_ planes: [PlaneEntries], to writer: inout ByteWriter) {
        writer.u16(UInt16(planes.count))
        for plane in planes {
            write(plane: plane.plane, to: &writer)
            writer.u32(UInt32(plane.entries.count))
            for entry in plane.entries { PlaneCodec.write(entry, to: &writer) }
        }
    }

    /// The bytes of a delta message's header (version, type, sender, plane count).
    static func deltaHeaderBytes(sender: NodeID) -> Int { 2 + 1 + min(sender.rawValue.utf8.count, PlaneLimits.maxNodeBytes) + 2 }

    /// The bytes a plane section's header takes (id and entry count).
    static func sectionHeaderBytes(plane: String) -> Int { 1 + min(plane.utf8.count, PlaneLimits.maxPlaneIDBytes) + 4 }

    private static func count(_ reader: inout ByteReader, width: Int, limit: Int, _ field: String) throws -> Int {
        let value = try reader.integer(width: width, field)
        guard value <= UInt64(limit) else { throw ByteReaderError.limitExceeded(field: field, value: value, limit: limit) }
        return Int(value)
    }

    private static func readNode(_ reader: inout ByteReader) throws -> NodeID {
        let bytes = try reader.lengthPrefixed(lengthWidth: 1, "sender")
        guard !bytes.isEmpty, let text = String(wireUTF8: bytes) else { throw ByteReaderError.invalidUTF8(field: "sender") }
        return NodeID(text)
    }

    private static func readPlane(_ reader: inout ByteReader) throws -> String {
        let bytes = try reader.lengthPrefixed(lengthWidth: 1, "plane id")
        guard !bytes.isEmpty, let text = String(validating: bytes, as: UTF8.self) else { throw ByteReaderError.invalidUTF8(field: "plane id") }
        return text
    }

    private static func readEntries(_ reader: inout ByteReader) throws -> [PlaneEntries] {
        let count = try Self.count(&reader, width: 2, limit: Self.maxPlanes, "planes")
        var planes: [PlaneEntries] = []
        for _ in 0..<count {
            let plane = try readPlane(&reader)
            let entryCount = try Self.count(&reader, width: 4, limit: Self.maxEntries, "entries")
            var entries: [PlaneEntry] = []
            // An entry takes at least 12 bytes: never reserve more than the bytes left could hold.
            entries.reserveCapacity(min(entryCount, reader.remaining / 12))
            for _ in 0..<entryCount {
                entries.append(try PlaneCodec.readEntry(&reader))
            }
            planes.append(PlaneEntries(plane: plane, entries: entries))
        }
        return planes
    }
}
