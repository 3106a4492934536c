import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import NIOPosix
import PlaneCore
import Synchronization

/// Keeps a durable `kv.crdt` store's files (``CRDTStoreFiles``) up to date, off the callers' path: the
/// entries the store applies are queued in memory (``append(_:)`` returns at once), and ``run()`` writes
/// whatever has queued as one batch, fsyncs it, and waits for the next. When the log holds more records
/// than twice the plane's entries (and at least ``compactionMinimum``), or after the store missed changes
/// (``compact()``), the plane's whole state is written as the new snapshot and the log starts empty; the
/// same happens once more when the node stops.
///
/// What a crash can lose: the entries applied since the last batch reached the disk (a batch is written
/// as soon as the previous one is synced, typically within milliseconds). A write is acknowledged before
/// it is on disk; peers that received it give it back through anti-entropy after the restart.
final class CRDTStoreLog: Sendable {
    private struct Queue {
        var pending: [PlaneEntry] = []
        var compactionAsked = false
    }

    private struct Disk {
        /// The log's file descriptor, open for appending; -1 when it could not be opened; nil before the
        /// first write (nothing touches the disk until the store writes).
        var descriptor: Int32?
        /// The log's bytes to keep when it is opened (its whole records).
        var keepLength: Int
        var records: Int
        /// The last write failed (logged once until one succeeds again).
        var failing = false
    }

    static let compactionMinimum = 4096

    let files: CRDTStoreFiles
    private let plane: any StorePlane
    private let logger: Logger
    private let queue = Mutex(Queue())
    private let disk: Mutex<Disk>
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>

    /// A writer continuing the files `loaded` came from: a torn tail beyond `loaded.logLength` is cut off.
    init(files: CRDTStoreFiles, loaded: CRDTStoreFiles.Loaded, plane: any StorePlane, logger: Logger) {
        self.files = files
        self.plane = plane
        self.logger = logger
        disk = Mutex(Disk(keepLength: loaded.logLength, records: loaded.logRecords))
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues entries the store applied; ``run()`` writes them.
    func append(_ entries: [PlaneEntry]) {
        guard !entries.isEmpty else { return }
        queue.withLock { $0.pending += entries }
        wake.yield()
    }

    /// Asks for a snapshot of the plane's whole state (changes were missed, or the log grew).
    func compact() {
        queue.withLock { $0.compactionAsked = true }
        wake.yield()
    }

    /// Writes queued batches until cancelled, then a last snapshot. The writes and fsyncs run on NIO's
    /// blocking-I/O thread pool, never on a cooperative thread (two on a 2-core machine: one held by an
    /// fsync would stall half of every task).
    func run() async {
        await untilGracefulShutdown { [self] in
            for await _ in wakes {
                await offCooperativePool { self.flush() }
            }
        }
        await offCooperativePool { self.writeSnapshot() }
        disk.withLock { disk in
            if let descriptor = disk.descriptor, descriptor >= 0 { close(descriptor) }
            disk.descriptor = -1
        }
    }

    /// Runs blocking file work on NIO's thread pool (inline if the pool is not running).
    private func offCooperativePool(_ work: @escaping @Sendable () -> Void) async {
        do {
            try await NIOThreadPool.singleton.runIfActive(work)
        } catch {
            work()
        }
    }

    /// Writes what is queued now (a batch, or a snapshot), synchronously.
    func flush() {
        let (batch, compaction) = queue.withLock { queue in
            defer { queue = Queue() }
            return (queue.pending, queue.compactionAsked)
        }
        let records = disk.withLock { $0.records }
        if compaction || records + batch.count > max(Self.compactionMinimum, 2 * plane.state.entries.count) {
            writeSnapshot()
            return
        }
        guard !batch.isEmpty else { return }
        var bytes: [UInt8] = []
        for entry in batch { bytes += CRDTStoreFiles.record(entry) }
        disk.withLock { disk in
            if disk.descriptor == nil { disk.descriptor = Self.openLog(files, keeping: disk.keepLength, logger: logger) }
            guard let descriptor = disk.descriptor, descriptor >= 0 else { return }
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written == bytes.count, fsync(descriptor) == 0 else {
                report(&disk, "cannot append to the store's log", path: files.logPath)
                // A torn append would make later records follow a bad one: start over from a snapshot.
                queue.withLock { $0.compactionAsked = true }
                return
            }
            disk.records += batch.count
            disk.failing = false
        }
    }

    /// Replaces the snapshot with the plane's whole state and empties the log.
    private func writeSnapshot() {
        // Everything queued is in the plane's state already (the queue lags it).
        queue.withLock { $0.pending = [] }
        let entries = plane.state.entries.map(\.value)
        disk.withLock { disk in
            do {
                try DurableFile.replace(CRDTStoreFiles.snapshotName, in: files.directory, with: CRDTStoreFiles.file(entries))
                try DurableFile.replace(CRDTStoreFiles.logName, in: files.directory, with: CRDTStoreFiles.magic)
            } catch {
                report(&disk, "cannot write the store's snapshot", path: files.snapshotPath, error: error)
                return
            }
            if let descriptor = disk.descriptor, descriptor >= 0 { close(descriptor) }
            disk.descriptor = nil
            disk.keepLength = CRDTStoreFiles.magic.count
            disk.records = 0
            disk.failing = false
        }
    }

    private func report(_ disk: inout Disk, _ message: String, path: String, error: (any Error)? = nil) {
        guard !disk.failing else { return }
        disk.failing = true
        logger.error("\(message); recent writes are held in memory only until it succeeds", metadata: [
            "path": "\(path)", "error": "\(error.map { "\($0)" } ?? String(cString: strerror(errno)))",
        ])
    }

    /// Opens the log for appending after its first `length` bytes (creating it with its header when
    /// missing or shorter than the header).
    private static func openLog(_ files: CRDTStoreFiles, keeping length: Int, logger: Logger) -> Int32 {
        do {
            if length < CRDTStoreFiles.magic.count {
                try DurableFile.replace(CRDTStoreFiles.logName, in: files.directory, with: CRDTStoreFiles.magic)
            }
        } catch {
            logger.error("cannot create the store's log", metadata: ["path": "\(files.logPath)", "error": "\(error)"])
            return -1
        }
        let descriptor = open(files.logPath, O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            logger.error("cannot open the store's log", metadata: ["path": "\(files.logPath)", "error": "\(String(cString: strerror(errno)))"])
            return -1
        }
        let keep = max(length, CRDTStoreFiles.magic.count)
        // Cuts a torn tail off, so the next record follows the last whole one.
        if ftruncate(descriptor, off_t(keep)) != 0 || lseek(descriptor, off_t(keep), SEEK_SET) < 0 {
            logger.error("cannot position the store's log", metadata: ["path": "\(files.logPath)"])
            close(descriptor)
            return -1
        }
        return descriptor
    }
}
