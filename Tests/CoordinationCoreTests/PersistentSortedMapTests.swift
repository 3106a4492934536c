import CohortTestKit
@testable import CoordinationCore
import Foundation
import Synchronization
import Testing

@Suite("Persistent sorted map")
struct PersistentSortedMapTests {
    typealias IntMap = PersistentSortedMap<Int, Int>

    @Test("20,000 random inserts, updates and removes agree with a Dictionary model, in key order, invariants intact")
    func agreesWithDictionaryModel() async {
        for seed: UInt64 in [1, 2, 3] {
            let failures = await onDedicatedThread { randomOperations(seed: seed, operations: 20_000, keyRange: 0..<3_000) }
            #expect(failures.count == 0, "seed \(seed): \(failures.prefix(5))")
        }
    }

    @Test("inserting keys in ascending or descending order keeps the height within the AVL bound")
    func orderedInsertsStayBalanced() throws {
        for keys in [Array(0..<10_000), Array((0..<10_000).reversed())] {
            var map = IntMap()
            for key in keys { map[key] = key }
            try map.checkInvariants()
            #expect(map.count == keys.count)
            #expect(Double(map.height) <= avlHeightBound(map.count))
            #expect(map.map(\.key) == Array(0..<10_000))
        }
    }

    @Test("first, last, contains, count and isEmpty on empty, one-entry and larger maps")
    func basicQueries() throws {
        var map = IntMap()
        #expect(map.isEmpty && map.count == 0)
        #expect(map.first == nil && map.last == nil)
        #expect(!map.contains(0) && map[0] == nil)
        #expect(map.removeValue(forKey: 0) == nil)
        #expect(map.updateValue(7, forKey: 5) == nil)
        #expect(!map.isEmpty && map.count == 1)
        #expect(map.first?.key == 5 && map.first?.value == 7 && map.last?.key == 5)
        #expect(map.contains(5) && !map.contains(4) && map[5] == 7)
        #expect(map.updateValue(8, forKey: 5) == 7)
        #expect(map.count == 1 && map[5] == 8)
        for key in [3, 9, 1, 6] { map[key] = key * 10 }
        #expect(map.first?.key == 1 && map.first?.value == 10)
        #expect(map.last?.key == 9 && map.last?.value == 90)
        map[9] = nil
        #expect(map.last?.key == 6 && map.count == 4 && !map.contains(9))
        #expect(map.removeValue(forKey: 5) == 8)
        #expect(map.removeValue(forKey: 5) == nil)
        #expect(map.map(\.key) == [1, 3, 6])
        try map.checkInvariants()
    }

    @Test("a copy taken before 1,000 writes keeps its contents and invariants, and writes to a copy leave the original alone")
    func copiesArePersistent() throws {
        var generator = SplitMix64(seed: 42)
        var map = IntMap()
        for _ in 0..<500 { map[Int.random(in: 0..<1_000, using: &generator)] = Int.random(in: 0..<1_000, using: &generator) }
        var model = Dictionary(uniqueKeysWithValues: map.map { ($0.key, $0.value) })

        // Every 100th version is kept with what it held when taken.
        var versions: [(map: IntMap, contents: [Pair])] = [(map, pairs(map))]
        for step in 1...1_000 {
            let key = Int.random(in: 0..<1_000, using: &generator)
            if Bool.random(using: &generator) {
                let value = Int.random(in: 0..<1_000, using: &generator)
                map[key] = value
                model[key] = value
            } else {
                map.removeValue(forKey: key)
                model[key] = nil
            }
            if step.isMultiple(of: 100) { versions.append((map, pairs(map))) }
        }
        #expect(pairs(map) == sortedPairs(model))
        for (index, version) in versions.enumerated() {
            #expect(pairs(version.map) == version.contents, "version \(index)")
            #expect(version.map.count == version.contents.count, "version \(index)")
            try version.map.checkInvariants()
        }

        // Writing to a copy: the original does not see it.
        let original = map
        let originalContents = pairs(map)
        var copy = map
        for key in 0..<1_000 where key.isMultiple(of: 3) { copy[key] = -key }
        for key in 0..<1_000 where key.isMultiple(of: 5) { copy.removeValue(forKey: key) }
        #expect(pairs(original) == originalContents)
        #expect(pairs(map) == originalContents)
        #expect(copy[3] == -3 && copy[5] == nil)
        try original.checkInvariants()
        try copy.checkInvariants()
        // An iteration begun before a write walks the version it began on.
        let entries = map.entries(from: 0)
        map[-1] = -1
        map.removeValue(forKey: originalContents[0].key)
        #expect(entries.map { Pair($0) } == originalContents)
    }

    @Test("entries(after:) and entries(from:) with bounds below, between, at and above the keys")
    func boundedIteration() {
        let map = IntMap(sortedUniqueEntries: [10, 20, 30, 40, 50].map { (key: $0, value: $0 * 10) })
        #expect(map.entries(after: nil).map(\.key) == [10, 20, 30, 40, 50])
        #expect(map.entries(after: 5).map(\.key) == [10, 20, 30, 40, 50])
        #expect(map.entries(after: 10).map(\.key) == [20, 30, 40, 50])
        #expect(map.entries(after: 25).map(\.key) == [30, 40, 50])
        #expect(map.entries(after: 50).map(\.key) == [])
        #expect(map.entries(after: 60).map(\.key) == [])
        #expect(map.entries(from: 5).map(\.key) == [10, 20, 30, 40, 50])
        #expect(map.entries(from: 10).map(\.key) == [10, 20, 30, 40, 50])
        #expect(map.entries(from: 25).map(\.key) == [30, 40, 50])
        #expect(map.entries(from: 50).map(\.key) == [50])
        #expect(map.entries(from: 51).map(\.key) == [])
        #expect(map.entries(from: 30).map(\.value) == [300, 400, 500])
        #expect(map.entries(from: 20).prefix(2).map(\.key) == [20, 30])

        let empty = IntMap()
        #expect(Array(empty).isEmpty)
        #expect(empty.entries(after: nil).map(\.key) == [])
        #expect(empty.entries(after: 0).map(\.key) == [])
        #expect(empty.entries(from: 0).map(\.key) == [])

        var single = IntMap()
        single[10] = 1
        #expect(single.entries(after: nil).map(\.key) == [10])
        #expect(single.entries(after: 9).map(\.key) == [10])
        #expect(single.entries(after: 10).map(\.key) == [])
        #expect(single.entries(after: 11).map(\.key) == [])
        #expect(single.entries(from: 9).map(\.key) == [10])
        #expect(single.entries(from: 10).map(\.key) == [10])
        #expect(single.entries(from: 11).map(\.key) == [])
    }

    @Test("every bound on a map of string keys starts at the right key, on trees of many shapes")
    func boundedIterationAgainstModel() {
        var generator = SplitMix64(seed: 7)
        for size in [0, 1, 2, 3, 7, 8, 64, 200] {
            // Even numbers only, so that odd bounds fall between keys.
            var keys = (0..<size).map { $0 * 2 }
            keys.shuffle(using: &generator)
            var map = PersistentSortedMap<String, Int>()
            for key in keys { map[name(key)] = key }
            let sorted = keys.sorted()
            for bound in -1...(size * 2 + 1) {
                let after = sorted.filter { name($0) > name(bound) }.map(name)
                let from = sorted.filter { name($0) >= name(bound) }.map(name)
                #expect(map.entries(after: name(bound)).map(\.key) == after, "size \(size), after \(bound)")
                #expect(map.entries(from: name(bound)).map(\.key) == from, "size \(size), from \(bound)")
            }
        }
    }

    @Test("init(validatingSorted:) builds a perfectly balanced tree of the entries: every size up to 300, and around powers of two up to 2¹⁴")
    func buildsBalancedTrees() throws {
        let powersOfTwo = (9...14).map { 1 << $0 }
        for size in Array(0...300) + powersOfTwo.flatMap({ [$0 - 1, $0, $0 + 1] }) {
            let entries = (0..<size).map { (key: $0 * 3, value: $0) }
            let map = try IntMap(validatingSorted: entries)
            try map.checkInvariants()
            #expect(map.count == size)
            #expect(pairs(map) == entries.map { Pair($0) })
            // Perfect balance: the least height that holds `size` entries, within the AVL bound.
            #expect(map.height == Int.bitWidth - size.leadingZeroBitCount, "size \(size)")
            #expect(Double(map.height) <= avlHeightBound(size), "size \(size)")
            #expect(IntMap(sortedUniqueEntries: entries) == map)
        }
        // A built tree is an ordinary one: writes to it keep the invariants.
        var map = try IntMap(validatingSorted: (0..<1_000).map { (key: $0 * 2, value: $0) })
        for key in 0..<500 { map[key * 4 + 1] = key }
        for key in 0..<300 { map.removeValue(forKey: key * 6) }
        try map.checkInvariants()
        #expect(map.count == 1_000 + 500 - 300)
    }

    @Test("init(validatingSorted:) refuses entries out of order or repeated, naming the first bad position")
    func refusesUnsortedInput() {
        #expect(throws: PersistentSortedMapError.outOfOrder(position: 2)) {
            try IntMap(validatingSorted: entries([1, 3, 2]))
        }
        #expect(throws: PersistentSortedMapError.outOfOrder(position: 1)) {
            try IntMap(validatingSorted: entries([5, 4]))
        }
        #expect(throws: PersistentSortedMapError.duplicateKey(position: 1)) {
            try IntMap(validatingSorted: entries([1, 1]))
        }
        #expect(throws: PersistentSortedMapError.duplicateKey(position: 100)) {
            try IntMap(validatingSorted: entries(Array(0..<100) + [99]))
        }
        // The first fault is named, not a later one.
        #expect(throws: PersistentSortedMapError.duplicateKey(position: 3)) {
            try IntMap(validatingSorted: entries([1, 2, 3, 3, 0]))
        }
        #expect(PersistentSortedMapError.outOfOrder(position: 2).description == "entry 2 has a key less than the entry before it")
    }

    @Test("maps with the same entries are equal whatever the shape of their trees")
    func equalityComparesContents() throws {
        var ascending = IntMap()
        for key in 0..<100 { ascending[key] = key }
        var descending = IntMap()
        for key in (0..<100).reversed() { descending[key] = key }
        let built = try IntMap(validatingSorted: (0..<100).map { (key: $0, value: $0) })
        var shrunk = IntMap()
        for key in 0..<300 { shrunk[key] = key }
        for key in 100..<300 { shrunk.removeValue(forKey: key) }
        #expect(ascending == descending && descending == built && built == shrunk)
        #expect(ascending == ascending)

        var changed = built
        changed[50] = -1
        #expect(changed != built)
        var missing = built
        missing[99] = nil
        #expect(missing != built)
        missing[100] = 99
        #expect(missing != built)
        #expect(IntMap() == IntMap())
    }

    @Test("readers walk the versions they took, whole and consistent, while a writer keeps making new ones")
    func concurrentReadersAndWriter() async {
        let readers = 4
        let board = VersionBoard(readers: readers)
        async let writes = onDedicatedThread { writeVersions(to: board, minimumWrites: 20_000, minimumWalksPerReader: 20) }
        let walks = await withTaskGroup(of: ReaderReport.self) { group in
            for reader in 0..<readers {
                group.addTask { await onDedicatedThread { walkVersions(on: board, reader: reader) } }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let writesMade = await writes
        #expect(writesMade >= 20_000)
        for report in walks {
            #expect(report.failures.count == 0, "reader \(report.reader): \(report.failures.prefix(5))")
            #expect(report.walks >= 20, "reader \(report.reader)")
            // Walks overlapped the writes: a reader saw versions the writer replaced while it walked.
            #expect(report.distinctVersions > 1, "reader \(report.reader)")
        }
    }
}

// MARK: Helpers

/// An entry as a comparable value, for comparing contents.
private struct Pair: Equatable, CustomStringConvertible {
    let key: Int
    let value: Int

    init(_ entry: (key: Int, value: Int)) {
        key = entry.key
        value = entry.value
    }

    var description: String { "\(key): \(value)" }
}

/// The map's entries in its order.
private func pairs(_ map: PersistentSortedMap<Int, Int>) -> [Pair] {
    map.map { Pair($0) }
}

/// The model's entries in key order.
private func sortedPairs(_ model: [Int: Int]) -> [Pair] {
    model.sorted { $0.key < $1.key }.map { Pair($0) }
}

/// Entries of `keys`, each key its own value, in the order given.
private func entries(_ keys: [Int]) -> [(key: Int, value: Int)] {
    keys.map { (key: $0, value: $0) }
}

/// An AVL tree of `count` entries is at most about 1.44·log₂(count + 2) high.
private func avlHeightBound(_ count: Int) -> Double {
    1.45 * log2(Double(count + 2))
}

/// A string key whose order is its number's (for numbers from -1 to 999).
private func name(_ number: Int) -> String {
    number < 0 ? "key--" : "key-" + String(repeating: "0", count: 3 - String(number).count) + String(number)
}

/// Applies `operations` random writes to a map and to a Dictionary, checking that they agree (returned
/// values, count, contents in order, lookups) and the invariants as it goes; then removes every key in
/// random order. Returns what went wrong.
private func randomOperations(seed: UInt64, operations: Int, keyRange: Range<Int>) -> [String] {
    var generator = SplitMix64(seed: seed)
    var map = PersistentSortedMap<Int, Int>()
    var model: [Int: Int] = [:]
    var failures: [String] = []
    func check(_ step: Int) {
        if map.count != model.count { failures.append("step \(step): count \(map.count), model \(model.count)") }
        if pairs(map) != sortedPairs(model) { failures.append("step \(step): contents differ from the model") }
        do { try map.checkInvariants() } catch { failures.append("step \(step): \(error)") }
        if map.first?.key != model.keys.min() || map.last?.key != model.keys.max() {
            failures.append("step \(step): first or last differs from the model")
        }
        for _ in 0..<20 {
            let key = Int.random(in: keyRange, using: &generator)
            if map[key] != model[key] || map.contains(key) != (model[key] != nil) {
                failures.append("step \(step): lookup of \(key) gives \(String(describing: map[key])), model \(String(describing: model[key]))")
            }
        }
    }
    for step in 1...operations {
        let key = Int.random(in: keyRange, using: &generator)
        let value = Int.random(in: 0..<1_000_000, using: &generator)
        switch Int.random(in: 0..<10, using: &generator) {
        case 0..<5:
            let replaced = map.updateValue(value, forKey: key)
            if replaced != model.updateValue(value, forKey: key) { failures.append("step \(step): updateValue(\(key)) returned \(String(describing: replaced))") }
        case 5..<7:
            map[key] = value
            model[key] = value
        case 7..<9:
            let removed = map.removeValue(forKey: key)
            if removed != model.removeValue(forKey: key) { failures.append("step \(step): removeValue(\(key)) returned \(String(describing: removed))") }
        default:
            map[key] = nil
            model[key] = nil
        }
        if step.isMultiple(of: 500) { check(step) }
    }
    check(operations)
    for (index, key) in model.keys.shuffled(using: &generator).enumerated() {
        let removed = map.removeValue(forKey: key)
        if removed != model.removeValue(forKey: key) { failures.append("draining: removeValue(\(key)) returned \(String(describing: removed))") }
        if index.isMultiple(of: 250) { check(operations + index) }
    }
    check(operations + 1)
    if !map.isEmpty || map.root != nil { failures.append("drained map is not empty") }
    return failures
}

// MARK: Concurrent readers

/// A version of the map the writer published, with what it holds by the writer's own count.
private struct PublishedVersion: Sendable {
    /// The writer's sequence number of this version.
    var number = 0
    var map = PersistentSortedMap<Int, Int>()
    var keySum = 0
    var valueSum = 0
}

/// Where the writer publishes its latest version and readers report their walks.
private final class VersionBoard: Sendable {
    struct State {
        var latest = PublishedVersion()
        var finished = false
        var walksByReader: [Int]
    }

    let state: Mutex<State>

    init(readers: Int) {
        state = Mutex(State(walksByReader: Array(repeating: 0, count: readers)))
    }
}

/// What one reader found.
private struct ReaderReport: Sendable {
    let reader: Int
    let walks: Int
    let distinctVersions: Int
    let failures: [String]
}

/// Writes random versions, publishing each, until it has made `minimumWrites` and every reader has walked
/// at least `minimumWalksPerReader` versions (so the walks overlap the writes). Returns the writes made.
private func writeVersions(to board: VersionBoard, minimumWrites: Int, minimumWalksPerReader: Int) -> Int {
    var generator = SplitMix64(seed: 99)
    var version = PublishedVersion()
    while true {
        version.number += 1
        let key = Int.random(in: 0..<4_000, using: &generator)
        if Int.random(in: 0..<10, using: &generator) < 6 {
            let value = Int.random(in: 0..<1_000, using: &generator)
            if let old = version.map.updateValue(value, forKey: key) {
                version.valueSum += value - old
            } else {
                version.keySum += key
                version.valueSum += value
            }
        } else if let old = version.map.removeValue(forKey: key) {
            version.keySum -= key
            version.valueSum -= old
        }
        let published = version
        let done = board.state.withLock { state in
            state.latest = published
            let enough = published.number >= minimumWrites && state.walksByReader.allSatisfy { $0 >= minimumWalksPerReader }
            if enough { state.finished = true }
            return enough
        }
        if done { return version.number }
    }
}

/// Takes the latest version, walks it whole and checks it against the writer's count, until the writer
/// has finished (a reader that finds faults goes on walking: the writer waits for its walks).
private func walkVersions(on board: VersionBoard, reader: Int) -> ReaderReport {
    var failures: [String] = []
    var walks = 0
    var distinct = 0
    var lastNumber = -1
    while true {
        let (version, finished) = board.state.withLock { ($0.latest, $0.finished) }
        var previous: Int?
        var walked = 0
        var keySum = 0
        var valueSum = 0
        for (key, value) in version.map {
            if let previous, !(previous < key) { failures.append("version \(version.number): \(key) after \(previous)") }
            previous = key
            walked += 1
            keySum += key
            valueSum += value
        }
        if walked != version.map.count || keySum != version.keySum || valueSum != version.valueSum {
            failures.append("version \(version.number): walked \(walked) of \(version.map.count), sums \(keySum)/\(valueSum), expected \(version.keySum)/\(version.valueSum)")
        }
        do { try version.map.checkInvariants() } catch { failures.append("version \(version.number): \(error)") }
        walks += 1
        if version.number != lastNumber { distinct += 1 }
        lastNumber = version.number
        board.state.withLock { $0.walksByReader[reader] += 1 }
        if finished { break }
    }
    return ReaderReport(reader: reader, walks: walks, distinctVersions: distinct, failures: failures)
}
