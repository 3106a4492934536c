import RaftCore
import Synchronization

/// Reads entries back from a ``FileRaftStorage`` directory's segment files for a core that let them go from
/// memory (``RaftCore/LogEntryReader``).
///
/// It takes no lock of the storage: the core asks only for committed, durable entries, whose records never
/// change once written (a truncation removes only uncommitted ones, and physically), so a concurrent append
/// to the last segment or a concurrent compaction can at worst make a read fail (a segment removed), and
/// then the core sends a snapshot instead.
///
/// A lagging follower asks for the same segment many times in a row (an append carries at most
/// `maxEntriesPerAppend` entries): the committed entries of the segment last read are kept, so each segment
/// file is read and decoded once per catch-up, not once per append.
final class SegmentReader: LogEntryReader {
    let path: String
    let fileSystem: any RaftFileSystem
    /// Committed entries of the segment read last, consecutive.
    private let cached = Mutex<[LogEntry]>([])

    init(path: String, fileSystem: any RaftFileSystem) {
        self.path = path
        self.fileSystem = fileSystem
    }

    func entries(from start: LogIndex, through end: LogIndex, maxCount: Int, maxBytes: Int) -> [LogEntry]? {
        guard start <= end, maxCount > 0 else { return nil }
        var segment = cached.withLock { $0 }
        if !Self.holds(segment, start) {
            guard let read = readSegment(holding: start, through: end), Self.holds(read, start) else { return nil }
            cached.withLock { $0 = read }
            segment = read
        }
        var result: [LogEntry] = []
        var size = 0
        var position = Int(start - segment[0].index)
        while position < segment.count, result.count < maxCount, segment[position].index <= end {
            size += segment[position].byteCount
            if !result.isEmpty, size > maxBytes { break }
            result.append(segment[position])
            position += 1
        }
        return result.isEmpty ? nil : result
    }

    private static func holds(_ entries: [LogEntry], _ index: LogIndex) -> Bool {
        guard let first = entries.first?.index else { return false }
        return index >= first && index - first < LogIndex(entries.count)
    }

    /// The entries of the segment holding `start`, from its first through `end` (committed when asked, so
    /// they never change), or nil when it cannot be read.
    private func readSegment(holding start: LogIndex, through end: LogIndex) -> [LogEntry]? {
        guard let names = try? fileSystem.list(path) else { return nil }
        // The segment holding `start`: the one with the highest first index at or below it.
        let holding = names.compactMap { name in RaftDirectory.firstIndex(fromSegmentName: name).map { (first: $0, name: name) } }
            .filter { $0.first <= start }
            .max { $0.first < $1.first }
        guard let holding, let bytes = try? fileSystem.read(path + "/" + holding.name),
              let header = StorageFormat.decodeSegmentHeader(bytes), header.firstIndex == holding.first else { return nil }
        var entries: [LogEntry] = []
        var offset = StorageFormat.segmentHeaderBytes
        while offset < bytes.count, let (record, next) = StorageFormat.readRecord(bytes, at: offset, version: header.version) {
            offset = next
            guard case .entry(let entry) = record else { continue }
            guard entry.index <= end else { break }
            // Records follow each other without gaps (a rewrite cut the file first).
            guard entry.index == holding.first + LogIndex(entries.count) else { return nil }
            entries.append(entry)
        }
        return entries
    }
}
