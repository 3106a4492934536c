import ArgumentParser
import CohortCore
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
            let header: SnapshotArchiveHeader
            do {
                header = try SnapshotArchiveHeader.checking(bytes).header
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
