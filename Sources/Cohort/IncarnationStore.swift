import CohortCore
import Foundation

/// Persists the node's incarnation in `<data_dir>/_sys/incarnation` so the next boot can exceed it.
///
/// The file is written to a temporary name, fsynced, renamed over the old one and the directory fsynced,
/// so a crash leaves either the old or the new value, never a torn one.
struct IncarnationStore {
    /// `<data_dir>/_sys`.
    let directory: String

    var path: String { directory + "/incarnation" }

    /// Reads the last incarnation, or nil when none was stored (or the file is unreadable garbage).
    func load() -> Incarnation? {
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8),
              let value = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        return Incarnation(value)
    }

    /// Durably records `incarnation`.
    func store(_ incarnation: Incarnation) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary]) }
        let bytes = Array("\(incarnation.rawValue)\n".utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary])
        }
        guard rename(temporary, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
    }
}
