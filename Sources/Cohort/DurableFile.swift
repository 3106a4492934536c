#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Replaces small files under `<data_dir>/_sys` so that a crash leaves either the old or the new content,
/// never a torn one: written to a temporary name, fsynced, renamed over the old file, the directory fsynced.
enum DurableFile {
    /// Durably replaces `directory/name` with `bytes`, creating the directory when missing.
    static func replace(_ name: String, in directory: String, with bytes: [UInt8]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + name
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DurableFileError(operation: "open", path: temporary, code: errno) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let writeError = errno
        guard written == bytes.count else {
            close(fd)
            throw DurableFileError(operation: "write", path: temporary, code: written < 0 ? writeError : ENOSPC)
        }
        guard fsync(fd) == 0 else {
            let error = errno
            close(fd)
            throw DurableFileError(operation: "fsync", path: temporary, code: error)
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw DurableFileError(operation: "rename", path: path, code: errno) }
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
    }
}

/// Why a durable replacement failed: the system call, the file and the error number.
struct DurableFileError: Error, CustomStringConvertible {
    var operation: String
    var path: String
    /// The `errno` of the failed call.
    var code: Int32

    var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}
