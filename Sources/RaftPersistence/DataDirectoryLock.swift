#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The exclusive hold of one Raft directory: a `flock` on its `LOCK` file, taken by `cohortd` for as long
/// as it runs and by the offline tools (`cohortd recover`, `cohortd restore`) while they write. A second
/// holder is refused at once, naming the process that holds it (its PID is written into the file).
///
/// The lock belongs to the open file: it ends when ``release()`` closes it or the process exits, however it
/// exits (a `SIGKILL` included), so a stale `LOCK` file never blocks anyone. Dropping the object does not
/// end it: a daemon takes it once and keeps it for its whole life.
public final class DataDirectoryLock: Sendable {
    /// The name of the lock file inside the Raft directory.
    public static let fileName = "LOCK"

    /// `<directory>/LOCK`.
    public let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Takes the lock of `directory` (created, with its parents, when missing), or throws
    /// ``DataDirectoryLockError/held(path:holder:)`` when another open file holds it.
    public static func acquire(_ directory: String) throws(DataDirectoryLockError) -> DataDirectoryLock {
        try createDirectories(directory)
        let path = directory + "/" + fileName
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = readHolder(descriptor)
            close(descriptor)
            if code == EWOULDBLOCK { throw .held(path: path, holder: holder) }
            throw .io(operation: "flock", path: path, errno: code)
        }
        // Who holds it, for the message a second process prints; the lock itself is the flock.
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        return DataDirectoryLock(path: path, descriptor: descriptor)
    }

    /// Ends the hold (the file stays). Call it once; the process's exit ends it too.
    public func release() {
        close(descriptor)
    }

    /// The PID the holder wrote into the file, if it reads as one.
    private static func readHolder(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).filter { $0.isNumber })
    }

    private static func createDirectories(_ directory: String) throws(DataDirectoryLockError) {
        var path = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            path += "/" + component
            if mkdir(path, 0o755) != 0, errno != EEXIST { throw .io(operation: "mkdir", path: path, errno: errno) }
        }
    }
}

/// The Raft directory could not be locked.
public enum DataDirectoryLockError: Error, Equatable, CustomStringConvertible {
    /// Another process (`holder`, when it wrote its PID) holds the lock at `path`.
    case held(path: String, holder: Int32?)
    /// A system call failed (`operation` on `path`, errno).
    case io(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .held(let path, let holder):
            "the data directory is in use: \(path) is locked by another cohortd or cohortd tool"
                + (holder.map { " (pid \($0))" } ?? "") + "; stop it first"
        case .io(let operation, let path, let errno):
            "cannot lock the data directory: \(operation) \(path) failed (errno \(errno))"
        }
    }
}
