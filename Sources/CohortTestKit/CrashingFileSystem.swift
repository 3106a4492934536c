import RaftCore
import RaftPersistence
import Synchronization

/// A disk that forgets like a real one, for crash tests of ``FileRaftStorage``.
///
/// Each file keeps its current bytes and its durable bytes (as of its last `sync`); each directory change
/// (create, rename, remove) is pending until the directory is synced. ``powerLoss(using:)`` keeps every
/// durable thing and, of the rest, a random subset of the pending directory changes (in any order: POSIX
/// promises none; a rename stays atomic) and for each changed file either its durable bytes or its
/// current bytes cut at a random length past what the two share, possibly with a garbled torn end.
/// ``crash(afterOperations:)`` makes the process "die" at a chosen write: that call and every later one
/// throws, as if the storage never got further.
public final class CrashingFileSystem: RaftFileSystem {
    private struct File {
        var current: [UInt8] = []
        var durable: [UInt8] = []
    }

    private enum DirectoryChange {
        case bind(String, Int)
        case unbind(String)
        case move(String, String, Int)
    }

    private struct State {
        var files: [Int: File] = [:]
        var nextFileID = 0
        var names: [String: Int] = [:]
        var durableNames: [String: Int] = [:]
        var pending: [DirectoryChange] = []
        var operationsBeforeCrash: Int?
        var hasCrashed = false
        var fileSyncs = 0
        var directorySyncs = 0
    }

    private let state = Mutex(State())

    /// File fsyncs so far.
    public var fileSyncs: Int { state.withLock { $0.fileSyncs } }
    /// Directory fsyncs so far.
    public var directorySyncs: Int { state.withLock { $0.directorySyncs } }

    /// The names in `directory` right now.
    public func names(in directory: String) -> [String] {
        (try? list(directory))?.sorted() ?? []
    }

    /// A disk in the same state, synced and unsynced parts alike, that goes its own way from here.
    public func copy() -> CrashingFileSystem {
        let copy = CrashingFileSystem(outOfOrderPages: outOfOrderPages)
        let current = state.withLock { $0 }
        copy.state.withLock { $0 = current }
        return copy
    }

    /// The process dies at the `count`-th write-like call from now (0: the next one).
    public func crash(afterOperations count: Int) {
        state.withLock { $0.operationsBeforeCrash = count }
    }

    /// The process that crashed (``crash(afterOperations:)``) is started again without a power loss: what it
    /// wrote stays (the page cache survives a process), synced or not, and the disk works again.
    public func restartProcess() {
        state.withLock { state in
            state.hasCrashed = false
            state.operationsBeforeCrash = nil
        }
    }

    /// Power is lost: unsynced changes are lost or torn as described above, then the disk works again.
    public func powerLoss(using generator: inout some RandomNumberGenerator) {
        state.withLock { state in
            var names = state.durableNames
            for change in state.pending where Bool.random(using: &generator) {
                switch change {
                case .bind(let name, let id): names[name] = id
                case .unbind(let name): names[name] = nil
                case .move(let source, let destination, let id):
                    names[source] = nil
                    names[destination] = id
                }
            }
            var files: [Int: File] = [:]
            for id in Set(names.values) {
                guard let file = state.files[id] else { continue }
                let contents = afterPowerLoss(file, using: &generator)
                files[id] = File(current: contents, durable: contents)
            }
            state = State(files: files, nextFileID: state.nextFileID, names: names, durableNames: names,
                          fileSyncs: state.fileSyncs, directorySyncs: state.directorySyncs)
        }
    }

    /// Whether a power loss may also lose a stretch in the middle of a file's unsynced bytes while keeping
    /// what follows (pages written back out of order), not only cut the tail.
    public let outOfOrderPages: Bool

    /// A disk; `outOfOrderPages` lets a power loss keep later unsynced bytes while losing earlier ones.
    public init(outOfOrderPages: Bool = true) {
        self.outOfOrderPages = outOfOrderPages
    }

    private func afterPowerLoss(_ file: File, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        guard file.current != file.durable else { return file.durable }
        if Int.random(in: 0..<4, using: &generator) == 0 { return file.durable }
        let shared = zip(file.current, file.durable).prefix { $0 == $1 }.count
        var contents = Array(file.current.prefix(Int.random(in: shared...file.current.count, using: &generator)))
        if contents.count > shared, Bool.random(using: &generator) {
            let garbled = Int.random(in: 1...min(16, contents.count - shared), using: &generator)
            let zeros = Bool.random(using: &generator)
            for index in contents.count - garbled..<contents.count {
                contents[index] = zeros ? 0 : UInt8.random(in: 0...255, using: &generator)
            }
        }
        if outOfOrderPages, contents.count - shared > 2, Int.random(in: 0..<3, using: &generator) == 0 {
            // Pages of the unsynced part reached the disk out of order: a stretch inside it never arrived
            // (zeros) while later bytes did.
            let start = Int.random(in: shared..<contents.count - 1, using: &generator)
            let end = Int.random(in: start + 1..<contents.count, using: &generator)
            for index in start..<end { contents[index] = 0 }
        }
        return contents
    }

    /// Replaces bytes of the file at `path` from `offset`, durably (a lost stretch, or rot).
    public func overwrite(_ path: String, at offset: Int, with bytes: [UInt8]) throws {
        state.withLock { state in
            guard let id = state.names[path] else { return }
            state.files[id]!.current.replaceSubrange(offset..<offset + bytes.count, with: bytes)
            state.files[id]!.durable = state.files[id]!.current
        }
    }

    /// Flips one bit of the file at `path`, durably (bit rot).
    public func flipBit(in path: String, byte: Int, bit: Int = 0) {
        state.withLock { state in
            guard let id = state.names[path] else { return }
            state.files[id]!.current[byte] ^= 1 << bit
            state.files[id]!.durable[byte] ^= 1 << bit
        }
    }

    /// The size of the file at `path`.
    public func size(of path: String) -> Int {
        state.withLock { state in state.names[path].map { state.files[$0]!.current.count } ?? 0 }
    }

    // MARK: RaftFileSystem

    public func createDirectory(_ path: String) throws(RaftStorageError) {}

    public func list(_ directory: String) throws(RaftStorageError) -> [String] {
        state.withLock { state in
            state.names.keys.compactMap { path in
                let (parent, name) = Self.split(path)
                return parent == directory ? name : nil
            }
        }
    }

    public func read(_ path: String) throws(RaftStorageError) -> [UInt8] {
        try state.withLock { (state: inout State) throws(RaftStorageError) -> [UInt8] in
            guard let id = state.names[path] else { throw .io(operation: "open", path: path, errno: 2) }
            return state.files[id]!.current
        }
    }

    public func write(_ bytes: [UInt8], to path: String) throws(RaftStorageError) {
        try mutate("write", path) { (state: inout State) throws(RaftStorageError) in
            if let id = state.names[path] {
                state.files[id]!.current = bytes
            } else {
                let id = state.nextFileID
                state.nextFileID += 1
                state.files[id] = File(current: bytes)
                state.names[path] = id
                state.pending.append(.bind(path, id))
            }
        }
    }

    public func append(_ bytes: [UInt8], to path: String) throws(RaftStorageError) {
        try mutate("append", path) { (state: inout State) throws(RaftStorageError) in
            guard let id = state.names[path] else { throw .io(operation: "open", path: path, errno: 2) }
            state.files[id]!.current += bytes
        }
    }

    public func truncate(_ path: String, to length: Int) throws(RaftStorageError) {
        try mutate("truncate", path) { (state: inout State) throws(RaftStorageError) in
            guard let id = state.names[path] else { throw .io(operation: "truncate", path: path, errno: 2) }
            state.files[id]!.current = Array(state.files[id]!.current.prefix(length))
        }
    }

    public func sync(_ path: String) throws(RaftStorageError) {
        try mutate("fsync", path) { (state: inout State) throws(RaftStorageError) in
            guard let id = state.names[path] else { throw .io(operation: "open", path: path, errno: 2) }
            state.files[id]!.durable = state.files[id]!.current
            state.fileSyncs += 1
        }
    }

    public func syncDirectory(_ directory: String) throws(RaftStorageError) {
        try mutate("fsync", directory) { (state: inout State) throws(RaftStorageError) in
            var remaining: [DirectoryChange] = []
            for change in state.pending {
                switch change {
                case .bind(let path, let id) where Self.split(path).parent == directory: state.durableNames[path] = id
                case .unbind(let path) where Self.split(path).parent == directory: state.durableNames[path] = nil
                case .move(let source, let destination, let id) where Self.split(destination).parent == directory:
                    state.durableNames[source] = nil
                    state.durableNames[destination] = id
                default: remaining.append(change)
                }
            }
            state.pending = remaining
            state.directorySyncs += 1
        }
    }

    public func rename(_ source: String, to destination: String) throws(RaftStorageError) {
        try mutate("rename", source) { (state: inout State) throws(RaftStorageError) in
            guard let id = state.names.removeValue(forKey: source) else { throw .io(operation: "rename", path: source, errno: 2) }
            state.names[destination] = id
            state.pending.append(.move(source, destination, id))
        }
    }

    public func remove(_ path: String) throws(RaftStorageError) {
        try mutate("unlink", path) { (state: inout State) throws(RaftStorageError) in
            guard state.names.removeValue(forKey: path) != nil else { throw .io(operation: "unlink", path: path, errno: 2) }
            state.pending.append(.unbind(path))
        }
    }

    /// Runs a write-like operation unless the process has died.
    private func mutate(_ operation: String, _ path: String, _ body: (inout State) throws(RaftStorageError) -> Void) throws(RaftStorageError) {
        try state.withLock { (state: inout State) throws(RaftStorageError) in
            if let left = state.operationsBeforeCrash {
                if left == 0 { state.hasCrashed = true }
                state.operationsBeforeCrash = left - 1
            }
            if state.hasCrashed { throw .io(operation: "\(operation) after a simulated crash", path: path, errno: 5) }
            try body(&state)
        }
    }

    private static func split(_ path: String) -> (parent: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }
}
