import ArgumentParser
import Foundation

/// `cohort snapshot`: backups of the coordination state.
struct Snapshot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up the coordination state (restore with `cohortd restore`).",
        subcommands: [Save.self]
    )

    /// `cohort snapshot save FILE`.
    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save a consistent snapshot of every store, lock and name to FILE (written atomically).",
            discussion: """
                The node takes a linearizable read point, so the file holds every write acknowledged before the
                call. The file is checked (length, checksum) before it replaces FILE. Exit codes: 0 saved, 1 an
                HTTP error or a damaged reply, 2 FILE cannot be written, 3 the node is unreachable.
                """
        )

        @OptionGroup var options: AdminOptions

        @Argument(help: "Where to write the snapshot.")
        var file: String

        @Option(name: .long, help: "How long the node may take to confirm its read point (e.g. 10s; up to 60s).")
        var timeout: String?

        /// What `--json` prints.
        struct Report: Encodable {
            var file: String
            var index: UInt64
            var term: UInt64
            var takenAt: UInt64
            var size: Int
            var keys: UInt64
            var locks: UInt64
            var names: UInt64

            enum CodingKeys: String, CodingKey {
                case file, index, term, size, keys, locks, names
                case takenAt = "taken_at"
            }
        }

        func run() async throws {
            let query = timeout.map { "?timeout=\(durationText($0))" } ?? ""
            let reply = try await call(options, "GET", "/v1/snapshot" + query)
            let bytes = [UInt8](reply.body)
            let header: ArchiveHeader
            do {
                header = try ArchiveHeader(checking: bytes)
            } catch {
                fail("/v1/snapshot: the reply is not a whole snapshot: \(error)", exitCode: 1)
            }
            do {
                try writeAtomically(reply.body, to: file)
            } catch {
                fail("\(error)", exitCode: 2)
            }
            let report = Report(
                file: file, index: header.index, term: header.term, takenAt: header.takenAt, size: bytes.count,
                keys: header.keys, locks: header.locks, names: header.names
            )
            if options.json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
                return
            }
            print("saved \(file)")
            print("  index  \(header.index) (term \(header.term), taken \(timestamp(milliseconds: header.takenAt)))")
            print("  size   \(bytes.count) bytes")
            print("  state  keys \(header.keys), locks \(header.locks), names \(header.names)")
        }
    }
}

/// The header of a snapshot file (the layout `SnapshotArchive` in the Cohort module writes: "CHRTSNAP",
/// u8 version 1, u64 index, term, taken_at, keys, locks, names, data length; the data; a CRC-32C of all
/// the bytes before), read and checked whole so a torn or damaged reply is never saved.
struct ArchiveHeader {
    var index: UInt64
    var term: UInt64
    var takenAt: UInt64
    var keys: UInt64
    var locks: UInt64
    var names: UInt64

    struct Damaged: Error, CustomStringConvertible {
        var description: String
    }

    static let headerBytes = 8 + 1 + 8 * 7

    init(checking bytes: [UInt8]) throws(Damaged) {
        guard bytes.count >= Self.headerBytes + 4, bytes.starts(with: Array("CHRTSNAP".utf8)) else {
            throw Damaged(description: "it does not start with a snapshot header")
        }
        guard bytes[8] == 1 else { throw Damaged(description: "format version \(bytes[8]), this cohort reads version 1") }
        func field(_ number: Int) -> UInt64 {
            bytes[(9 + number * 8)..<(17 + number * 8)].reduce(0) { $0 << 8 | UInt64($1) }
        }
        index = field(0)
        term = field(1)
        takenAt = field(2)
        keys = field(3)
        locks = field(4)
        names = field(5)
        let length = field(6)
        guard length == UInt64(bytes.count - Self.headerBytes - 4) else {
            throw Damaged(description: "\(bytes.count) bytes, the header says \(UInt64(Self.headerBytes + 4) &+ length)")
        }
        let stored = bytes.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard stored == CRC32C.checksum(bytes.dropLast(4)) else { throw Damaged(description: "it fails its checksum") }
    }
}

/// CRC-32C (Castagnoli), as the node computes a snapshot file's checksum.
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { byte in
        var crc = UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    static func checksum(_ bytes: some Collection<UInt8>) -> UInt32 {
        var crc = ~UInt32(0)
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }
}

/// Why the snapshot file could not be written.
struct SaveFailure: Error, CustomStringConvertible {
    var description: String
}

/// Writes `data` to `path` so that a crash leaves the old file or the new one, never a mix: a temporary
/// file beside it, fsync, rename over `path`, fsync of the directory.
func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent().path
    let temporary = directory + "/." + url.lastPathComponent + ".\(getpid()).tmp"
    guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
        throw SaveFailure(description: "cannot create \(temporary)")
    }
    do {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        defer { try? handle.close() }
        try handle.write(contentsOf: data)
        try handle.synchronize()
    } catch {
        try? FileManager.default.removeItem(atPath: temporary)
        throw SaveFailure(description: "cannot write \(temporary): \(error)")
    }
    guard rename(temporary, path) == 0 else {
        let code = errno
        try? FileManager.default.removeItem(atPath: temporary)
        throw SaveFailure(description: "cannot rename \(temporary) to \(path) (errno \(code))")
    }
    let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if descriptor >= 0 {
        _ = fsync(descriptor)
        close(descriptor)
    }
}
