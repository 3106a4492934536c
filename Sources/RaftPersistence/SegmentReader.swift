import RaftCore

/// Reads entries back from a ``FileRaftStorage`` directory's segment files for a core that let them go from
/// memory (``RaftCore/LogEntryReader``).
///
/// It takes no lock: the core asks only for committed, durable entries, whose records never change once
/// written (a truncation removes only uncommitted ones, and physically), so a concurrent append to the last
/// segment or a concurrent compaction can at worst make a read fail (a segment removed), and then the core
/// sends a snapshot instead. One read returns entries from one segment file.
struct SegmentReader: LogEntryReader {
    let path: String
    let fileSystem: any RaftFileSystem

    func entries(from start: LogIndex, through end: LogIndex, maxCount: Int, maxBytes: Int) -> [LogEntry]? {
        guard start <= end, maxCount > 0, let names = try? fileSystem.list(path) else { return nil }
        // The segment holding `start`: the one with the highest first index at or below it.
        let holding = names.compactMap { name in RaftDirectory.firstIndex(fromSegmentName: name).map { (first: $0, name: name) } }
            .filter { $0.first <= start }
            .max { $0.first < $1.first }
        guard let holding, let bytes = try? fileSystem.read(path + "/" + holding.name),
              let header = StorageFormat.decodeSegmentHeader(bytes), header.firstIndex == holding.first else { return nil }
        var result: [LogEntry] = []
        var size = 0
        var offset = StorageFormat.segmentHeaderBytes
        while offset < bytes.count, let (record, next) = StorageFormat.readRecord(bytes, at: offset, version: header.version) {
            offset = next
            guard case .entry(let entry) = record, entry.index >= start else { continue }
            guard entry.index <= end, result.count < maxCount else { break }
            size += entry.byteCount
            if !result.isEmpty, size > maxBytes { break }
            result.append(entry)
        }
        return result.isEmpty ? nil : result
    }
}
