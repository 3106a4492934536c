import RaftCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ``RaftFileSystem`` on the real disk, through POSIX calls.
///
/// The file last appended to stays open (one descriptor, for the log's last segment): a Raft write is an
/// append, an fsync and the small synced record after it, and opening the segment for each of them was
/// three `open`s and three `close`s per write on the hot path. Writing the file anew, truncating,
/// renaming or removing it closes the descriptor first, so it never outlives the file it names.
public struct PosixFileSystem: RaftFileSystem {
    private let appendFile = AppendFile()

    /// The process's file system.
    public init() {}

    public func createDirectory(_ path: String) throws(RaftStorageError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { throw .io(operation: "mkdir", path: prefix, errno: errno) }
        }
    }

    public func list(_ directory: String) throws(RaftStorageError) -> [String] {
        guard let stream = opendir(directory) else { throw .io(operation: "opendir", path: directory, errno: errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func read(_ path: String) throws(RaftStorageError) -> [UInt8] {
        let fd = try openFile(path, flags: O_RDONLY)
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "read", path: path, errno: errno)
            }
            if count == 0 { return contents }
            contents.append(contentsOf: chunk[0..<count])
        }
    }

    public func write(_ bytes: [UInt8], to path: String) throws(RaftStorageError) {
        appendFile.close(path)
        let fd = try openFile(path, flags: O_WRONLY | O_CREAT | O_TRUNC)
        defer { close(fd) }
        try writeAll(bytes, to: fd, path: path)
    }

    public func append(_ bytes: [UInt8], to path: String) throws(RaftStorageError) {
        try appendFile.withDescriptor(path, open: { () throws(RaftStorageError) in try openFile(path, flags: O_WRONLY | O_APPEND) }) {
            (fd) throws(RaftStorageError) in try writeAll(bytes, to: fd, path: path)
        }
    }

    public func truncate(_ path: String, to length: Int) throws(RaftStorageError) {
        appendFile.close(path)
        guard systemTruncate(path, off_t(length)) == 0 else { throw .io(operation: "truncate", path: path, errno: errno) }
    }

    public func sync(_ path: String) throws(RaftStorageError) {
        // The open append descriptor when it is this file's (fsync covers the file, whichever descriptor).
        let synced = try appendFile.ifOpen(path) { (fd) throws(RaftStorageError) -> Bool in
            guard fsync(fd) == 0 else { throw .io(operation: "fsync", path: path, errno: errno) }
            return true
        }
        guard synced == nil else { return }
        let fd = try openFile(path, flags: O_RDONLY)
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .io(operation: "fsync", path: path, errno: errno) }
    }

    public func syncDirectory(_ directory: String) throws(RaftStorageError) {
        let fd = try openFile(directory, flags: O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .io(operation: "fsync", path: directory, errno: errno) }
    }

    public func rename(_ source: String, to destination: String) throws(RaftStorageError) {
        appendFile.close(source)
        appendFile.close(destination)
        guard systemRename(source, destination) == 0 else { throw .io(operation: "rename", path: source, errno: errno) }
    }

    public func remove(_ path: String) throws(RaftStorageError) {
        appendFile.close(path)
        guard unlink(path) == 0 else { throw .io(operation: "unlink", path: path, errno: errno) }
    }

    public func read(_ path: String, offset: Int, count: Int) throws(RaftStorageError) -> [UInt8] {
        guard offset >= 0, count > 0 else { return [] }
        let fd = try openFile(path, flags: O_RDONLY)
        defer { close(fd) }
        var contents = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = contents.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, count - filled, off_t(offset + filled)) }
            if got < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "pread", path: path, errno: errno)
            }
            if got == 0 { break }
            filled += got
        }
        contents.removeLast(count - filled)
        return contents
    }

    private func openFile(_ path: String, flags: Int32) throws(RaftStorageError) -> Int32 {
        let fd = open(path, flags | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        return fd
    }

    private func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(RaftStorageError) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { systemWrite(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "write", path: path, errno: errno)
            }
            offset += count
        }
    }
}

/// The one descriptor ``PosixFileSystem`` keeps open: the file it last appended to.
private final class AppendFile: Sendable {
    private let open = Mutex<(path: String, fd: Int32)?>(nil)

    deinit {
        open.withLock { if let (_, fd) = $0 { _ = systemClose(fd) } }
    }

    /// Runs `body` with the open descriptor of `path`, opening it (and closing another file's) first.
    func withDescriptor(
        _ path: String, open opening: () throws(RaftStorageError) -> Int32, _ body: (Int32) throws(RaftStorageError) -> Void
    ) throws(RaftStorageError) {
        try open.withLock { (current) throws(RaftStorageError) in
            if let held = current, held.path != path {
                _ = systemClose(held.fd)
                current = nil
            }
            if current == nil { current = (path, try opening()) }
            try body(current!.fd)
        }
    }

    /// `body`'s result with `path`'s descriptor when it is the open one; nil (and `body` not run) otherwise.
    func ifOpen<T>(_ path: String, _ body: (Int32) throws(RaftStorageError) -> T) throws(RaftStorageError) -> T? {
        try open.withLock { (current) throws(RaftStorageError) -> T? in
            guard let held = current, held.path == path else { return nil }
            return try body(held.fd)
        }
    }

    /// Closes the descriptor if it is `path`'s.
    func close(_ path: String) {
        open.withLock { current in
            guard let held = current, held.path == path else { return }
            _ = systemClose(held.fd)
            current = nil
        }
    }
}

// The C functions whose names `PosixFileSystem`'s methods shadow.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { write(fd, buffer, count) }
private func systemTruncate(_ path: String, _ length: off_t) -> Int32 { truncate(path, length) }
private func systemClose(_ fd: Int32) -> Int32 { close(fd) }
private func systemRename(_ source: String, _ destination: String) -> Int32 { rename(source, destination) }
