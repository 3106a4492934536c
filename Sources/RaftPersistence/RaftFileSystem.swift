import RaftCore
/// The file operations `FileRaftStorage` needs, by path, so tests can put a simulated disk underneath.
///
/// Durability follows POSIX: written bytes are durable only after `sync(_:)` of the file, and a created,
/// renamed or removed name only after `syncDirectory(_:)` of its directory.
public protocol RaftFileSystem: Sendable {
    /// Creates `path` and any missing parents; succeeds when it exists.
    func createDirectory(_ path: String) throws(RaftStorageError)
    /// The names (not paths) of the entries of `directory`, in no particular order.
    func list(_ directory: String) throws(RaftStorageError) -> [String]
    /// The whole contents of the file at `path`.
    func read(_ path: String) throws(RaftStorageError) -> [UInt8]
    /// Creates the file at `path` (or empties it) and writes `bytes` to it.
    func write(_ bytes: [UInt8], to path: String) throws(RaftStorageError)
    /// Appends `bytes` to the existing file at `path`.
    func append(_ bytes: [UInt8], to path: String) throws(RaftStorageError)
    /// Cuts the file at `path` to its first `length` bytes.
    func truncate(_ path: String, to length: Int) throws(RaftStorageError)
    /// Makes the contents of the file at `path` durable (fsync).
    func sync(_ path: String) throws(RaftStorageError)
    /// Makes the names in `directory` durable (fsync of the directory).
    func syncDirectory(_ directory: String) throws(RaftStorageError)
    /// Renames `source` to `destination`, replacing it.
    func rename(_ source: String, to destination: String) throws(RaftStorageError)
    /// Removes the file at `path`.
    func remove(_ path: String) throws(RaftStorageError)
    /// Up to `count` bytes of the file at `path` from byte `offset` (fewer at its end).
    func read(_ path: String, offset: Int, count: Int) throws(RaftStorageError) -> [UInt8]
}

extension RaftFileSystem {
    /// Reads the whole file and keeps the part asked for (a simulated disk has nothing better to do).
    public func read(_ path: String, offset: Int, count: Int) throws(RaftStorageError) -> [UInt8] {
        let contents = try read(path)
        guard offset >= 0, count >= 0, offset < contents.count else { return [] }
        return Array(contents[offset..<min(contents.count, offset + count)])
    }
}
