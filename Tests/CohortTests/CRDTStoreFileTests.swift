@testable import Cohort
import CohortCore
import Foundation
import Logging
import PlaneCore
import Testing

/// The durable copy of a `kv.crdt` store: `<data_dir>/_sys/crdt/<store>/snapshot` and `log`.
@Suite("kv.crdt store files")
struct CRDTStoreFileTests {
    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-crdt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A store whose writes go through the durable writer, loaded from `dataDirectory` as a start does.
    static func open(_ dataDirectory: String, clock: ManualMillis) throws -> (plane: LocalStorePlane, log: CRDTStoreLog, loaded: CRDTStoreFiles.Loaded) {
        let files = CRDTStoreFiles(dataDirectory: dataDirectory, store: "cache")
        let loaded = try files.load()
        let plane = LocalStorePlane(node: NodeID("n1"), physicalMillis: { clock.read() })
        plane.load(loaded.entries)
        return (plane, CRDTStoreLog(files: files, loaded: loaded, plane: plane, logger: Logger(label: "test")), loaded)
    }

    /// Writes through the plane and appends what it applied to the log, as the follow loop does.
    /// A store in `data` with "a" and "b" written, its files, and its log's bytes.
    static func logOfTwoRecords(
        _ data: String, clock: ManualMillis
    ) throws -> (store: (plane: LocalStorePlane, log: CRDTStoreLog, loaded: CRDTStoreFiles.Loaded), files: CRDTStoreFiles, log: [UInt8]) {
        let store = try open(data, clock: clock)
        write(store, "a", [1])
        write(store, "b", [2])
        let files = CRDTStoreFiles(dataDirectory: data, store: "cache")
        return (store, files, Array(FileManager.default.contents(atPath: files.logPath)!))
    }

    static func write(_ store: (plane: LocalStorePlane, log: CRDTStoreLog, loaded: CRDTStoreFiles.Loaded), _ key: String, _ value: [UInt8]?, expiry: UInt64? = nil) {
        let entry = store.plane.write(Array(key.utf8), value: value, expiresAtMillis: expiry)
        store.log.append([entry])
        store.log.flush()
    }

    @Test("a restart recovers values and tombstones from the log and the snapshot, and the clock resumes past every stored stamp")
    func restartRecovers() throws {
        let data = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let clock = ManualMillis(2_000_000)
        let first = try Self.open(data, clock: clock)
        Self.write(first, "a", [1])
        Self.write(first, "b", [2])
        Self.write(first, "b", nil)
        let lastStamp = first.plane.state[Array("b".utf8)]!.stamp.time

        // The clock went back across the restart: the next write must still win over the stored ones.
        clock.set(1_000)
        let second = try Self.open(data, clock: clock)
        #expect(second.loaded.logRecords == 3 && second.loaded.droppedBytes == 0)
        #expect(second.plane.state[Array("a".utf8)]?.value == [1])
        #expect(second.plane.state[Array("b".utf8)]?.isTombstone == true)
        let next = second.plane.write(Array("a".utf8), value: [3], expiresAtMillis: nil)
        #expect(next.stamp.time > lastStamp)

        // A compaction moves everything into the snapshot and empties the log.
        second.log.append([next])
        second.log.compact()
        second.log.flush()
        let third = try Self.open(data, clock: clock)
        #expect(third.loaded.logRecords == 0)
        #expect(third.plane.state[Array("a".utf8)]?.value == [3])
        #expect(third.plane.state[Array("b".utf8)]?.isTombstone == true)
    }

    @Test("an expired value stored on disk is not loaded")
    func expiredValuesAreNotLoaded() throws {
        let data = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let clock = ManualMillis(10_000)
        Self.write(try Self.open(data, clock: clock), "t", [1], expiry: 15_000)
        clock.set(15_000)
        #expect(try Self.open(data, clock: clock).plane.state.valueCount == 0)
    }

    @Test("a torn last record of the log is dropped, and the next append follows the last whole record")
    func tornTailIsTolerated() throws {
        let data = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let clock = ManualMillis(10_000)
        let (_, files, log) = try Self.logOfTwoRecords(data, clock: clock)
        var bytes = log
        // A crash in the middle of the second record.
        bytes.removeLast(3)
        _ = FileManager.default.createFile(atPath: files.logPath, contents: Data(bytes))
        let second = try Self.open(data, clock: clock)
        #expect(second.loaded.logRecords == 1 && second.loaded.droppedBytes > 0)
        #expect(second.plane.state[Array("b".utf8)] == nil)
        Self.write(second, "c", [3])
        let third = try Self.open(data, clock: clock)
        #expect(third.loaded.droppedBytes == 0)
        #expect(third.plane.state.entries.map(\.key.string) == ["a", "c"])
    }

    @Test("a damaged record with more after it, or a damaged snapshot, refuses the load, naming the file")
    func corruptFilesAreRefused() throws {
        let data = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let clock = ManualMillis(10_000)
        let (first, files, log) = try Self.logOfTwoRecords(data, clock: clock)
        var bytes = log
        bytes[CRDTStoreFiles.magic.count + 9] ^= 0xff
        _ = FileManager.default.createFile(atPath: files.logPath, contents: Data(bytes))
        #expect {
            try files.load()
        } throws: { error in
            "\(error)".contains(files.logPath) && "\(error)".contains("checksum")
        }

        first.log.compact()
        first.log.flush()
        var snapshot = Array(FileManager.default.contents(atPath: files.snapshotPath)!)
        snapshot.removeLast()
        _ = FileManager.default.createFile(atPath: files.snapshotPath, contents: Data(snapshot))
        #expect {
            try files.load()
        } throws: { error in
            "\(error)".contains(files.snapshotPath)
        }
    }

    @Test("a node does not start over a corrupt store file: prepare throws, naming it")
    func prepareRefusesACorruptFile() throws {
        let data = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let files = CRDTStoreFiles(dataDirectory: data, store: "cache")
        try FileManager.default.createDirectory(atPath: files.directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: files.snapshotPath, contents: Data("not a store".utf8))
        let yaml = """
            cluster:
              enabled: false
              raft:
                data_dir: \(data)
            stores:
              - name: cache
                kind: kv.crdt
            """
        let settings = try ConfigLoader(environment: [:], hostName: "solo", homeDirectory: nil) { _ in [] }.load(yaml: yaml)
        #expect {
            try CohortNode.prepare(settings: settings, logger: Logger(label: "test"), environment: [:])
        } throws: { error in
            "\(error)".contains(files.snapshotPath)
        }
    }
}
