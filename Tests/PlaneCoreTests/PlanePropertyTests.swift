import CohortCore
import CohortTestKit
import PlaneCore
import Testing

/// Random entry sets for property tests: few keys (so writes collide), few nodes and times (so stamps tie).
struct EntryGenerator {
    var random: SplitMix64
    /// True: an entry's content follows from its key and stamp, as with a correct clock (one stamp, one
    /// write). False: any content, same-stamp conflicts included.
    var realistic: Bool

    init(seed: UInt64, realistic: Bool = false) {
        random = SplitMix64(seed: seed)
        self.realistic = realistic
    }

    mutating func entry() -> PlaneEntry {
        let key = Array("k\(Int.random(in: 0..<12, using: &random))".utf8)
        let stamp = PlaneStamp(
            time: HLC(millis: UInt64.random(in: 1...6, using: &random), logical: UInt16.random(in: 0...1, using: &random)),
            node: NodeID("n\(Int.random(in: 0..<3, using: &random))")
        )
        var content = realistic ? SplitMix64(seed: stamp.time.rawValue &* 31 &+ UInt64(key.last!) &* 7 &+ UInt64(stamp.node.rawValue.utf8.last!)) : random
        defer { if !realistic { random = content } }
        if content.chance(0.25) { return PlaneEntry(tombstone: key, stamp: stamp) }
        let value = Array("v\(Int.random(in: 0..<3, using: &content))".utf8)
        let expiry: UInt64? = content.chance(0.2) ? UInt64.random(in: 50...60, using: &content) : nil
        return PlaneEntry(key: key, stamp: stamp, value: value, expiresAtMillis: expiry)
    }

    mutating func entries(_ count: Int) -> [PlaneEntry] {
        (0..<count).map { _ in entry() }
    }
}

/// Every entry of a state, in key order.
func contents(_ state: PlaneState) -> [PlaneEntry] {
    state.entries.map(\.value)
}

@Suite struct PlanePropertyTests {
    static func merged(_ entries: [PlaneEntry], physical: UInt64 = 0) -> PlaneState {
        var state = PlaneState()
        for entry in entries { state.merge(entry, atLocalMillis: 0, physicalMillis: physical) }
        return state
    }

    @Test(arguments: 0..<64 as Range<UInt64>)
    func mergeIsCommutativeAssociativeAndIdempotent(seed: UInt64) {
        var generator = EntryGenerator(seed: seed)
        let entries = generator.entries(Int.random(in: 0...30, using: &generator.random))
        let reference = Self.merged(entries)
        // Any order, with duplicates, and in two halves merged state-by-state.
        var shuffled = entries + entries.filter { _ in generator.random.chance(0.5) }
        shuffled.shuffle(using: &generator.random)
        let other = Self.merged(shuffled)
        #expect(contents(other) == contents(reference))
        #expect(other.digest == reference.digest)
        let cut = shuffled.isEmpty ? 0 : Int.random(in: 0...shuffled.count, using: &generator.random)
        var halves = Self.merged(Array(shuffled[..<cut]))
        for entry in contents(Self.merged(Array(shuffled[cut...]))) { halves.merge(entry, atLocalMillis: 0, physicalMillis: 0) }
        #expect(contents(halves) == contents(reference))
        // Merging everything again changes nothing.
        var again = reference
        for entry in entries { #expect(again.merge(entry, atLocalMillis: 0, physicalMillis: 0) == nil) }
        #expect(again.digest == reference.digest)
    }

    @Test(arguments: 0..<64 as Range<UInt64>)
    func digestsAreEqualExactlyWhenEntriesAre(seed: UInt64) {
        var generator = EntryGenerator(seed: seed)
        let a = Self.merged(generator.entries(Int.random(in: 0...8, using: &generator.random)))
        let b = Self.merged(generator.entries(Int.random(in: 0...8, using: &generator.random)))
        #expect((a.digest == b.digest) == (contents(a) == contents(b)))
        #expect(a.differingShards(from: b.digest).isEmpty == (contents(a) == contents(b)))
        // The shards that differ hold exactly the keys whose entries differ.
        let differing = Set(a.differingShards(from: b.digest))
        for entry in contents(a) + contents(b) where a[entry.key] != b[entry.key] {
            #expect(differing.contains(a.shard(of: entry.key)))
        }
        // Pulling the differing shards both ways makes the states equal.
        var a2 = a, b2 = b
        for entry in b.entries(inShards: differing) { a2.merge(entry, atLocalMillis: 0, physicalMillis: 0) }
        for entry in a.entries(inShards: differing) { b2.merge(entry, atLocalMillis: 0, physicalMillis: 0) }
        #expect(contents(a2) == contents(b2) && a2.digest == b2.digest)
    }

    @Test(arguments: 0..<40 as Range<UInt64>)
    func anExpiredValueStillReplacesWhatItSuperseded(seed: UInt64) {
        // A node that merges a value before it expires (and expires it later) and one that merges it
        // after end up alike: the expiry is a tombstone of the value's stamp on both. (One stamp is one
        // write: two different entries with one stamp cannot both exist.)
        var generator = EntryGenerator(seed: seed, realistic: true)
        let entries = generator.entries(20)
        var early = Self.merged(entries, physical: 0)
        early.expire(atMillis: 100, localMillis: 0)
        let late = Self.merged(entries.shuffled(using: &generator.random), physical: 100)
        #expect(contents(early) == contents(late))
        #expect(early.nextExpiryMillis == nil)
        #expect(late.values(physicalMillis: 100).allSatisfy { $0.expiresAtMillis == nil })
    }

    @Test(arguments: 0..<40 as Range<UInt64>)
    func entriesAndMessagesRoundTrip(seed: UInt64) throws {
        var generator = EntryGenerator(seed: seed)
        let entries = generator.entries(Int.random(in: 0...10, using: &generator.random))
        for entry in entries {
            var writer = ByteWriter()
            PlaneCodec.write(entry, to: &writer)
            var reader = ByteReader(writer.buffer)
            #expect(try PlaneCodec.readEntry(&reader) == entry)
            #expect(reader.isAtEnd)
        }
        let state = Self.merged(entries)
        let messages: [PlaneMessage] = [
            .delta(sender: NodeID("n1"), planes: [.init(plane: "p", entries: entries), .init(plane: "q", entries: [])]),
            .digest(sender: NodeID("n2"), planes: [.init(plane: "p", digest: state.digest)]),
            .pull(planes: [.init(plane: "p", shards: [0, 5, 63]), .init(plane: "kv:x", shards: [])]),
            .entries(planes: [.init(plane: "p", entries: entries)]),
        ]
        for message in messages {
            let bytes = message.encoded()
            #expect(try PlaneMessage(decoding: bytes) == message)
            // Every strict prefix is refused, as is any trailing byte.
            for length in 0..<bytes.count {
                #expect(throws: PlaneMessage.DecodeError.self) { try PlaneMessage(decoding: Array(bytes[..<length])) }
            }
            #expect(throws: PlaneMessage.DecodeError.self) { try PlaneMessage(decoding: bytes + [0]) }
            // Flipped bytes decode or are refused; never a crash.
            var random = SplitMix64(seed: seed, stream: 1)
            for _ in 0..<50 {
                var hostile = bytes
                hostile[Int.random(in: 0..<hostile.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                _ = try? PlaneMessage(decoding: hostile)
            }
        }
    }

    @Test func hostileCountsAndVersionsAreRefusedCheaply() {
        #expect(throws: PlaneMessage.DecodeError.unknownVersion(nil)) { try PlaneMessage(decoding: []) }
        #expect(throws: PlaneMessage.DecodeError.unknownVersion(2)) { try PlaneMessage(decoding: [2, 1]) }
        #expect(throws: PlaneMessage.DecodeError.unknownType(9)) { try PlaneMessage(decoding: [1, 9]) }
        // A delta claiming 2^20 entries in a dozen bytes fails on the first missing one.
        let huge: [UInt8] = [1, 1, 1, 0x61, 0, 1, 1, 0x70, 0x00, 0x10, 0x00, 0x00]
        #expect(throws: PlaneMessage.DecodeError.self) { try PlaneMessage(decoding: huge) }
        // Over the limits.
        #expect(throws: PlaneMessage.DecodeError.self) { try PlaneMessage(decoding: [1, 1, 1, 0x61, 0, 1, 1, 0x70, 0xff, 0xff, 0xff, 0xff]) }
        #expect(throws: PlaneMessage.DecodeError.self) { try PlaneMessage(decoding: [1, 3, 0, 1, 1, 0x70, 0, 1, 0xff, 0xff]) }
        // A digest with zero shards.
        #expect(throws: PlaneMessage.DecodeError.self) { try PlaneMessage(decoding: [1, 2, 1, 0x61, 0, 1, 1, 0x70] + Array(repeating: 0, count: 8) + [0, 0]) }
    }
}
