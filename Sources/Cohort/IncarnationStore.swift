import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Persists the node's incarnation in `<data_dir>/_sys/incarnation` so the next boot can exceed it.
///
/// Written as a ``DurableFile``: a crash leaves either the old or the new value, never a torn one.
struct IncarnationStore {
    /// `<data_dir>/_sys`.
    let directory: String

    var path: String { directory + "/incarnation" }

    /// Reads the last incarnation, or nil when none was stored (or the file is unreadable garbage).
    func load() -> Incarnation? {
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8),
              case let words = text.split(whereSeparator: \.isWhitespace), words.count == 1,
              let value = UInt64(words[0])
        else { return nil }
        return Incarnation(value)
    }

    /// Durably records `incarnation`.
    func store(_ incarnation: Incarnation) throws {
        try DurableFile.replace("incarnation", in: directory, with: Array("\(incarnation.rawValue)\n".utf8))
    }
}
