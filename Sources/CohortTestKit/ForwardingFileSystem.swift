import RaftPersistence

/// A ``RaftFileSystem`` that passes every call to `base`: a test's wrapper implements only the calls it
/// counts, gates or breaks.
public protocol ForwardingFileSystem: RaftFileSystem {
    /// The file system the calls go to.
    var base: any RaftFileSystem { get }
}

extension ForwardingFileSystem {
    public func createDirectory(_ path: String) throws(RaftStorageError) { try base.createDirectory(path) }
    public func list(_ directory: String) throws(RaftStorageError) -> [String] { try base.list(directory) }
    public func read(_ path: String) throws(RaftStorageError) -> [UInt8] { try base.read(path) }
    public func read(_ path: String, offset: Int, count: Int) throws(RaftStorageError) -> [UInt8] {
        try base.read(path, offset: offset, count: count)
    }
    public func write(_ bytes: [UInt8], to path: String) throws(RaftStorageError) { try base.write(bytes, to: path) }
    public func append(_ bytes: [UInt8], to path: String) throws(RaftStorageError) { try base.append(bytes, to: path) }
    public func truncate(_ path: String, to length: Int) throws(RaftStorageError) { try base.truncate(path, to: length) }
    public func sync(_ path: String) throws(RaftStorageError) { try base.sync(path) }
    public func syncDirectory(_ directory: String) throws(RaftStorageError) { try base.syncDirectory(directory) }
    public func rename(_ source: String, to destination: String) throws(RaftStorageError) { try base.rename(source, to: destination) }
    public func remove(_ path: String) throws(RaftStorageError) { try base.remove(path) }
}
